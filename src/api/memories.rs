//! `/api/v1/sessions/{id}/memories`: create, list, get (counts the access), delete, search.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;
use uuid::Uuid;

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::projects::list_body;
use super::SharedState;
use crate::error::AppResult;
use crate::session::memories::{self, model::*};
use crate::storage::parse_id;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/sessions/{id}/memories", get(list).post(create))
        .route("/api/v1/sessions/{id}/memories/search", post(search))
        .route("/api/v1/sessions/{id}/memories/{mid}", get(read).delete(remove))
}

/// Anything but a UUID is 404, as an unknown id would be.
fn ids(session: &str, memory: Option<&str>) -> AppResult<(Uuid, Option<Uuid>)> {
    let s = parse_id(session, "session", "session_not_found")?;
    let m = memory.map(|m| parse_id(m, "memory", "memory_not_found")).transpose()?;
    Ok((s, m))
}

async fn create(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<NewMemory>,
) -> AppResult<(StatusCode, Json<Memory>)> {
    let (id, _) = ids(&id, None)?;
    let m = memories::create(&s.storage, &s.embedder, id, body).await?;
    Ok((StatusCode::CREATED, Json(m)))
}

async fn list(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(f): ApiQuery<MemoryFilter>,
) -> AppResult<Json<Value>> {
    let (id, _) = ids(&id, None)?;
    let (items, next) = memories::list(&s.storage, id, f, s.config.limits.max_page).await?;
    Ok(list_body(items, next))
}

async fn read(State(s): State<SharedState>, ApiPath((id, mid)): ApiPath<(String, String)>) -> AppResult<Json<Memory>> {
    let (id, mid) = ids(&id, Some(&mid))?;
    Ok(Json(memories::get(&s.storage, id, mid.expect("memory id parsed")).await?))
}

async fn remove(State(s): State<SharedState>, ApiPath((id, mid)): ApiPath<(String, String)>) -> AppResult<StatusCode> {
    let (id, mid) = ids(&id, Some(&mid))?;
    memories::delete(&s.storage, id, mid.expect("memory id parsed")).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn search(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<SearchRequest>,
) -> AppResult<Json<Value>> {
    let (id, _) = ids(&id, None)?;
    let hits = memories::search(&s.storage, &s.embedder, id, body).await?;
    Ok(Json(serde_json::json!({ "items": hits })))
}
