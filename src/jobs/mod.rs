//! Jobs, job logs and action logs (DESIGN.md §4 and §5; GAgent's decomposition jobs and
//! plan action logs).
//!
//! A job bound to a project lives in the project's shard; an unbound one in
//! jobs/system_jobs.sqlite; the registry's `job_index` says which. Logs are redacted
//! ([`redact`]) before they are stored. [`JobEvents`] wakes the job streams of this process.

pub mod actions;
pub mod events;
pub mod index;
pub mod model;
pub mod redact;
pub mod service;
pub mod store;
pub mod stream;

pub use events::JobEvents;
