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
use crate::jobs::model::{JobPatch, NewJob, NewJobLog};
use crate::jobs::service as jobs;
use crate::storage::backup;
use crate::storage::connection::Pragmas;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/admin/backups", get(list).post(start))
        .route("/api/v1/admin/maintenance", axum::routing::post(maintenance))
}

/// Runs the maintenance steps now and answers what each did.
async fn maintenance(State(s): State<SharedState>) -> Json<crate::maintenance::Report> {
    Json(crate::maintenance::run(&s.storage, &s.summaries, &s.config.maintenance).await)
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
    let input = NewJob {
        job_type: "backup".into(),
        mode: None,
        target_task_id: None,
        params: json!({"include_caches": b.include_caches}),
        metadata: json!({}),
    };
    let job = jobs::create(&s.storage, None, input).await?;
    let (st, id) = (s.clone(), job.job_id.clone());
    tokio::spawn(async move {
        if let Err(e) = run(&st, &id, b.include_caches).await {
            tracing::error!(job = %id, cause = %e.operator_message(), "backup failed");
            let failed =
                JobPatch { status: "failed".into(), error: Some(e.message.clone()), result: None, stats: None };
            let _ = jobs::patch(&st.storage, &st.jobs, &id, failed).await;
        }
    });
    Ok((StatusCode::ACCEPTED, Json(serde_json::to_value(job).map_err(AppError::internal)?)))
}

async fn run(s: &SharedState, id: &str, include_caches: bool) -> AppResult<()> {
    let patch = |status: &str, stats: Option<Value>, result: Option<Value>| JobPatch {
        status: status.into(),
        error: None,
        result,
        stats,
    };
    jobs::patch(&s.storage, &s.jobs, id, patch("running", None, None)).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, usize)>();
    let (root, pragmas) = (s.storage.root.clone(), Pragmas::from_config(&s.config.storage));
    let work = tokio::task::spawn_blocking(move || {
        backup::backup(&root, &pragmas, include_caches, |done, total| {
            let _ = tx.send((done, total));
        })
    });
    // Progress in the job's stats every 25 files (and at the end).
    while let Some((done, total)) = rx.recv().await {
        if done % 25 == 0 || done == total {
            jobs::patch(&s.storage, &s.jobs, id, patch("running", Some(json!({"done": done, "total": total})), None))
                .await?;
        }
    }
    let dir = work.await.map_err(AppError::internal)??;
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let log = NewJobLog { level: "info".into(), message: format!("backup {name} written"), metadata: None };
    jobs::append_log(&s.storage, &s.jobs, id, log).await?;
    jobs::patch(&s.storage, &s.jobs, id, patch("completed", None, Some(json!({"backup": name})))).await?;
    Ok(())
}

/// Complete backups (with a manifest), newest first.
async fn list(State(s): State<SharedState>) -> AppResult<Json<Value>> {
    let dir = s.storage.root.backups();
    let items = tokio::task::spawn_blocking(move || {
        let mut items: Vec<Value> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .filter_map(|e| {
                let m: backup::Manifest =
                    serde_json::from_slice(&std::fs::read(e.path().join("manifest.json")).ok()?).ok()?;
                let bytes: u64 = m.files.iter().map(|f| f.bytes).sum();
                Some(
                    json!({"name": e.file_name().to_string_lossy(), "created_at": m.created_at, "complete": m.complete,
                            "files": m.files.len(), "bytes": bytes, "include_caches": m.include_caches}),
                )
            })
            .collect();
        items.sort_by(|a, b| b["created_at"].as_str().cmp(&a["created_at"].as_str()));
        items
    })
    .await
    .map_err(AppError::internal)?;
    Ok(Json(json!({"items": items, "next_cursor": null})))
}
