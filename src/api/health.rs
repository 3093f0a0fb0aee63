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
    let writable = writable(state.storage.root.temp()).await;
    let shards = &state.storage.shards;
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": state.started.elapsed().as_secs(),
        "open_shards": shards.open_shards(),
        "db_root_writable": writable,
    }))
}

/// Whether DB_ROOT takes a write, probed at most every 5 s per root: a health check is
/// polled often and must stay cheap.
async fn writable(temp: std::path::PathBuf) -> bool {
    type Probes = parking_lot::Mutex<std::collections::HashMap<std::path::PathBuf, (std::time::Instant, bool)>>;
    static LAST: std::sync::OnceLock<Probes> = std::sync::OnceLock::new();
    let last = LAST.get_or_init(Default::default);
    if let Some((at, ok)) = last.lock().get(&temp) {
        if at.elapsed() < std::time::Duration::from_secs(5) {
            return *ok;
        }
    }
    let dir = temp.clone();
    let ok = tokio::task::spawn_blocking(move || {
        let probe = dir.join(format!(".health-{}", uuid::Uuid::now_v7()));
        let ok = std::fs::write(&probe, b"ok").is_ok();
        let _ = std::fs::remove_file(&probe);
        ok
    })
    .await
    .unwrap_or(false);
    last.lock().insert(temp, (std::time::Instant::now(), ok));
    ok
}

/// Readiness: 200 once start-up work is done, 503 before.
pub async fn ready(State(state): State<SharedState>) -> Result<Json<Value>, AppError> {
    if state.ready.load(Ordering::Acquire) {
        Ok(Json(json!({"ready": true})))
    } else {
        Err(AppError::new(503, "not_ready", "server", "start-up work is still running").retryable())
    }
}
