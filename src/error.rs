//! The one error type of Planbase.
//!
//! Every failure that can reach a client is an [`AppError`]: a stable snake_case `code`, an HTTP
//! status, a message meant for the client, whether a retry can help, and optional
//! `suggestion`/`details`. Internal causes (SQLite messages, I/O errors, file paths) are logged
//! once where the error is turned into a response and never sent to the client.

use std::fmt;

use serde_json::{json, Value};

pub type AppResult<T> = Result<T, AppError>;

/// Boxed so `Result<T, AppError>` stays one pointer wide on the happy path.
#[derive(Debug, Clone)]
pub struct AppError(Box<ErrorInfo>);

#[derive(Debug, Clone)]
pub struct ErrorInfo {
    /// Stable machine-readable code, e.g. `session_not_found`.
    pub code: &'static str,
    /// The kind of thing the error is about (`session`, `request`, `storage`, …).
    pub kind: &'static str,
    pub status: u16,
    pub message: String,
    pub retryable: bool,
    pub suggestion: Option<String>,
    pub details: Value,
    /// Cause for the log only; never serialized into a response.
    pub internal: Option<String>,
}

impl std::ops::Deref for AppError {
    type Target = ErrorInfo;
    fn deref(&self) -> &ErrorInfo {
        &self.0
    }
}

impl std::ops::DerefMut for AppError {
    fn deref_mut(&mut self) -> &mut ErrorInfo {
        &mut self.0
    }
}

impl AppError {
    pub fn new(status: u16, code: &'static str, kind: &'static str, message: impl Into<String>) -> Self {
        AppError(Box::new(ErrorInfo {
            code,
            kind,
            status,
            message: message.into(),
            retryable: false,
            suggestion: None,
            details: json!({}),
            internal: None,
        }))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "bad_request", "request", message)
    }

    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::new(400, "validation_failed", "request", message).with_details(json!({ "field": field }))
    }

    /// `code` is `not_found` or `<thing>_not_found`.
    pub fn not_found(code: &'static str, kind: &'static str, message: impl Into<String>) -> Self {
        Self::new(404, code, kind, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, "conflict", "request", message)
    }

    pub fn storage_busy() -> Self {
        Self::new(503, "storage_busy", "storage", "the database is busy; retry shortly").retryable()
    }

    pub fn storage_full() -> Self {
        Self::new(507, "storage_full", "storage", "storage is full; reads keep working")
    }

    pub fn shard_unavailable() -> Self {
        Self::new(503, "shard_unavailable", "storage", "this database file is unavailable")
            .retryable()
            .with_suggestion("the file failed an integrity check; an operator can inspect DB_ROOT/quarantine/")
    }

    /// A bug or an unexpected environment failure. The cause goes to the log only.
    pub fn internal(cause: impl fmt::Display) -> Self {
        let mut e = Self::new(500, "internal", "server", "internal error");
        e.internal = Some(cause.to_string());
        e
    }

    pub fn retryable(mut self) -> Self {
        self.retryable = true;
        self
    }

    pub fn with_suggestion(mut self, s: impl Into<String>) -> Self {
        self.suggestion = Some(s.into());
        self
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn with_internal(mut self, cause: impl fmt::Display) -> Self {
        self.internal = Some(cause.to_string());
        self
    }

    /// For operators (CLI output, start-up failures): the internal cause when there is one,
    /// else the client message. Never sent over HTTP.
    pub fn operator_message(&self) -> String {
        self.internal.clone().unwrap_or_else(|| self.message.clone())
    }

    /// The JSON body of DESIGN.md §6.
    pub fn body(&self, request_id: &str) -> Value {
        json!({"error": {
            "code": self.code,
            "type": self.kind,
            "message": self.message,
            "retryable": self.retryable,
            "suggestion": self.suggestion,
            "request_id": request_id,
            "details": self.details,
        }})
    }

    /// The canonical error for a bare status code produced by middleware (404, 405, 408, 413…).
    pub fn from_status(status: u16) -> Self {
        match status {
            400 => Self::bad_request("the request could not be understood"),
            401 => Self::new(401, "unauthorized", "auth", "missing or invalid credentials"),
            403 => Self::new(403, "forbidden", "auth", "not allowed"),
            404 => Self::not_found("not_found", "route", "no such route"),
            405 => Self::new(405, "method_not_allowed", "route", "method not allowed on this route"),
            408 => Self::new(408, "timeout", "request", "the request took too long").retryable(),
            413 => Self::new(413, "payload_too_large", "request", "the request body is too large"),
            415 => Self::bad_request("expected `Content-Type: application/json`"),
            429 => Self::new(429, "rate_limited", "request", "too many requests").retryable(),
            503 => Self::new(503, "unavailable", "server", "service unavailable").retryable(),
            s if s < 500 => Self::new(s, "bad_request", "request", "the request was rejected"),
            _ => Self::internal(format!("middleware produced status {status}")),
        }
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(i) = &self.internal {
            write!(f, " ({i})")?;
        }
        Ok(())
    }
}

impl std::error::Error for AppError {}

impl From<rusqlite::Error> for AppError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        match e.sqlite_error_code() {
            Some(C::DatabaseBusy) | Some(C::DatabaseLocked) => AppError::storage_busy().with_internal(e),
            Some(C::DiskFull) => AppError::storage_full().with_internal(e),
            Some(C::DatabaseCorrupt) | Some(C::NotADatabase) => AppError::shard_unavailable().with_internal(e),
            _ => AppError::internal(e),
        }
    }
}

impl From<r2d2::Error> for AppError {
    fn from(e: r2d2::Error) -> Self {
        AppError::storage_busy().with_internal(e)
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> Self {
        AppError::internal(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_codes_map_to_stable_api_codes() {
        let busy = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY), None);
        let full = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL), None);
        let corrupt = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT), None);
        let notadb = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_NOTADB), None);
        let b = AppError::from(busy);
        assert_eq!((b.code, b.status, b.retryable), ("storage_busy", 503, true));
        assert_eq!(AppError::from(full).status, 507);
        assert_eq!(AppError::from(corrupt).code, "shard_unavailable");
        assert_eq!(AppError::from(notadb).code, "shard_unavailable");
    }

    #[test]
    fn body_never_contains_internal_cause() {
        let e = AppError::internal("secret path /etc/shadow");
        let body = e.body("rid-1").to_string();
        assert!(!body.contains("shadow"));
        assert!(body.contains("\"request_id\":\"rid-1\""));
    }
}
