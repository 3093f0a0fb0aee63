//! Chat sessions: one shard per session (`sessions/session_<uuid>.sqlite`) holding meta,
//! messages, state and variables, indexed by a registry row whose summary (message_count,
//! last_message_at, title) is fed behind the append path (DESIGN.md §1, §5).

pub mod action_runs;
pub mod chat;
pub mod memories;
pub mod messages;
pub mod model;
pub mod recover;
pub mod search;
pub mod service;
pub mod store;
pub mod summary;
pub mod variables;

#[cfg(test)]
mod tests;
