//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of every route (DESIGN.md §6), built
//! once from the compact operation tables of the submodules, and `GET /docs`, an offline page
//! (embedded HTML, CSS and JS, no network) that renders it and can try requests.
//!
//! The tables are hand-written next to the handlers' request structs; the integration test
//! `tests/api/openapi.rs` checks that they list exactly the routes the router has.

mod plan;
mod projects;
mod sessions;
mod system;

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use axum::Router;
use serde_json::{json, Map, Value};

use super::SharedState;

pub fn routes() -> Router<SharedState> {
    Router::new().route("/api/v1/openapi.json", axum::routing::get(spec)).route("/docs", axum::routing::get(docs))
}

async fn spec() -> impl IntoResponse {
    static DOC: OnceLock<Vec<u8>> = OnceLock::new();
    let body = DOC.get_or_init(|| serde_json::to_vec(&document()).expect("the document serializes"));
    ([(header::CONTENT_TYPE, "application/json")], body.as_slice())
}

async fn docs() -> impl IntoResponse {
    static PAGE: OnceLock<String> = OnceLock::new();
    let page = PAGE.get_or_init(|| {
        include_str!("docs.html")
            .replace("/*DOCS_CSS*/", include_str!("docs.css"))
            .replace("/*DOCS_JS*/", include_str!("docs.js"))
    });
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], page.as_str())
}

/// The tags, in the order the docs page shows them, one per resource module.
const TAGS: [(&str, &str); 19] = [
    ("projects", "Projects: the registry of plans and scripts"),
    ("files", "A project's script files"),
    ("versions", "Drafts, published versions and script validation"),
    ("plan", "A project's task tree, dependencies and snapshots"),
    ("transfer", "Project copy, export and import; registry reindex"),
    ("jobs", "Jobs, job logs (with an SSE stream) and action logs"),
    ("sessions", "Chat sessions"),
    ("messages", "Session messages (AI SDK UIMessages) and in-session search"),
    ("chat", "Chat turns, as JSON or the AI SDK UI message stream"),
    ("action-runs", "A session's execution state and action runs"),
    ("memories", "A session's memories and their search"),
    ("search", "Full-text search across sessions"),
    ("conversations", "Seed 002's chat-store compatibility routes"),
    ("tokens", "API tokens (admin)"),
    ("backups", "Online backups and maintenance (admin)"),
    ("health", "Liveness and readiness"),
    ("metrics", "Prometheus metrics"),
    ("docs", "This document and the docs page"),
    ("ui", "The demo page"),
];

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for op in operations() {
        let (method, entry) = (op.method.clone(), paths.entry(op.path).or_insert_with(|| json!({})));
        entry[method.as_str()] = op.finish();
    }
    let mut schemas = Map::new();
    schemas.insert("Error".into(), error_schema());
    projects::schemas(&mut schemas);
    plan::schemas(&mut schemas);
    sessions::schemas(&mut schemas);
    system::schemas(&mut schemas);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Planbase",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Storage server for AI-agent applications: projects, plans and chat sessions. \
                Every error has the shape of `Error`. Lists answer `{items, next_cursor}`; pass \
                `next_cursor` back as `cursor`. Unknown request fields are ignored.",
        },
        "tags": TAGS.iter().map(|(name, description)| json!({"name": name, "description": description})).collect::<Vec<_>>(),
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "description": "Needed when the server runs with `auth.mode = \"token\"`; \
                    `planbase token create --user U` makes one.",
            }},
            "schemas": schemas,
        },
    })
}

/// Every operation of every table.
pub fn operations() -> Vec<Op> {
    let mut ops = projects::operations();
    ops.extend(plan::operations());
    ops.extend(sessions::operations());
    ops.extend(system::operations());
    ops
}

/// DESIGN.md §6: the one error shape, from handlers and middleware alike.
fn error_schema() -> Value {
    let inner = obj(
        &[
            ("code", with(string(), "description", "`not_found`, `<thing>_not_found`, `validation_failed`, …")),
            ("type", with(string(), "description", "What the error is about: `request`, `session`, `storage`, …")),
            ("message", string()),
            ("retryable", boolean()),
            ("suggestion", nullable(string())),
            ("request_id", string()),
            ("details", object()),
        ],
        &["code", "type", "message", "retryable", "suggestion", "request_id", "details"],
    );
    obj(&[("error", inner)], &["error"])
}

/// One operation under construction.
pub struct Op {
    pub method: String,
    pub path: &'static str,
    v: Value,
    errors: Vec<u16>,
    open: bool,
}

/// `get(path, operationId, summary)`, and so on for each method.
pub fn get(path: &'static str, id: &str, summary: &str) -> Op {
    Op::new("get", path, id, summary)
}

pub fn post(path: &'static str, id: &str, summary: &str) -> Op {
    Op::new("post", path, id, summary)
}

pub fn put(path: &'static str, id: &str, summary: &str) -> Op {
    Op::new("put", path, id, summary)
}

pub fn patch(path: &'static str, id: &str, summary: &str) -> Op {
    Op::new("patch", path, id, summary)
}

pub fn delete(path: &'static str, id: &str, summary: &str) -> Op {
    Op::new("delete", path, id, summary)
}

/// Sets the tag of every operation of a group.
pub fn tagged(tag: &str, ops: Vec<Op>) -> Vec<Op> {
    debug_assert!(TAGS.iter().any(|(t, _)| *t == tag), "unknown tag {tag}");
    ops.into_iter()
        .map(|mut op| {
            op.v["tags"] = json!([tag]);
            op
        })
        .collect()
}

impl Op {
    fn new(method: &str, path: &'static str, id: &str, summary: &str) -> Op {
        let params: Vec<Value> = path_names(path).map(|name| path_param(path, name)).collect();
        let mut v = json!({"operationId": id, "summary": summary, "responses": {}});
        if !params.is_empty() {
            v["parameters"] = Value::Array(params);
        }
        Op { method: method.into(), path, v, errors: vec![], open: false }
    }

    pub fn describe(mut self, text: &str) -> Op {
        self.v["description"] = json!(text);
        self
    }

    /// An optional query parameter.
    pub fn query(self, name: &str, schema: Value, description: &str) -> Op {
        self.param("query", name, false, schema, description)
    }

    /// A query parameter the handler refuses to go without (400).
    pub fn query_required(self, name: &str, schema: Value, description: &str) -> Op {
        self.param("query", name, true, schema, description)
    }

    pub fn header(self, name: &str, schema: Value, description: &str) -> Op {
        self.param("header", name, false, schema, description)
    }

    fn param(mut self, place: &str, name: &str, required: bool, schema: Value, description: &str) -> Op {
        let p = json!({"name": name, "in": place, "required": required, "schema": schema, "description": description});
        match self.v["parameters"].as_array_mut() {
            Some(list) => list.push(p),
            None => self.v["parameters"] = json!([p]),
        }
        self
    }

    /// `?cursor&limit` of a paged list.
    pub fn page(self) -> Op {
        self.query("cursor", cursor(), "`next_cursor` of the previous page (opaque; others are 400)").query(
            "limit",
            limit(),
            "Page size (default 50)",
        )
    }

    /// A required JSON body.
    pub fn body(self, schema: Value) -> Op {
        self.body_as("application/json", schema, true)
    }

    /// A JSON body that may be left out (an empty body takes the defaults).
    pub fn opt_body(self, schema: Value) -> Op {
        self.body_as("application/json", schema, false)
    }

    pub fn body_as(mut self, content_type: &str, schema: Value, required: bool) -> Op {
        self.v["requestBody"] = json!({"required": required, "content": {content_type: {"schema": schema}}});
        self
    }

    /// 200 with a JSON body.
    pub fn ok(self, schema: Value) -> Op {
        self.answer(200, "OK", "application/json", schema)
    }

    pub fn created(self, schema: Value) -> Op {
        self.answer(201, "Created", "application/json", schema)
    }

    pub fn no_content(mut self) -> Op {
        self.v["responses"]["204"] = json!({"description": "Done; no body"});
        self
    }

    pub fn answer(mut self, status: u16, description: &str, content_type: &str, schema: Value) -> Op {
        let r = &mut self.v["responses"][status.to_string()];
        if r.is_null() {
            *r = json!({"description": description, "content": {}});
        }
        r["content"][content_type] = json!({"schema": schema});
        self
    }

    /// The error statuses this operation answers besides the common ones.
    pub fn errs(mut self, statuses: &[u16]) -> Op {
        self.errors.extend_from_slice(statuses);
        self
    }

    /// Needs no token, even with `auth.mode = "token"`.
    pub fn open(mut self) -> Op {
        self.open = true;
        self
    }

    /// Adds the error responses (401/403 unless open, the listed ones, and `4XX`/`5XX` for the
    /// rest: timeouts, 413, storage errors) and the security override of open routes.
    fn finish(mut self) -> Value {
        let mut statuses = self.errors.clone();
        if !self.open {
            statuses.extend([401, 403]);
        }
        statuses.sort_unstable();
        statuses.dedup();
        let responses = &mut self.v["responses"];
        for s in statuses {
            responses[s.to_string()] = error_response(error_text(s));
        }
        responses["4XX"] = error_response("Any other client error (408 timeout, 413 payload too large, …)");
        responses["5XX"] = error_response("Server error (503 `storage_busy` is retryable, 507 `storage_full`)");
        if self.open {
            self.v["security"] = json!([]);
        }
        self.v
    }
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": r("Error")}}})
}

fn error_text(status: u16) -> &'static str {
    match status {
        400 => "`bad_request` or `validation_failed` (`details.field` names the field)",
        401 => "`unauthorized`: no or a bad bearer token",
        403 => "`forbidden`: the token may not do this",
        404 => "`<thing>_not_found`",
        409 => "`conflict`",
        413 => "`payload_too_large`",
        422 => "The input is well-formed but cannot be applied",
        503 => "Unavailable; retryable",
        _ => "Error",
    }
}

/// The `{name}`s of a path template.
pub fn path_names(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
}

/// Path parameters by name (and, for `id`, by resource).
fn path_param(path: &str, name: &str) -> Value {
    let (schema, description) = match name {
        "id" if path.starts_with("/api/v1/projects/") => (uuid(), "Project id"),
        "id" if path.starts_with("/api/v1/sessions/") => (uuid(), "Session id"),
        "id" => (string(), "Token id"),
        "uuid" => (uuid(), "Conversation (session) id"),
        "mid" => (uuid(), "Memory id"),
        "tid" => (positive(), "Task id"),
        "dep" => (positive(), "Id of the task depended on"),
        "sid" => (positive(), "Snapshot id"),
        "file_id" => (string(), "File id"),
        "vid" | "a" | "b" => (string(), "Version id"),
        "job_id" => (string(), "Job id"),
        "run_id" => (string(), "Action run id"),
        "path" => (string(), "Asset path under /ui/"),
        other => panic!("no schema for path parameter {other} of {path}"),
    };
    json!({"name": name, "in": "path", "required": true, "schema": schema, "description": description})
}

// ---- JSON Schema helpers -------------------------------------------------------------------

pub fn r(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

pub fn string() -> Value {
    json!({"type": "string"})
}

/// A string of `min..=max` characters; with `min >= 1` it must not be blank either.
pub fn text(min: u64, max: u64) -> Value {
    let mut s = json!({"type": "string", "minLength": min, "maxLength": max});
    if min > 0 {
        s["pattern"] = json!(NOT_BLANK);
    }
    s
}

/// Has a character that Rust's `str::trim` keeps (Unicode `White_Space` spelled out, since
/// `\s` means different sets in different regex engines).
pub const NOT_BLANK: &str =
    "[^\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";

/// An opaque list cursor (base64url); one this server did not issue is 400.
pub fn cursor() -> Value {
    json!({"type": "string", "pattern": "^[A-Za-z0-9_-]+$"})
}

/// One server-sent event; `data` is a JSON text.
pub fn sse_event(events: &[&str]) -> Value {
    obj(&[("event", one_of(events)), ("id", string()), ("data", string())], &["data"])
}

pub fn uuid() -> Value {
    json!({"type": "string", "format": "uuid"})
}

pub fn int() -> Value {
    json!({"type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX})
}

/// An integer id: 1 or more.
pub fn positive() -> Value {
    json!({"type": "integer", "format": "int64", "minimum": 1, "maximum": i64::MAX})
}

/// `limit` of a page: 1..=200 (`limits.max_page`).
pub fn limit() -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": 200, "default": 50})
}

pub fn boolean() -> Value {
    json!({"type": "boolean"})
}

/// Any JSON value.
pub fn any() -> Value {
    json!({})
}

pub fn object() -> Value {
    json!({"type": "object"})
}

pub fn array(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

pub fn one_of(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}

/// Also allows `null` (an `Option` field).
pub fn nullable(mut s: Value) -> Value {
    match s.get("type").cloned() {
        Some(Value::String(t)) => s["type"] = json!([t, "null"]),
        _ => return json!({"anyOf": [s, {"type": "null"}]}),
    }
    if let Some(Value::Array(e)) = s.get_mut("enum") {
        e.push(Value::Null);
    }
    s
}

/// Sets one keyword of a schema.
pub fn with(mut s: Value, key: &str, value: impl Into<Value>) -> Value {
    s[key] = value.into();
    s
}

/// An object; unknown fields are allowed (they are ignored on input).
pub fn obj(props: &[(&str, Value)], required: &[&str]) -> Value {
    let properties: Map<String, Value> = props.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": true})
}

/// A schema from a compact field list such as `"id: int, name: string?, tags: [string],
/// kind: a|b, files~: [SetFile]"`. Every field is required unless its name ends in `~`; `T?`
/// also allows null; `[T]` is an array; a capitalised name is a `$ref`; `a|b` an enum.
pub fn shape(fields: &str) -> Value {
    let (mut props, mut required) = (vec![], vec![]);
    for field in fields.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let (name, ty) = field.split_once(':').unwrap_or_else(|| panic!("no type in {field:?}"));
        let name = name.trim();
        let name = name.strip_suffix('~').unwrap_or_else(|| {
            required.push(name);
            name
        });
        props.push((name, type_of(ty.trim())));
    }
    obj(&props, &required)
}

fn type_of(t: &str) -> Value {
    if let Some(inner) = t.strip_suffix('?') {
        return nullable(type_of(inner));
    }
    if let Some(inner) = t.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        return array(type_of(inner));
    }
    if t.contains('|') {
        return one_of(&t.split('|').collect::<Vec<_>>());
    }
    match t {
        "string" => string(),
        "int" => int(),
        "number" => json!({"type": "number"}),
        "bool" => boolean(),
        "any" => any(),
        "object" => object(),
        _ if t.starts_with(|c: char| c.is_ascii_uppercase()) => r(t),
        _ => panic!("unknown type {t:?}"),
    }
}

/// `{"items": [...], "next_cursor": string | null}`.
pub fn list(item: Value) -> Value {
    obj(&[("items", array(item)), ("next_cursor", nullable(string()))], &["items", "next_cursor"])
}

/// A list whose cursor is an integer (logs and message history: pass it as `after`/`before`).
pub fn int_list(item: Value) -> Value {
    obj(&[("items", array(item)), ("next_cursor", nullable(int()))], &["items", "next_cursor"])
}

#[cfg(test)]
mod tests;
