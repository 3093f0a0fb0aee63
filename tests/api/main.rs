//! One integration binary: every test starts the real server on 127.0.0.1:0 with a temp
//! DB_ROOT and calls it over HTTP (or runs the built `planbase` binary).

mod auth;
mod backup;
mod chat;
mod chat_runs;
mod chat_stream;
mod cli;
mod compat;
mod corruption;
mod errors;
mod files;
mod helpers;
mod jobs;
mod llm_mock;
mod memories;
mod messages;
mod metrics;
mod openapi;
mod plan;
mod projects;
mod schedule;
mod search;
mod server;
mod sessions;
mod transfer;
mod ui;
mod versions;
