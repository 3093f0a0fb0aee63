//! Projects: HeartRule's unit of work and the unit users share. One shard file per project
//! (`projects/project_<uuid>.sqlite`) holds its meta, files, draft and versions (and, with
//! the plan issue, its task tree); the registry indexes it.

pub mod demo;
pub mod drafts;
pub mod files;
pub mod model;
pub mod reindex;
pub mod service;
pub mod store;
pub mod templates;
pub mod transfer;
pub mod versions;
