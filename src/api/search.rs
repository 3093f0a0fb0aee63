//! `GET /api/v1/search`: cross-session full-text search over `main/search.sqlite`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::extract::ApiQuery;
use super::projects::list_body;
use super::SharedState;
use crate::error::{AppError, AppResult};
use crate::paging;
use crate::search::store;
use crate::storage::pools::with_conn;

pub fn routes() -> Router<SharedState> {
    Router::new().route("/api/v1/search", get(search))
}

#[derive(Deserialize)]
struct SearchQuery {
    q: Option<String>,
    project_id: Option<String>,
    user_id: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

/// Most results reachable by paging: ranking is recomputed per page, so deep pages are cut.
const MAX_OFFSET: usize = 10_000;

/// Best first. The index is fed behind the append path, at most about a second late.
async fn search(State(s): State<SharedState>, ApiQuery(q): ApiQuery<SearchQuery>) -> AppResult<Json<Value>> {
    let text = q.q.filter(|t| !t.trim().is_empty()).ok_or_else(|| AppError::validation("q", "q is required"))?;
    if text.len() > 1000 {
        return Err(AppError::validation("q", "q is longer than 1000 bytes"));
    }
    let limit = paging::check_limit(q.limit, s.config.limits.max_page)?;
    let offset = q.cursor.as_deref().map(paging::decode::<usize>).transpose()?.unwrap_or(0).min(MAX_OFFSET);
    let (project, user) = (q.project_id, q.user_id);
    let rows = with_conn(&s.storage.shared.search, move |c| {
        store::search(c, &text, project.as_deref(), user.as_deref(), offset, limit + 1)
    })
    .await?;
    let (items, more) = paging::page(rows, limit, |_| String::new());
    let next = more.filter(|_| offset + limit < MAX_OFFSET).map(|_| paging::encode(&(offset + limit)));
    Ok(list_body(items, next))
}
