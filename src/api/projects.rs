//! `/api/v1/projects`: create, list, get, patch, delete, archive/deprecate/restore.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use uuid::Uuid;

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::SharedState;
use crate::error::AppResult;
use crate::project::model::{NewProject, Project, ProjectFilter, ProjectPatch};
use crate::project::service::{self, StatusChange};
use crate::storage::parse_id;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/projects", get(list).post(create))
        .route("/api/v1/projects/{id}", get(read).patch(patch).delete(remove))
        .route("/api/v1/projects/{id}/archive", post(archive))
        .route("/api/v1/projects/{id}/deprecate", post(deprecate))
        .route("/api/v1/projects/{id}/restore", post(restore))
}

/// Parses a project id from the path: anything but a UUID is 404 `project_not_found`.
pub fn project_id(raw: &str) -> AppResult<Uuid> {
    parse_id(raw, "project", "project_not_found")
}

/// `{"items": [...], "next_cursor": …}`, the shape of every list.
pub fn list_body<T: serde::Serialize>(items: Vec<T>, next: Option<String>) -> Json<Value> {
    Json(json!({"items": items, "next_cursor": next}))
}

async fn create(
    State(s): State<SharedState>,
    caller: Option<axum::Extension<crate::auth::Caller>>,
    ApiJson(body): ApiJson<NewProject>,
) -> AppResult<(StatusCode, Json<Project>)> {
    // The owner is the caller (none without authentication).
    let owner = caller.map(|axum::Extension(c)| c.user_id);
    let p = service::create(&s.storage, body, owner).await?;
    Ok((StatusCode::CREATED, Json(p)))
}

async fn list(State(s): State<SharedState>, ApiQuery(f): ApiQuery<ProjectFilter>) -> AppResult<Json<Value>> {
    let (items, next) = service::list(&s.storage, f, s.config.limits.max_page).await?;
    Ok(list_body(items, next))
}

async fn read(State(s): State<SharedState>, ApiPath(id): ApiPath<String>) -> AppResult<Json<Project>> {
    Ok(Json(service::get(&s.storage, project_id(&id)?).await?))
}

async fn patch(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ProjectPatch>,
) -> AppResult<Json<Project>> {
    let id = project_id(&id)?;
    service::get(&s.storage, id).await?;
    Ok(Json(service::patch(&s.storage, id, body).await?))
}

async fn remove(State(s): State<SharedState>, ApiPath(id): ApiPath<String>) -> AppResult<StatusCode> {
    service::delete(&s.storage, project_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn status_change(s: SharedState, id: &str, change: StatusChange) -> AppResult<Json<Project>> {
    let id = project_id(id)?;
    service::get(&s.storage, id).await?;
    Ok(Json(service::change_status(&s.storage, id, change).await?))
}

async fn archive(State(s): State<SharedState>, ApiPath(id): ApiPath<String>) -> AppResult<Json<Project>> {
    status_change(s, &id, StatusChange::Archive).await
}

async fn deprecate(State(s): State<SharedState>, ApiPath(id): ApiPath<String>) -> AppResult<Json<Project>> {
    status_change(s, &id, StatusChange::Deprecate).await
}

async fn restore(State(s): State<SharedState>, ApiPath(id): ApiPath<String>) -> AppResult<Json<Project>> {
    status_change(s, &id, StatusChange::Restore).await
}
