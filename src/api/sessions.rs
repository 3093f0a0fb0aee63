//! `/api/v1/sessions`: create, list, get, patch, delete, archive, variables.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::projects::list_body;
use super::SharedState;
use crate::error::AppResult;
use crate::paging;
use crate::session::chat;
use crate::session::model::{CreatedSession, Message, NewSession, Session, SessionFilter, SessionPatch, SessionView};
use crate::session::service::{self, session_id};
use crate::session::variables;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/sessions", get(list).post(create))
        .route("/api/v1/sessions/{id}", get(read).patch(patch).delete(remove))
        .route("/api/v1/sessions/{id}/archive", post(archive))
        .route("/api/v1/sessions/{id}/variables", get(vars))
}

async fn create(
    State(s): State<SharedState>,
    caller: Option<axum::Extension<crate::auth::Caller>>,
    ApiJson(mut body): ApiJson<NewSession>,
) -> AppResult<(StatusCode, Json<CreatedSession>)> {
    // The user comes from the token; a body's user_id is honoured for admins only.
    if let Some(axum::Extension(c)) = caller.filter(|c| !c.admin) {
        body.user_id = Some(c.user_id);
    }
    let sid = session_id(&service::create(&s.storage, body).await?.id)?;
    let opening_message = opening(&s, sid).await;
    // Read back: the opening moved the summary (message_count, last_message_at).
    let session = service::get(&s.storage, &s.summaries, sid).await?;
    Ok((StatusCode::CREATED, Json(CreatedSession { session, opening_message })))
}

/// Runs the script's opening. A failure (the model is down) never fails the create: it is
/// stored as a failed turn, and the session's first user turn runs the opening instead.
async fn opening(s: &SharedState, sid: uuid::Uuid) -> Option<Message> {
    match chat::open(&super::chat::env(s), sid).await {
        Ok(turn) => turn.and_then(|t| t.assistant_message),
        Err(e) => {
            tracing::warn!(session = %sid, code = e.code, "the session's opening failed: {}", e.message);
            None
        }
    }
}

async fn list(State(s): State<SharedState>, ApiQuery(f): ApiQuery<SessionFilter>) -> AppResult<Json<Value>> {
    let (items, next) = service::list(&s.storage, &s.summaries, f, s.config.limits.max_page).await?;
    Ok(list_body(items, next))
}

async fn read(State(s): State<SharedState>, ApiPath(id): ApiPath<String>) -> AppResult<Json<SessionView>> {
    Ok(Json(service::view(&s.storage, &s.summaries, session_id(&id)?).await?))
}

async fn patch(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<SessionPatch>,
) -> AppResult<Json<Session>> {
    Ok(Json(service::patch(&s.storage, &s.summaries, session_id(&id)?, body).await?))
}

async fn remove(State(s): State<SharedState>, ApiPath(id): ApiPath<String>) -> AppResult<StatusCode> {
    let sid = session_id(&id)?;
    service::delete(&s.storage, &s.summaries, sid).await?;
    // Entries still queued for it are written and then dropped by a later delete or reindex;
    // its rows leave the index now.
    let key = sid.to_string();
    crate::storage::pools::with_conn(&s.storage.shared.search, move |c| crate::search::store::remove_session(c, &key))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn archive(State(s): State<SharedState>, ApiPath(id): ApiPath<String>) -> AppResult<Json<Session>> {
    Ok(Json(service::archive(&s.storage, &s.summaries, session_id(&id)?).await?))
}

#[derive(Debug, Deserialize)]
struct VarQuery {
    history: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

/// Current values per scope and resolved; with `?history=name`, that variable's rows.
async fn vars(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<VarQuery>,
) -> AppResult<Json<Value>> {
    let id = session_id(&id)?;
    service::get(&s.storage, &s.summaries, id).await?;
    let Some(name) = q.history else {
        return Ok(Json(variables::current(&s.storage, id).await?));
    };
    let limit = paging::check_limit(q.limit, s.config.limits.max_page)?;
    let (items, next) = variables::history(&s.storage, id, name, q.cursor, limit).await?;
    Ok(list_body(items, next))
}
