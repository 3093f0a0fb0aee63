//! Cross-session full-text search (`main/search.sqlite`).
//!
//! The append path never touches this file: it enqueues what it indexed into [`SearchFeed`],
//! and a background task writes batches at least once a second (DESIGN.md §1.2). The
//! per-session `watermarks` record the highest seq indexed, so a start after a crash catches
//! up from the shards, and `reindex` rebuilds everything.

pub mod feed;
pub mod feeder;
pub mod query;
pub mod store;

pub use feed::{Entry, SearchFeed};
pub use query::fts_query;
