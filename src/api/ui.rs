//! The demo page: `GET /` and its assets under `GET /ui/{*path}`.
//!
//! The page is plain HTML, CSS and JavaScript in `src/api/ui/`, embedded in the binary with
//! `include_str!`: no build step, no CDN, nothing fetched from elsewhere. It talks to the same
//! server's `/api/v1` only (its content security policy says so too). Both routes are open
//! under `auth.mode = "token"`; the page sends the token the user types in.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::extract::ApiPath;
use super::SharedState;
use crate::error::AppError;

/// One embedded file: its path under `/ui/`, content type and body.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const INDEX: &str = include_str!("ui/index.html");

/// Every asset `/ui/{*path}` serves; anything else is the standard 404.
const ASSETS: &[Asset] = &[
    Asset { path: "app.js", content_type: "text/javascript; charset=utf-8", body: include_str!("ui/app.js") },
    Asset { path: "app.css", content_type: "text/css; charset=utf-8", body: include_str!("ui/app.css") },
    Asset { path: "favicon.svg", content_type: "image/svg+xml", body: include_str!("ui/favicon.svg") },
];

/// Same-origin only: scripts, styles, images and `fetch` may reach this server and nothing else.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub fn routes() -> Router<SharedState> {
    Router::new().route("/", get(index)).route("/ui/{*path}", get(asset))
}

async fn index() -> Response {
    let mut resp = serve("text/html; charset=utf-8", INDEX);
    resp.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    resp
}

async fn asset(ApiPath(path): ApiPath<String>) -> Result<Response, AppError> {
    ASSETS.iter().find(|a| a.path == path).map(|a| serve(a.content_type, a.body)).ok_or_else(|| {
        AppError::not_found("not_found", "route", "no such asset under /ui/").with_suggestion("the demo page is at `/`")
    })
}

/// The assets change only with the binary, so clients revalidate rather than cache blindly.
fn serve(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}
