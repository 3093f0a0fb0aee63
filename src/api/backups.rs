//! `POST /api/v1/admin/backups` (runs a backup as a job; progress in the job's `stats` and
//! logs), `GET /api/v1/admin/backups` (the complete backups, newest first) and
//! `POST /api/v1/admin/maintenance`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::SharedState;
use crate::error::{AppError, AppResult};
use crate::maintenance::backups;
use crate::storage::connection::Pragmas;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/admin/backups", get(list).post(start))
        .route("/api/v1/admin/maintenance", axum::routing::post(maintenance))
}

/// 202 with the `maintenance` job; the steps run behind it and their report becomes the
/// job's `result`. 409 `maintenance_running` while a run is under way.
async fn maintenance(State(s): State<SharedState>) -> AppResult<(StatusCode, Json<Value>)> {
    let (job, _run) = crate::maintenance::job::start(&s, false).await?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::to_value(job).map_err(AppError::internal)?)))
}

#[derive(Deserialize, Default)]
struct StartBody {
    #[serde(default)]
    include_caches: bool,
}

/// 202 with the job; the backup runs behind it (writes keep going meanwhile).
async fn start(State(s): State<SharedState>, body: axum::body::Bytes) -> AppResult<(StatusCode, Json<Value>)> {
    let b: StartBody = if body.iter().all(u8::is_ascii_whitespace) {
        StartBody::default()
    } else {
        super::extract::parse_json(&body)?
    };
    let job = backups::create_job(&s.storage, b.include_caches, false).await?;
    let (st, id) = (s.clone(), job.job_id.clone());
    tokio::spawn(async move {
        let pragmas = Pragmas::from_config(&st.config.storage);
        let keep = st.config.maintenance.backup_keep;
        // The failure is recorded on the job (and logged) by run_job.
        let _ = backups::run_job(&st.storage, &st.jobs, &pragmas, &id, b.include_caches, keep).await;
    });
    Ok((StatusCode::ACCEPTED, Json(serde_json::to_value(job).map_err(AppError::internal)?)))
}

/// Complete backups (with a manifest), newest first.
async fn list(State(s): State<SharedState>) -> AppResult<Json<Value>> {
    let dir = s.storage.root.backups();
    let items = tokio::task::spawn_blocking(move || {
        backups::complete_backups(&dir)
            .into_iter()
            .map(|(path, m)| {
                let bytes: u64 = m.files.iter().map(|f| f.bytes).sum();
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                json!({"name": name, "created_at": m.created_at, "complete": m.complete,
                       "files": m.files.len(), "bytes": bytes, "include_caches": m.include_caches})
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(AppError::internal)?;
    Ok(Json(json!({"items": items, "next_cursor": null})))
}
