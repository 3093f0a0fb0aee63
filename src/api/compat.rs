//! Seed 002's chat-store routes, `/api/conversations…`, served from the same sessions with
//! that store's field names (DESIGN.md §6): a conversation is a session, a message a
//! session message.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::SharedState;
use crate::error::{AppError, AppResult};
use crate::session::model::{HistoryQuery, NewSession, Session, SessionFilter};
use crate::session::{messages, service};

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/conversations", get(list).post(create))
        .route("/api/conversations/{uuid}", get(read).delete(remove))
        .route("/api/conversations/{uuid}/messages", get(history))
}

fn conversation(s: &Session) -> Value {
    json!({"uuid": s.id, "title": s.name, "user_id": s.user_id, "created_at": s.created_at,
           "updated_at": s.updated_at, "metadata": s.metadata})
}

fn message(m: &Value, conversation: &str) -> Value {
    json!({"uuid": m["id"], "conversation_uuid": conversation, "role": m["role"], "content": m["content"],
           "parts": m["parts"], "attachments": m["attachments"], "created_at": m["created_at"], "metadata": m["metadata"]})
}

#[derive(Deserialize)]
struct NewConversation {
    title: Option<String>,
    user_id: Option<String>,
    metadata: Option<Value>,
}

async fn create(
    State(s): State<SharedState>,
    ApiJson(b): ApiJson<NewConversation>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let input = NewSession { name: b.title, user_id: b.user_id, metadata: b.metadata, ..Default::default() };
    let session = service::create(&s.storage, input).await?;
    Ok((StatusCode::CREATED, Json(conversation(&session))))
}

async fn list(State(s): State<SharedState>, ApiQuery(f): ApiQuery<SessionFilter>) -> AppResult<Json<Value>> {
    let (items, next) = service::list(&s.storage, &s.summaries, f, s.config.limits.max_page).await?;
    let items: Vec<Value> = items.iter().map(conversation).collect();
    Ok(Json(json!({"items": items, "next_cursor": next})))
}

async fn read(State(s): State<SharedState>, ApiPath(id): ApiPath<String>) -> AppResult<Json<Value>> {
    let session = service::get(&s.storage, &s.summaries, service::session_id(&id)?).await?;
    Ok(Json(conversation(&session)))
}

async fn remove(State(s): State<SharedState>, ApiPath(id): ApiPath<String>) -> AppResult<StatusCode> {
    service::delete(&s.storage, &s.summaries, service::session_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn history(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> AppResult<Json<Value>> {
    let sid = service::session_id(&id)?;
    let body = messages::history(&s.storage, sid, q).await?;
    let page: Value = serde_json::from_slice(&body).map_err(AppError::internal)?;
    let items: Vec<Value> =
        page["items"].as_array().into_iter().flatten().map(|m| message(m, &sid.to_string())).collect();
    Ok(Json(json!({"items": items, "next_cursor": page["next_cursor"]})))
}
