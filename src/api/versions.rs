//! Drafts and versions: `/api/v1/projects/{id}/draft…` and `…/versions…`, plus the
//! project-less `POST /api/v1/scripts/validate`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::extract::{ApiJson, ApiPath, ApiQuery, Page};
use super::projects::{list_body, project_id};
use super::SharedState;
use crate::error::AppResult;
use crate::project::drafts::{self, PublishRequest, Validation};
use crate::project::model::{Draft, SetFile, Version};
use crate::project::versions::Diff;
use crate::script::{self, Limits, Report};

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/projects/{id}/draft", get(get_draft).put(put_draft))
        .route("/api/v1/projects/{id}/draft/validate", post(validate_draft))
        .route("/api/v1/projects/{id}/versions", get(list).post(publish))
        .route("/api/v1/projects/{id}/versions/{vid}", get(read))
        .route("/api/v1/projects/{id}/versions/{a}/diff/{b}", get(diff))
        .route("/api/v1/projects/{id}/versions/{vid}/rollback", post(rollback))
        .route("/api/v1/scripts/validate", post(validate_script))
}

fn limits(s: &SharedState) -> Limits {
    Limits::from_config(&s.config.limits)
}

async fn get_draft(State(s): State<SharedState>, ApiPath(id): ApiPath<String>) -> AppResult<Json<Draft>> {
    Ok(Json(drafts::get_draft(&s.storage, project_id(&id)?).await?))
}

#[derive(Deserialize)]
struct DraftBody {
    files: Vec<SetFile>,
    updated_by: Option<String>,
}

async fn put_draft(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<DraftBody>,
) -> AppResult<Json<Draft>> {
    let id = project_id(&id)?;
    crate::project::service::get(&s.storage, id).await?;
    Ok(Json(drafts::put_draft(&s.storage, id, b.files, b.updated_by, limits(&s)).await?))
}

async fn validate_draft(State(s): State<SharedState>, ApiPath(id): ApiPath<String>) -> AppResult<Json<Validation>> {
    let id = project_id(&id)?;
    crate::project::service::get(&s.storage, id).await?;
    Ok(Json(drafts::validate_draft(&s.storage, id, limits(&s)).await?))
}

async fn list(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(p): ApiQuery<Page>,
) -> AppResult<Json<Value>> {
    let (items, next) =
        drafts::list_versions(&s.storage, project_id(&id)?, p.cursor, p.limit, s.config.limits.max_page).await?;
    Ok(list_body(items, next))
}

#[derive(Deserialize, Default)]
struct PublishBody {
    version_number: Option<String>,
    #[serde(default)]
    release_note: String,
    published_by: Option<String>,
}

async fn publish(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    body: axum::body::Bytes,
) -> AppResult<(StatusCode, Json<Version>)> {
    let id = project_id(&id)?;
    crate::project::service::get(&s.storage, id).await?;
    // The body is optional: an empty POST publishes with the defaults.
    let b: PublishBody = if body.iter().all(u8::is_ascii_whitespace) {
        PublishBody::default()
    } else {
        super::extract::parse_json(&body)?
    };
    let req = PublishRequest { version_number: b.version_number, release_note: b.release_note };
    let v = drafts::publish(&s.storage, id, req, b.published_by, limits(&s)).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

async fn read(State(s): State<SharedState>, ApiPath((id, vid)): ApiPath<(String, String)>) -> AppResult<Json<Version>> {
    Ok(Json(drafts::get_version(&s.storage, project_id(&id)?, vid).await?))
}

async fn diff(
    State(s): State<SharedState>,
    ApiPath((id, a, b)): ApiPath<(String, String, String)>,
) -> AppResult<Json<Diff>> {
    Ok(Json(drafts::diff(&s.storage, project_id(&id)?, a, b).await?))
}

async fn rollback(
    State(s): State<SharedState>,
    ApiPath((id, vid)): ApiPath<(String, String)>,
) -> AppResult<(StatusCode, Json<Version>)> {
    let id = project_id(&id)?;
    crate::project::service::get(&s.storage, id).await?;
    let v = drafts::rollback(&s.storage, id, vid, None, limits(&s)).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

#[derive(Deserialize)]
struct ScriptBody {
    yaml: String,
    file: Option<String>,
}

/// Always 200: YAML that does not parse is `valid: false` with the parse error's position.
async fn validate_script(State(s): State<SharedState>, ApiJson(b): ApiJson<ScriptBody>) -> Json<Report> {
    Json(script::validate(&b.yaml, b.file.as_deref(), &limits(&s)))
}
