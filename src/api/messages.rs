//! `/api/v1/sessions/{id}/messages` (append, history) and `/sessions/{id}/search`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::extract::{parse_json, ApiPath, ApiQuery};
use super::projects::list_body;
use super::SharedState;
use crate::error::{AppError, AppResult};
use crate::paging;
use crate::session::model::HistoryQuery;
use crate::session::service::session_id;
use crate::session::{messages, search};

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/sessions/{id}/messages", get(history).post(append))
        .route("/api/v1/sessions/{id}/search", get(search_in))
}

/// Longest accepted `Idempotency-Key`.
const MAX_KEY_LEN: usize = 200;

fn idempotency_key(headers: &HeaderMap) -> AppResult<Option<String>> {
    let Some(v) = headers.get("idempotency-key") else { return Ok(None) };
    match v.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= MAX_KEY_LEN => Ok(Some(k.to_string())),
        _ => Err(AppError::validation(
            "Idempotency-Key",
            format!("Idempotency-Key must be 1..{MAX_KEY_LEN} visible ASCII characters"),
        )),
    }
}

/// Validates the whole UIMessage before anything is written (the shard is not opened for a
/// malformed one), then appends or merges it.
async fn append(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let sid = session_id(&id)?;
    super::extract::require_json(&headers)?;
    let key = idempotency_key(&headers)?;
    let value: Value = parse_json(&body)?;
    let msg = messages::validate(value, body.len(), &s.config.limits)?;
    let out = messages::append(&s.storage, &s.summaries, &s.search, sid, msg, key).await?;
    let status = StatusCode::from_u16(out.status).unwrap_or(StatusCode::CREATED);
    Ok((status, [(header::CONTENT_TYPE, "application/json")], out.body).into_response())
}

async fn history(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> AppResult<Response> {
    let body = messages::history(&s.storage, session_id(&id)?, q).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[derive(Debug, Deserialize)]
struct SearchQuery {
    q: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

async fn search_in(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> AppResult<Json<Value>> {
    let sid = session_id(&id)?;
    let limit = paging::check_limit(q.limit, s.config.limits.max_page)?;
    let text = q.q.unwrap_or_default();
    let (items, next) = search::search(&s.storage, sid, &text, q.cursor.as_deref(), limit).await?;
    Ok(list_body(items, next))
}
