//! `/api/v1/sessions/{id}/action-runs` and `/api/v1/sessions/{id}/state`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

use super::extract::{ApiJson, ApiPath, ApiQuery, Page};
use super::projects::list_body;
use super::SharedState;
use crate::error::AppResult;
use crate::session::action_runs::{self, ActionRun, NewRun, RunUpdate};
use crate::session::service::{self, session_id};

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/sessions/{id}/state", get(state))
        .route("/api/v1/sessions/{id}/action-runs", get(list).post(create))
        .route("/api/v1/sessions/{id}/action-runs/{run_id}", get(read).patch(update))
}

/// The session's execution state: status, execution_status, position and variables.
async fn state(State(s): State<SharedState>, ApiPath(id): ApiPath<String>) -> AppResult<Json<Value>> {
    let view = service::view(&s.storage, &s.summaries, session_id(&id)?).await?;
    Ok(Json(serde_json::to_value(view.state).map_err(crate::error::AppError::internal)?))
}

async fn create(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<NewRun>,
) -> AppResult<(StatusCode, Json<ActionRun>)> {
    Ok((StatusCode::CREATED, Json(action_runs::create(&s.storage, session_id(&id)?, b).await?)))
}

async fn list(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(p): ApiQuery<Page>,
) -> AppResult<Json<Value>> {
    let (items, next) =
        action_runs::list(&s.storage, session_id(&id)?, p.cursor, p.limit, s.config.limits.max_page).await?;
    Ok(list_body(items, next))
}

async fn read(
    State(s): State<SharedState>,
    ApiPath((id, run)): ApiPath<(String, String)>,
) -> AppResult<Json<ActionRun>> {
    Ok(Json(action_runs::get(&s.storage, session_id(&id)?, run).await?))
}

async fn update(
    State(s): State<SharedState>,
    ApiPath((id, run)): ApiPath<(String, String)>,
    ApiJson(b): ApiJson<RunUpdate>,
) -> AppResult<Json<ActionRun>> {
    Ok(Json(action_runs::update(&s.storage, session_id(&id)?, run, b).await?))
}
