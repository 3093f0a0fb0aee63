//! Extractors whose rejections are [`AppError`]s: bad JSON is 400 `bad_request`, a wrong type
//! is 400 `validation_failed` naming the field path, and a body over the limit is 413.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::error::AppError;

/// JSON body. Unknown fields are ignored (serde's default); wrong types name their path.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        require_json(req.headers())?;
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status().as_u16() == 413 {
                AppError::from_status(413)
            } else {
                AppError::bad_request("could not read the request body")
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// 400 unless the body is declared JSON: `application/json` or `application/<x>+json`,
/// parameters (`; charset=utf-8`) allowed, case-insensitive.
pub fn require_json(headers: &axum::http::HeaderMap) -> Result<(), AppError> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    let ok = media.is_some_and(|m| {
        m == "application/json" || (m.starts_with("application/") && m.ends_with("+json") && !m.contains(' '))
    });
    if ok {
        Ok(())
    } else {
        Err(AppError::bad_request("expected `Content-Type: application/json`"))
    }
}

/// Parses JSON, mapping serde errors to the API's codes. The whole body must be one JSON
/// value in valid UTF-8: trailing bytes, and invalid UTF-8 even inside ignored fields,
/// are 400 rather than silently dropped.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(AppError::bad_request(format!("the body is not valid UTF-8 (byte {})", e.valid_up_to())));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = deserialize(de)?;
    de.end().map_err(|e| {
        AppError::bad_request(format!("invalid JSON: {e}"))
            .with_details(json!({"line": e.line(), "column": e.column()}))
    })?;
    Ok(value)
}

fn deserialize<'de, T: DeserializeOwned>(
    de: &mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>,
) -> Result<T, AppError> {
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_data() {
            let field = if path == "." { "body".to_string() } else { path };
            AppError::validation(&field, format!("{field}: {inner}"))
        } else {
            AppError::bad_request(format!("invalid JSON: {inner}"))
                .with_details(json!({"line": inner.line(), "column": inner.column()}))
        }
    })
}

/// Query string. A bad or ill-typed parameter is 400 `validation_failed` naming it.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(de).map(ApiQuery).map_err(|e| {
            let field = e.path().to_string();
            AppError::validation(&field, format!("query parameter {field}: {}", e.into_inner()))
        })
    }
}

/// Path parameters. A rejection is 400 `bad_request`; ids are parsed with
/// [`crate::storage::parse_id`] in the handler, which answers 404 for non-UUIDs.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e| AppError::bad_request(format!("invalid path: {}", e.body_text())))
    }
}

/// `?cursor&limit` of a plain paged list.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Page {
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}
