//! Token authentication (`auth.mode = "token"`) and the admin token routes.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{ApiJson, ApiPath, ApiQuery, Page};
use super::projects::list_body;
use super::SharedState;
use crate::auth::store;
use crate::config::AuthMode;
use crate::error::{AppError, AppResult};
use crate::paging;
use crate::storage::pools::with_conn;

/// Routes anyone may call (DESIGN.md §7).
fn is_open(path: &str, public_metrics: bool) -> bool {
    matches!(path, "/health" | "/ready" | "/" | "/api/v1/openapi.json")
        || path.starts_with("/docs")
        || path.starts_with("/ui/")
        || (public_metrics && path == "/metrics")
}

fn bearer(req: &Request) -> Option<String> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string()).filter(|t| !t.is_empty() && t.len() <= 200)
}

fn unauthorized() -> AppError {
    AppError::from_status(401)
        .with_suggestion("send `Authorization: Bearer <token>`; `planbase token create --user U` makes one")
}

/// Puts the [`Caller`] into the request, or answers 401 (no or bad token) / 403 (a user
/// token on `/api/v1/admin/*`).
pub async fn require_token(State(s): State<SharedState>, mut req: Request, next: Next) -> Response {
    // CORS preflights carry no credentials by design.
    let preflight = req.method() == axum::http::Method::OPTIONS;
    if s.config.auth.mode == AuthMode::None || preflight || is_open(req.uri().path(), s.config.auth.public_metrics) {
        return next.run(req).await;
    }
    let Some(secret) = bearer(&req) else { return unauthorized().into_response() };
    let caller = match with_conn(&s.storage.shared.auth, move |c| store::authenticate(c, &secret)).await {
        Ok(Some(c)) => c,
        Ok(None) => return unauthorized().into_response(),
        Err(e) => return e.into_response(),
    };
    if req.uri().path().starts_with("/api/v1/admin/") && !caller.admin {
        return AppError::from_status(403).with_suggestion("admin routes need an admin token").into_response();
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/admin/tokens", get(list).post(create))
        .route("/api/v1/admin/tokens/{id}", delete(revoke))
}

#[derive(Deserialize)]
struct NewToken {
    user_id: String,
    #[serde(default)]
    role: Option<String>,
}

/// The secret is in this response only.
async fn create(State(s): State<SharedState>, ApiJson(b): ApiJson<NewToken>) -> AppResult<(StatusCode, Json<Value>)> {
    let admin = match b.role.as_deref() {
        None | Some("user") => false,
        Some("admin") => true,
        Some(r) => return Err(AppError::validation("role", format!("role must be user or admin, got {r:?}"))),
    };
    let (info, secret) = with_conn(&s.storage.shared.auth, move |c| store::create(c, &b.user_id, admin)).await?;
    let mut v = serde_json::to_value(info).map_err(AppError::internal)?;
    v["token"] = json!(secret);
    Ok((StatusCode::CREATED, Json(v)))
}

async fn list(State(s): State<SharedState>, ApiQuery(p): ApiQuery<Page>) -> AppResult<Json<Value>> {
    let limit = paging::check_limit(p.limit, s.config.limits.max_page)?;
    let after = p.cursor.as_deref().map(paging::decode::<String>).transpose()?;
    let rows = with_conn(&s.storage.shared.auth, move |c| store::list(c, after.as_deref(), limit + 1)).await?;
    let (items, next) = paging::page(rows, limit, |t| paging::encode(&t.id));
    Ok(list_body(items, next))
}

async fn revoke(State(s): State<SharedState>, ApiPath(id): ApiPath<String>) -> AppResult<StatusCode> {
    with_conn(&s.storage.shared.auth, move |c| store::revoke(c, &id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
