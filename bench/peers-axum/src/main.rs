//! Benchmark peers driven by bench/run under the same wrk scripts as Planbase.
//!
//! `peers-axum echo --bind ADDR`
//!     Any route, any method: parses the JSON body (if any) and answers it back (201 for a
//!     POST, 200 otherwise). This is the HTTP + JSON ceiling: axum, tokio and serde_json
//!     with no storage at all, under exactly the load of the append rows.
//!
//! `peers-axum pg --bind ADDR --pg "host=/socket/dir port=5432 user=bench dbname=bench" [--pool 16]`
//!     Planbase's message routes over seed 001's `messages` table in PostgreSQL:
//!     `POST /api/v1/sessions/{id}/messages` (an AI SDK UIMessage: one INSERT … RETURNING,
//!     autocommit, through a deadpool-postgres pool) and
//!     `GET /api/v1/sessions/{id}/messages?limit=50` (the newest `limit`, ascending).
//!     Seed 001's table has no `parts` column: the parts array is stored as
//!     `metadata = {"parts": [...]}` and `content` holds the text, so the bytes written match
//!     Planbase's row.
//!
//! `peers-axum sqlite --bind ADDR --dir DIR`
//!     The minimal prototype of Planbase's design that issue #9's baseline describes: one
//!     SQLite file per session under DIR (WAL, synchronous=NORMAL), one connection per file
//!     behind a mutex, each `POST /api/v1/sessions/{id}/messages` one INSERT on tokio's
//!     blocking pool. No validation beyond parsing, no idempotency, no search index, no
//!     registry: the floor a full server is measured against.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

fn usage() -> ! {
    eprintln!(
        "usage: peers-axum echo --bind ADDR\n       peers-axum pg --bind ADDR --pg CONNSTR [--pool N]\n       \
         peers-axum sqlite --bind ADDR --dir DIR"
    );
    std::process::exit(2)
}

struct Args {
    mode: String,
    bind: SocketAddr,
    pg: Option<String>,
    pool: usize,
    dir: Option<std::path::PathBuf>,
}

fn parse_args() -> Args {
    let mut it = std::env::args().skip(1);
    let mode = it.next().unwrap_or_else(|| usage());
    let (mut bind, mut pg, mut pool, mut dir) = (None, None, 16usize, None);
    while let Some(flag) = it.next() {
        let val = it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--bind" => bind = Some(val.parse().unwrap_or_else(|_| usage())),
            "--pg" => pg = Some(val),
            "--pool" => pool = val.parse().unwrap_or_else(|_| usage()),
            "--dir" => dir = Some(val.into()),
            _ => usage(),
        }
    }
    Args { mode, bind: bind.unwrap_or_else(|| usage()), pg, pool, dir }
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let app = match args.mode.as_str() {
        "echo" => Router::new().fallback(echo),
        "pg" => pg_router(args.pg.as_deref().unwrap_or_else(|| usage()), args.pool).await,
        "sqlite" => sqlite_router(args.dir.clone().unwrap_or_else(|| usage())),
        _ => usage(),
    };
    let listener = tokio::net::TcpListener::bind(args.bind).await.expect("bind");
    eprintln!("peers-axum {} listening on {}", args.mode, args.bind);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .expect("serve");
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn error(status: StatusCode, msg: &str) -> Response {
    json_response(status, serde_json::to_vec(&json!({"error": {"message": msg}})).unwrap())
}

/// Parses and re-serialises the body: the work every JSON API does, and nothing else.
async fn echo(method: axum::http::Method, body: Bytes) -> Response {
    let value: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => return error(StatusCode::BAD_REQUEST, "invalid JSON"),
        }
    };
    let status = if method == axum::http::Method::POST { StatusCode::CREATED } else { StatusCode::OK };
    json_response(status, serde_json::to_vec(&value).unwrap())
}

// ---- the Postgres path ----

const INSERT: &str = "INSERT INTO messages (session_id, role, content, metadata) \
                      VALUES ($1::text::uuid, $2::text::message_role, $3, $4::text::jsonb) \
                      RETURNING id::text, to_char(\"timestamp\", 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";
const NEWEST: &str = "SELECT id::text, role::text, content, metadata::text, \
                      to_char(\"timestamp\", 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') \
                      FROM messages WHERE session_id = $1::text::uuid \
                      ORDER BY \"timestamp\" DESC LIMIT $2";

async fn pg_router(conn: &str, size: usize) -> Router {
    let cfg: tokio_postgres::Config = conn.parse().expect("--pg connection string");
    let mgr =
        Manager::from_config(cfg, tokio_postgres::NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    let pool = Pool::builder(mgr).max_size(size).build().expect("pool");
    // Fail fast if the database is not there.
    pool.get().await.expect("connect to PostgreSQL").simple_query("SELECT 1").await.expect("query");
    Router::new().route("/api/v1/sessions/{id}/messages", get(pg_newest).post(pg_append)).with_state(Arc::new(pool))
}

#[derive(Deserialize)]
struct UiMessage {
    role: String,
    parts: Box<RawValue>,
}

#[derive(Deserialize)]
struct TextPart {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

/// The UIMessage of an append and its plain text (the text parts joined), or a 400.
fn parse_message(body: &[u8]) -> Result<(UiMessage, String), Response> {
    let msg: UiMessage = serde_json::from_slice(body).map_err(|e| error(StatusCode::BAD_REQUEST, &e.to_string()))?;
    let parts: Vec<TextPart> =
        serde_json::from_str(msg.parts.get()).map_err(|e| error(StatusCode::BAD_REQUEST, &e.to_string()))?;
    let content =
        parts.iter().filter(|p| p.kind == "text").filter_map(|p| p.text.as_deref()).collect::<Vec<_>>().join("\n");
    Ok((msg, content))
}

async fn pg_append(State(pool): State<Arc<Pool>>, Path(sid): Path<String>, body: Bytes) -> Response {
    let (msg, content) = match parse_message(&body) {
        Ok(m) => m,
        Err(resp) => return resp,
    };
    let metadata = format!("{{\"parts\":{}}}", msg.parts.get());
    let client = match pool.get().await {
        Ok(c) => c,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    };
    let stmt = match client.prepare_cached(INSERT).await {
        Ok(s) => s,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    match client.query_one(&stmt, &[&sid, &msg.role, &content, &metadata]).await {
        Ok(row) => {
            let (id, ts): (String, String) = (row.get(0), row.get(1));
            let out = json!({"id": id, "session_id": sid, "role": msg.role, "parts": msg.parts, "created_at": ts});
            json_response(StatusCode::CREATED, serde_json::to_vec(&out).unwrap())
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

#[derive(Deserialize)]
struct Page {
    limit: Option<i64>,
}

async fn pg_newest(State(pool): State<Arc<Pool>>, Path(sid): Path<String>, Query(q): Query<Page>) -> Response {
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let client = match pool.get().await {
        Ok(c) => c,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    };
    let stmt = match client.prepare_cached(NEWEST).await {
        Ok(s) => s,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let rows = match client.query(&stmt, &[&sid, &limit]).await {
        Ok(r) => r,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let mut items = Vec::with_capacity(rows.len());
    for row in rows.iter().rev() {
        let meta: String = row.get(3);
        let meta: Value = serde_json::from_str(&meta).unwrap_or(Value::Null);
        items.push(json!({
            "id": row.get::<_, String>(0),
            "role": row.get::<_, String>(1),
            "content": row.get::<_, String>(2),
            "parts": meta.get("parts").cloned().unwrap_or(Value::Null),
            "created_at": row.get::<_, String>(4),
        }));
    }
    let next = if rows.len() as i64 == limit { Value::Bool(true) } else { Value::Null };
    json_response(StatusCode::OK, serde_json::to_vec(&json!({"items": items, "more": next})).unwrap())
}

// ---- the minimal SQLite-file-per-session prototype ----

type Shard = Arc<std::sync::Mutex<rusqlite::Connection>>;

struct Files {
    dir: std::path::PathBuf,
    open: std::sync::Mutex<std::collections::HashMap<String, Shard>>,
    next_id: std::sync::atomic::AtomicU64,
}

fn sqlite_router(dir: std::path::PathBuf) -> Router {
    std::fs::create_dir_all(&dir).expect("--dir");
    let files = Files { dir, open: Default::default(), next_id: Default::default() };
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/api/v1/sessions/{id}/messages", axum::routing::post(sqlite_append))
        .with_state(Arc::new(files))
}

/// The session's connection, opened (and the file made) on first use.
fn shard(files: &Files, sid: &str) -> rusqlite::Result<Shard> {
    if let Some(s) = files.open.lock().unwrap().get(sid) {
        return Ok(s.clone());
    }
    let c = rusqlite::Connection::open(files.dir.join(format!("session_{sid}.sqlite")))?;
    c.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
         CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
             content TEXT NOT NULL, parts TEXT NOT NULL, created_at TEXT NOT NULL);",
    )?;
    let s = Arc::new(std::sync::Mutex::new(c));
    Ok(files.open.lock().unwrap().entry(sid.to_string()).or_insert(s).clone())
}

async fn sqlite_append(State(files): State<Arc<Files>>, Path(sid): Path<String>, body: Bytes) -> Response {
    // File names come from a checked id only.
    if sid.len() != 36 || !sid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return error(StatusCode::BAD_REQUEST, "session id must be a UUID");
    }
    let (msg, content) = match parse_message(&body) {
        Ok(m) => m,
        Err(resp) => return resp,
    };
    let id = format!("m{}", files.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let created_at =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis().to_string();
    let (row_id, role, parts_text, at) =
        (id.clone(), msg.role.clone(), msg.parts.get().to_string(), created_at.clone());
    let done = tokio::task::spawn_blocking(move || -> rusqlite::Result<i64> {
        let s = shard(&files, &sid)?;
        let c = s.lock().unwrap();
        c.prepare_cached("INSERT INTO messages (id, role, content, parts, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")?
            .execute(rusqlite::params![row_id, role, content, parts_text, at])?;
        Ok(c.last_insert_rowid())
    })
    .await;
    match done {
        Ok(Ok(seq)) => {
            let out = json!({"id": id, "seq": seq, "role": msg.role, "parts": msg.parts, "created_at": created_at});
            json_response(StatusCode::CREATED, serde_json::to_vec(&out).unwrap())
        }
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}
