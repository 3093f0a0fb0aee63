//! The outermost middleware: a request id for every request, a tracing span that carries it,
//! and the normalisation of bare error responses (from axum rejections or tower layers:
//! 405, 408, 413, …) into the one error shape.

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::error::AppError;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served, or `-` outside a request.
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_else(|_| "-".into())
}

/// A client may pass its own `x-request-id` (short, URL-safe); otherwise a UUIDv7 is made.
fn request_id_of(req: &Request) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

pub async fn request_context(req: Request, next: Next) -> Response {
    let id = request_id_of(&req);
    let quiet = matches!(req.uri().path(), "/health" | "/ready");
    let span = if quiet {
        tracing::debug_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
    } else {
        tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
    };
    let started = std::time::Instant::now();
    let method = req.method().to_string();
    let resp = REQUEST_ID
        .scope(id.clone(), async move {
            let resp = next.run(req).await;
            normalise_error(resp)
        })
        .instrument(span.clone())
        .await;
    let _e = span.enter();
    let secs = started.elapsed().as_secs_f64();
    super::metrics::observe(
        resp.extensions().get::<super::metrics::RouteName>(),
        &method,
        resp.status().as_u16(),
        secs,
    );
    let ms = secs * 1000.0;
    if quiet {
        tracing::debug!(status = resp.status().as_u16(), ms, "served");
    } else {
        tracing::info!(status = resp.status().as_u16(), ms, "served");
    }
    with_request_id(resp, &id)
}

fn with_request_id(mut resp: Response, id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

/// An error response that is not already JSON gets the standard body for its status.
fn normalise_error(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let (parts, _body) = resp.into_parts();
    let mut fresh = AppError::from_status(status.as_u16()).into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            fresh.headers_mut().insert(name.clone(), value.clone());
        }
    }
    fresh
}
