//! HTTP layer: routing, middleware and the mapping of [`AppError`] to responses. Handlers only
//! extract, call the domain layer and map the result.

mod action_runs;
mod auth;
mod backups;
mod chat;
mod compat;
pub mod extract;
mod files;
mod health;
mod jobs;
mod memories;
mod messages;
mod metrics;
mod middleware;
mod openapi;
mod ownership;
mod plan;
mod projects;
mod search;
mod sessions;
mod transfer;
mod ui;
pub mod ui_stream;
mod versions;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::config::Config;
use crate::error::AppError;
use crate::storage::Storage;

pub use middleware::current_request_id;

/// Shared state of every handler.
pub struct AppState {
    pub config: Config,
    pub storage: Storage,
    pub started: Instant,
    /// Set once start-up work is done; `/ready` answers 200 from then on.
    pub ready: AtomicBool,
    /// Wakes the job log streams (`GET /api/v1/jobs/{job_id}/stream`) after each job write.
    pub jobs: crate::jobs::JobEvents,
    /// Pending session summary deltas, overlaid on reads and flushed behind appends.
    pub summaries: crate::session::summary::Summaries,
    /// Cross-session search entries waiting for the feeder (written behind the appends).
    pub search: Arc<crate::search::SearchFeed>,
    /// Stops the search feeder (after a last drain).
    pub search_stop: Arc<tokio::sync::Notify>,
    /// The chat model (`llm.provider`), cached when it is a remote one.
    pub llm: Arc<dyn crate::llm::chat::LlmProvider>,
    /// The embedding model (`embedding.provider`) behind the embedding cache; one for the
    /// server's lifetime, so a remote provider keeps its HTTP client and connections.
    pub embedder: Arc<dyn crate::llm::embedding::EmbeddingProvider>,
    /// The maintenance run under way (one at a time; see `maintenance::job`).
    pub maintenance: crate::maintenance::job::Runs,
}

pub type SharedState = Arc<AppState>;

/// The routes of Planbase, without middleware.
pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(metrics::metrics))
        .merge(auth::routes())
        .merge(projects::routes())
        .merge(files::routes())
        .merge(versions::routes())
        .merge(jobs::routes())
        .merge(plan::routes())
        .merge(search::routes())
        .merge(compat::routes())
        .merge(chat::routes())
        .merge(action_runs::routes())
        .merge(backups::routes())
        .merge(transfer::routes())
        .merge(memories::routes())
        .merge(sessions::routes())
        .merge(messages::routes())
        .merge(openapi::routes())
        .merge(ui::routes())
}

/// Wraps a router in the middleware every request passes through, outermost first:
/// request id + error normalisation, CORS, the timeout until response headers, and the
/// body limit. Streams are exempt from the timeout because it ends when headers are sent.
pub fn with_layers(router: Router<SharedState>, state: SharedState) -> Router {
    let cfg = &state.config;
    let timeout = Duration::from_millis(cfg.server.request_timeout_ms);
    let mut router = router
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(cfg.limits.max_body_bytes.0 as usize))
        // Merged after the body limit, so it does not apply: import enforces max_import_bytes.
        .merge(transfer::upload_routes())
        .route_layer(axum::middleware::from_fn(metrics::tag_route))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(axum::middleware::from_fn_with_state(state.clone(), ownership::enforce))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_token));
    if let Some(cors) = cors_layer(&cfg.server.cors_origins) {
        router = router.layer(cors);
    }
    router.layer(axum::middleware::from_fn(middleware::request_context)).with_state(state)
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let any = origins.iter().any(|o| o == "*");
    let allow = if any {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods(tower_http::cors::Any)
            .allow_headers(tower_http::cors::Any)
            .expose_headers([axum::http::header::HeaderName::from_static("x-request-id")]),
    )
}

async fn fallback() -> AppError {
    AppError::from_status(404)
}

async fn method_not_allowed() -> AppError {
    AppError::from_status(405)
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let request_id = current_request_id();
        if self.status >= 500 {
            tracing::error!(request_id = %request_id, code = self.code, cause = ?self.internal, "{}", self.message);
        } else {
            tracing::debug!(request_id = %request_id, code = self.code, "{}", self.message);
        }
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, Json(self.body(&request_id))).into_response();
        if self.retryable && status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut().insert("retry-after", HeaderValue::from_static("1"));
        }
        resp
    }
}
