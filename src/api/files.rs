//! `/api/v1/projects/{id}/files`: a project's script files.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

use super::extract::{ApiJson, ApiPath, ApiQuery, Page};
use super::projects::{list_body, project_id};
use super::SharedState;
use crate::error::AppResult;
use crate::project::files;
use crate::project::model::{FileInput, ProjectFile};
use crate::script::Limits;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/projects/{id}/files", get(list).post(create))
        .route("/api/v1/projects/{id}/files/{file_id}", get(read).put(update).delete(remove))
}

async fn list(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(p): ApiQuery<Page>,
) -> AppResult<Json<Value>> {
    let (items, next) = files::list(&s.storage, project_id(&id)?, p.cursor, p.limit, s.config.limits.max_page).await?;
    Ok(list_body(items, next))
}

async fn create(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<FileInput>,
) -> AppResult<(StatusCode, Json<ProjectFile>)> {
    let limits = Limits::from_config(&s.config.limits);
    let f = files::save(&s.storage, project_id(&id)?, None, body, limits).await?;
    Ok((StatusCode::CREATED, Json(f)))
}

async fn read(
    State(s): State<SharedState>,
    ApiPath((id, file_id)): ApiPath<(String, String)>,
) -> AppResult<Json<ProjectFile>> {
    Ok(Json(files::get(&s.storage, project_id(&id)?, file_id).await?))
}

async fn update(
    State(s): State<SharedState>,
    ApiPath((id, file_id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<FileInput>,
) -> AppResult<Json<ProjectFile>> {
    let limits = Limits::from_config(&s.config.limits);
    Ok(Json(files::save(&s.storage, project_id(&id)?, Some(file_id), body, limits).await?))
}

async fn remove(
    State(s): State<SharedState>,
    ApiPath((id, file_id)): ApiPath<(String, String)>,
) -> AppResult<StatusCode> {
    files::delete(&s.storage, project_id(&id)?, file_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
