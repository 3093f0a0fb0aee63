//! The plan of a project: `/api/v1/projects/{id}/tasks…` and `…/snapshots…`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{ApiJson, ApiPath, ApiQuery, Page};
use super::projects::{list_body, project_id};
use super::SharedState;
use crate::error::{AppError, AppResult};
use crate::plan::model::{Move, NewTask, Snapshot, Task, TaskPatch, TreeDoc};
use crate::plan::service as plan;

pub fn routes() -> Router<SharedState> {
    let t = "/api/v1/projects/{id}/tasks";
    Router::new()
        .route(t, get(tree).post(create).put(upsert))
        .route(&format!("{t}/{{tid}}"), get(read).patch(patch).delete(remove))
        .route(&format!("{t}/{{tid}}/move"), post(move_task))
        .route(&format!("{t}/{{tid}}/dependencies"), get(deps).post(add_dep))
        .route(&format!("{t}/{{tid}}/dependencies/{{dep}}"), delete(remove_dep))
        .route("/api/v1/projects/{id}/snapshots", get(snapshots).post(snapshot))
        .route("/api/v1/projects/{id}/snapshots/{sid}", get(read_snapshot))
        .route("/api/v1/projects/{id}/snapshots/{sid}/restore", post(restore))
}

/// Task and snapshot ids are integers; anything else cannot exist.
fn int_id(raw: &str, thing: &'static str, code: &'static str) -> AppResult<i64> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| AppError::not_found(code, thing, format!("no {thing} {raw:?}")))
}

fn task_id(raw: &str) -> AppResult<i64> {
    int_id(raw, "task", "task_not_found")
}

#[derive(Deserialize)]
struct TreeQuery {
    root: Option<i64>,
    max_depth: Option<i64>,
}

async fn tree(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<TreeQuery>,
) -> AppResult<Json<Value>> {
    let tasks = plan::tree(&s.storage, project_id(&id)?, q.root, q.max_depth).await?;
    Ok(Json(json!({ "tasks": tasks })))
}

async fn create(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<NewTask>,
) -> AppResult<(StatusCode, Json<Task>)> {
    Ok((StatusCode::CREATED, Json(plan::create(&s.storage, project_id(&id)?, b).await?)))
}

async fn upsert(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<TreeDoc>,
) -> AppResult<Json<Value>> {
    let tasks = plan::upsert(&s.storage, project_id(&id)?, b).await?;
    Ok(Json(json!({ "tasks": tasks })))
}

async fn read(State(s): State<SharedState>, ApiPath((id, tid)): ApiPath<(String, String)>) -> AppResult<Json<Task>> {
    Ok(Json(plan::get(&s.storage, project_id(&id)?, task_id(&tid)?).await?))
}

async fn patch(
    State(s): State<SharedState>,
    ApiPath((id, tid)): ApiPath<(String, String)>,
    ApiJson(b): ApiJson<TaskPatch>,
) -> AppResult<Json<Task>> {
    Ok(Json(plan::patch(&s.storage, project_id(&id)?, task_id(&tid)?, b).await?))
}

async fn remove(State(s): State<SharedState>, ApiPath((id, tid)): ApiPath<(String, String)>) -> AppResult<Json<Value>> {
    let n = plan::delete(&s.storage, project_id(&id)?, task_id(&tid)?).await?;
    Ok(Json(json!({ "deleted": n })))
}

async fn move_task(
    State(s): State<SharedState>,
    ApiPath((id, tid)): ApiPath<(String, String)>,
    ApiJson(b): ApiJson<Move>,
) -> AppResult<Json<Task>> {
    Ok(Json(plan::move_task(&s.storage, project_id(&id)?, task_id(&tid)?, b).await?))
}

async fn deps(State(s): State<SharedState>, ApiPath((id, tid)): ApiPath<(String, String)>) -> AppResult<Json<Value>> {
    let tid = task_id(&tid)?;
    let d = plan::dependencies(&s.storage, project_id(&id)?, tid).await?;
    Ok(Json(json!({ "task_id": tid, "depends_on": d })))
}

#[derive(Deserialize)]
struct DepBody {
    depends_on: i64,
}

async fn add_dep(
    State(s): State<SharedState>,
    ApiPath((id, tid)): ApiPath<(String, String)>,
    ApiJson(b): ApiJson<DepBody>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let tid = task_id(&tid)?;
    let d = plan::add_dependency(&s.storage, project_id(&id)?, tid, b.depends_on).await?;
    Ok((StatusCode::CREATED, Json(json!({ "task_id": tid, "depends_on": d }))))
}

async fn remove_dep(
    State(s): State<SharedState>,
    ApiPath((id, tid, dep)): ApiPath<(String, String, String)>,
) -> AppResult<StatusCode> {
    let dep = int_id(&dep, "dependency", "dependency_not_found")?;
    plan::remove_dependency(&s.storage, project_id(&id)?, task_id(&tid)?, dep).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn snapshots(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(p): ApiQuery<Page>,
) -> AppResult<Json<Value>> {
    let (items, next) =
        plan::list_snapshots(&s.storage, project_id(&id)?, p.cursor, p.limit, s.config.limits.max_page).await?;
    Ok(list_body(items, next))
}

#[derive(Deserialize, Default)]
struct SnapshotBody {
    note: Option<String>,
}

async fn snapshot(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    body: axum::body::Bytes,
) -> AppResult<(StatusCode, Json<Snapshot>)> {
    let b: SnapshotBody = if body.iter().all(u8::is_ascii_whitespace) {
        SnapshotBody::default()
    } else {
        super::extract::parse_json(&body)?
    };
    Ok((StatusCode::CREATED, Json(plan::create_snapshot(&s.storage, project_id(&id)?, b.note).await?)))
}

async fn read_snapshot(
    State(s): State<SharedState>,
    ApiPath((id, sid)): ApiPath<(String, String)>,
) -> AppResult<Json<Snapshot>> {
    let sid = int_id(&sid, "snapshot", "snapshot_not_found")?;
    Ok(Json(plan::get_snapshot(&s.storage, project_id(&id)?, sid).await?))
}

async fn restore(
    State(s): State<SharedState>,
    ApiPath((id, sid)): ApiPath<(String, String)>,
) -> AppResult<Json<Value>> {
    let sid = int_id(&sid, "snapshot", "snapshot_not_found")?;
    let id = project_id(&id)?;
    let before = plan::restore_snapshot(&s.storage, id, sid).await?;
    let tasks = plan::tree(&s.storage, id, None, None).await?;
    Ok(Json(json!({ "restored": sid, "snapshot_before": before, "tasks": tasks })))
}
