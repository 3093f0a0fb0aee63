//! Liveness and readiness.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::SharedState;
use crate::error::AppError;

/// Liveness: answers while the process serves. Also reports whether DB_ROOT is writable,
/// which an operator wants to see before writes start failing.
pub async fn health(State(state): State<SharedState>) -> Json<Value> {
    let temp = state.storage.root.temp();
    let writable = tokio::task::spawn_blocking(move || {
        let probe = temp.join(format!(".health-{}", uuid::Uuid::now_v7()));
        let ok = std::fs::write(&probe, b"ok").is_ok();
        let _ = std::fs::remove_file(&probe);
        ok
    })
    .await
    .unwrap_or(false);
    let shards = &state.storage.shards;
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": state.started.elapsed().as_secs(),
        "open_shards": shards.open_shards(),
        "db_root_writable": writable,
    }))
}

/// Readiness: 200 once start-up work is done, 503 before.
pub async fn ready(State(state): State<SharedState>) -> Result<Json<Value>, AppError> {
    if state.ready.load(Ordering::Acquire) {
        Ok(Json(json!({"ready": true})))
    } else {
        Err(AppError::new(503, "not_ready", "server", "start-up work is still running").retryable())
    }
}
