//! Plans: a project's task tree (materialized paths), task dependencies and snapshots, all
//! in the project's shard (seed 003's plan store, without its defects: see `tree`).

pub mod doc;
pub mod model;
pub mod service;
pub mod store;
pub mod tree;

#[cfg(test)]
mod tests;
