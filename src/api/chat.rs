//! Chat over HTTP: `POST /api/v1/sessions/{id}/chat` (JSON, or the UI message stream with
//! `Accept: text/event-stream` / `?stream=true`) and `POST /api/v1/chat`, the drop-in for
//! the AI SDK's `useChat` (`DefaultChatTransport`), which always streams.
//!
//! A streamed turn's text goes to the client as the model produces it ([`stream`]); the
//! turn is stored when the model has finished, before `finish`. A client that goes away
//! mid-stream leaves the complete turn or the user message with a failed turn, never a
//! partial assistant message.

mod stream;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::extract::{parse_json, ApiPath, ApiQuery};
use super::SharedState;
use crate::error::{AppError, AppResult};
use crate::script::Limits;
use crate::session::chat::{run_turn, TurnEnv, TurnResult};
use crate::session::{messages, service};

pub fn routes() -> Router<SharedState> {
    Router::new().route("/api/v1/sessions/{id}/chat", post(session_chat)).route("/api/v1/chat", post(ai_sdk_chat))
}

pub(super) fn env(s: &SharedState) -> TurnEnv {
    TurnEnv {
        shards: s.storage.shards.clone(),
        sums: s.summaries.clone(),
        search: s.search.clone(),
        provider: s.llm.clone(),
        limits: Limits::from_config(&s.config.limits),
    }
}

#[derive(Deserialize, Default)]
struct ChatQuery {
    #[serde(default)]
    debug: bool,
    #[serde(default)]
    stream: bool,
}

/// `{"message": UIMessage}` or `{"content": "text"}`; the message must be the user's.
fn user_message(body: &Value, size: usize, s: &SharedState) -> AppResult<crate::session::model::NewMessage> {
    let msg = match (body.get("message"), body.get("content")) {
        (Some(m), _) => m.clone(),
        (None, Some(Value::String(t))) => json!({"role": "user", "parts": [{"type": "text", "text": t}]}),
        _ => return Err(AppError::validation("message", "send {\"message\": UIMessage} or {\"content\": \"text\"}")),
    };
    let m = messages::validate(msg, size, &s.config.limits)?;
    if m.role != "user" {
        return Err(AppError::validation("message.role", "a chat turn takes a user message"));
    }
    Ok(m)
}

async fn session_chat(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ChatQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let sid = service::session_id(&id)?;
    let value: Value = parse_json(&body)?;
    let msg = user_message(&value, body.len(), &s)?;
    let wants_stream = q.stream
        || headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/event-stream"));
    if wants_stream {
        return stream::turn(&env(&s), sid, Some(msg)).await;
    }
    let turn = run_turn(&env(&s), sid, Some(msg), q.debug).await?;
    Ok((StatusCode::OK, Json(turn_json(&turn))).into_response())
}

fn turn_json(t: &TurnResult) -> Value {
    let mut v = json!({
        "messages": t.assistant_message.iter().collect::<Vec<_>>(),
        "user_message": t.user_message,
        "status": t.status,
        "execution_status": t.execution_status,
        "position": t.position,
        "variables": t.variables,
    });
    if let Some(d) = &t.debug {
        v["debug"] = d.clone();
    }
    v
}

/// What `DefaultChatTransport({api})` sends: `{id, messages, trigger, messageId?}` + extras.
#[derive(Deserialize)]
struct AiSdkBody {
    id: String,
    #[serde(default)]
    messages: Vec<Value>,
    #[serde(default)]
    trigger: Option<String>,
}

async fn ai_sdk_chat(
    State(s): State<SharedState>,
    caller: Option<axum::Extension<crate::auth::Caller>>,
    body: Bytes,
) -> AppResult<Response> {
    let b: AiSdkBody = parse_json(&body)?;
    let sid = Uuid::try_parse(&b.id).ok().filter(|_| b.id.len() == 36).ok_or_else(no_session)?;
    let session =
        service::get(&s.storage, &s.summaries, sid)
            .await
            .map_err(|e| if e.status == 404 { no_session() } else { e })?;
    // The session id is in the body here, so the ownership layer cannot see it.
    if let Some(axum::Extension(c)) = caller.filter(|c| !c.admin) {
        if session.user_id.as_deref() != Some(c.user_id.as_str()) {
            return Err(no_session());
        }
    }
    let user = if b.trigger.as_deref() == Some("regenerate-message") {
        None
    } else {
        // The server owns history: only the last user message is taken, under its own id.
        let last = b
            .messages
            .iter()
            .rev()
            .find(|m| m["role"] == "user")
            .cloned()
            .ok_or_else(|| AppError::validation("messages", "no user message to answer"))?;
        let size = last.to_string().len();
        Some(messages::validate(last, size, &s.config.limits)?)
    };
    stream::turn(&env(&s), sid, user).await
}

fn no_session() -> AppError {
    AppError::not_found("session_not_found", "session", "no session with this id")
        .with_suggestion("create one with POST /api/v1/sessions and pass its id as useChat({ id })")
}
