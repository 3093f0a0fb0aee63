//! Project copy, export and import, and `POST /api/v1/admin/reindex` (project rows only until
//! sessions exist).
//!
//! Import is served by [`upload_routes`], which `with_layers` merges outside the global
//! `limits.max_body_bytes` layer: an upload is bounded by `limits.max_import_bytes` here,
//! while it streams to temp/, instead.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::BodyExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::extract::{parse_json, ApiPath, ApiQuery};
use super::projects::project_id;
use super::SharedState;
use crate::error::{AppError, AppResult};
use crate::project::model::Project;
use crate::project::reindex::{self, ReindexReport};
use crate::project::transfer::{self, CopyRequest, TempFile};
use crate::storage::connection::Pragmas;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/projects/{id}/copy", post(copy))
        .route("/api/v1/projects/{id}/export", get(export))
        .route("/api/v1/admin/reindex", post(reindex_all))
}

/// Routes exempt from the global body limit; they enforce their own.
pub fn upload_routes() -> Router<SharedState> {
    Router::new().route("/api/v1/projects/import", post(import))
}

fn pragmas(s: &SharedState) -> Pragmas {
    Pragmas::from_config(&s.config.storage)
}

/// The body is optional: an empty POST copies with the defaults.
async fn copy(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> AppResult<(StatusCode, Json<Project>)> {
    let id = project_id(&id)?;
    let req = if body.iter().all(u8::is_ascii_whitespace) {
        CopyRequest::default()
    } else {
        super::extract::require_json(&headers)?;
        parse_json(&body)?
    };
    let p = transfer::copy(&s.storage, &pragmas(&s), id, req).await?;
    Ok((StatusCode::CREATED, Json(p)))
}

async fn export(State(s): State<SharedState>, ApiPath(id): ApiPath<String>) -> AppResult<Response> {
    let id = project_id(&id)?;
    let out = transfer::export(&s.storage, id).await?;
    let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(out.file));
    let disposition = format!("attachment; filename=\"project_{}.sqlite\"", id.as_hyphenated());
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/vnd.sqlite3"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(out.len));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).map_err(AppError::internal)?);
    h.insert("x-content-sha256", HeaderValue::from_str(&out.sha256).map_err(AppError::internal)?);
    Ok(resp)
}

#[derive(Deserialize)]
struct ImportQuery {
    #[serde(default)]
    keep_id: bool,
}

/// Streams the raw body to temp/, then verifies and installs it. An optional
/// `x-content-sha256` request header (as export sends it) must match the received bytes.
async fn import(
    State(s): State<SharedState>,
    ApiQuery(q): ApiQuery<ImportQuery>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<(StatusCode, Json<Project>)> {
    let limit = s.config.limits.max_import_bytes.0;
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let tmp = TempFile::new(&s.storage.root, "import");
    let (tmp, sha256) = receive(body, tmp, limit).await?;
    let expected = headers.get("x-content-sha256").and_then(|v| v.to_str().ok());
    if expected.is_some_and(|e| !e.eq_ignore_ascii_case(&sha256)) {
        return Err(transfer::invalid("integrity", "the body does not match its x-content-sha256 header"));
    }
    let p = transfer::import(&s.storage, &pragmas(&s), tmp, q.keep_id).await?;
    Ok((StatusCode::CREATED, Json(p)))
}

fn too_large(limit: u64) -> AppError {
    AppError::from_status(413)
        .with_details(serde_json::json!({"limit_bytes": limit}))
        .with_suggestion("the server's limits.max_import_bytes caps project uploads")
}

/// Writes the body to `tmp` as it arrives, hashing it; gives up (413) at the first byte
/// past `limit`. Any early return drops the guard, which removes the file.
async fn receive(mut body: Body, tmp: TempFile, limit: u64) -> AppResult<(TempFile, String)> {
    // Created on the blocking pool with the guard moved along: if the request is dropped
    // meanwhile, the guard drops after the file exists, never before.
    let (tmp, file) = transfer::blocking(move || Ok(std::fs::File::create(tmp.path()).map(|f| (tmp, f))?)).await?;
    let mut file = tokio::fs::File::from_std(file);
    let (mut hasher, mut received) = (Sha256::new(), 0u64);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| AppError::bad_request("could not read the request body").with_internal(e))?;
        let Ok(data) = frame.into_data() else { continue };
        received += data.len() as u64;
        if received > limit {
            return Err(too_large(limit));
        }
        hasher.update(&data);
        file.write_all(&data).await?;
    }
    file.flush().await?;
    Ok((tmp, hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()))
}

/// Project rows (the report's top level), then session rows (under `sessions`).
async fn reindex_all(State(s): State<SharedState>) -> AppResult<Json<serde_json::Value>> {
    let report: ReindexReport = reindex::reindex(&s.storage, &pragmas(&s)).await?;
    let sessions = crate::session::recover::reindex(&s.storage, &pragmas(&s)).await?;
    let mut body = serde_json::to_value(report).map_err(AppError::internal)?;
    body["sessions"] = serde_json::to_value(sessions).map_err(AppError::internal)?;
    // Entries queued before the rebuild would only re-add what it indexes anyway.
    let (root, p) = (s.storage.root.clone(), pragmas(&s));
    let indexed = crate::storage::pools::with_conn(&s.storage.shared.search, move |c| {
        crate::session::recover::rebuild_search(&root, &p, c)
    })
    .await?;
    body["search"] = serde_json::json!({ "messages": indexed });
    Ok(Json(body))
}
