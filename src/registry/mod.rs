//! The registry (`main/registry.sqlite`): the index of projects, sessions and jobs. Everything
//! in it can be rebuilt from the shards; this module holds its SQL.

pub mod jobs;
pub mod projects;
pub mod rebuild;
pub mod sessions;
pub mod store;
