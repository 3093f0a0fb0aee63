//! Token authentication: open routes, 401 without or with a bad or revoked token, admin-only
//! routes, and `planbase token create` beside a running server.

use std::process::{Command, Stdio};

use axum::Router;
use serde_json::{json, Value};

use crate::helpers::{assert_error_shape, TestApp};

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = app.client.request(method, app.url(path));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.unwrap();
    let s = resp.status().as_u16();
    (s, resp.json().await.unwrap_or(Value::Null))
}

fn cli_token(root: &std::path::Path, user: &str, admin: bool) -> String {
    let mut c = Command::new(env!("CARGO_BIN_EXE_planbase"));
    c.env_remove("DB_ROOT")
        .env("PLANBASE_STORAGE_DB_ROOT", root)
        .env("PLANBASE_CONFIG", "/dev/null")
        .stdin(Stdio::null());
    c.args(["token", "create", "--user", user]);
    if admin {
        c.arg("--admin");
    }
    let out = c.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.trim().rsplit(' ').next().unwrap().to_string()
}

#[tokio::test]
async fn tokens_guard_everything_but_the_open_routes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    let app = TestApp::spawn_at(root.clone(), |c| c.auth.mode = planbase::config::AuthMode::Token, Router::new())
        .await
        .unwrap();
    let admin = cli_token(&root, "root", true);
    let user = cli_token(&root, "ann", false);
    use reqwest::Method as M;
    assert_eq!(call(&app, M::GET, "/health", None, None).await.0, 200, "open");
    for token in [None, Some("pb_wrong"), Some("")] {
        let (s, b) = call(&app, M::GET, "/api/v1/projects", token, None).await;
        assert_eq!(s, 401, "{token:?}");
        assert_error_shape(&b, "unauthorized");
    }
    assert_eq!(call(&app, M::GET, "/metrics", None, None).await.0, 401, "metrics are private by default");
    assert_eq!(call(&app, M::GET, "/api/v1/projects", Some(&user), None).await.0, 200);
    let (s, b) = call(&app, M::POST, "/api/v1/admin/tokens", Some(&user), Some(json!({"user_id": "x"}))).await;
    assert_eq!(s, 403);
    assert_error_shape(&b, "forbidden");
    let (s, made) = call(&app, M::POST, "/api/v1/admin/tokens", Some(&admin), Some(json!({"user_id": "bob"}))).await;
    assert_eq!(s, 201, "{made}");
    let bob = made["token"].as_str().unwrap().to_string();
    assert_eq!(call(&app, M::GET, "/api/v1/projects", Some(&bob), None).await.0, 200);
    let (_, list) = call(&app, M::GET, "/api/v1/admin/tokens", Some(&admin), None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 3);
    assert!(!list.to_string().contains(&bob) && !list.to_string().contains("token_hash"), "secrets are never listed");
    let id = made["id"].as_str().unwrap();
    assert_eq!(call(&app, M::DELETE, &format!("/api/v1/admin/tokens/{id}"), Some(&admin), None).await.0, 204);
    assert_eq!(call(&app, M::GET, "/api/v1/projects", Some(&bob), None).await.0, 401, "revoked");
    assert_eq!(call(&app, M::DELETE, "/api/v1/admin/tokens/nope", Some(&admin), None).await.0, 404);
    let raw = std::fs::read(root.join("main/auth.sqlite")).unwrap();
    let wal = std::fs::read(root.join("main/auth.sqlite-wal")).unwrap_or_default();
    for secret in [&admin, &user, &bob] {
        let needle = secret.as_bytes();
        assert!(
            !raw.windows(needle.len()).any(|w| w == needle) && !wal.windows(needle.len()).any(|w| w == needle),
            "stored hashed"
        );
    }
}

#[tokio::test]
async fn public_metrics_opens_only_metrics() {
    let app = TestApp::spawn_with(
        |c| {
            c.auth.mode = planbase::config::AuthMode::Token;
            c.auth.public_metrics = true;
        },
        Router::new(),
    )
    .await;
    assert_eq!(call(&app, reqwest::Method::GET, "/metrics", None, None).await.0, 200);
    assert_eq!(call(&app, reqwest::Method::GET, "/api/v1/projects", None, None).await.0, 401);
}

/// Users see only their own sessions (404 for anyone else's, in lists, search and the
/// compat routes too); projects are readable by all and writable by their owner and admins.
#[tokio::test]
async fn users_only_touch_their_own_sessions_and_projects() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    let app = TestApp::spawn_at(root.clone(), |c| c.auth.mode = planbase::config::AuthMode::Token, Router::new())
        .await
        .unwrap();
    let (a, b, admin) =
        (cli_token(&root, "ann", false), cli_token(&root, "bob", false), cli_token(&root, "root", true));
    use reqwest::Method as M;
    let (s, sa) = call(&app, M::POST, "/api/v1/sessions", Some(&a), Some(json!({"user_id": "someone-else"}))).await;
    assert_eq!((s, sa["user_id"].as_str()), (201, Some("ann")), "the token decides the user");
    let sid = sa["id"].as_str().unwrap();
    let msg = json!({"role": "user", "parts": [{"type": "text", "text": "secret platypus"}]});
    assert_eq!(
        call(&app, M::POST, &format!("/api/v1/sessions/{sid}/messages"), Some(&a), Some(msg.clone())).await.0,
        201
    );
    for path in [
        format!("/api/v1/sessions/{sid}"),
        format!("/api/v1/sessions/{sid}/messages"),
        format!("/api/conversations/{sid}"),
    ] {
        let (s, body) = call(&app, M::GET, &path, Some(&b), None).await;
        assert_eq!(s, 404, "{path}");
        assert_error_shape(&body, "session_not_found");
        assert_eq!(call(&app, M::GET, &path, Some(&a), None).await.0, 200, "{path}");
    }
    assert_eq!(call(&app, M::POST, &format!("/api/v1/sessions/{sid}/messages"), Some(&b), Some(msg)).await.0, 404);
    let chat = json!({"id": sid, "messages": [{"id": "x", "role": "user", "parts": [{"type": "text", "text": "hi"}]}]});
    assert_eq!(call(&app, M::POST, "/api/v1/chat", Some(&b), Some(chat)).await.0, 404);
    let (_, list) = call(&app, M::GET, "/api/v1/sessions?user_id=ann", Some(&b), None).await;
    assert_eq!(list["items"], json!([]), "the user_id filter is the caller's");
    let (_, conv) = call(&app, M::GET, "/api/conversations", Some(&b), None).await;
    assert_eq!(conv["items"], json!([]));
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let (_, found) = call(&app, M::GET, "/api/v1/search?q=platypus", Some(&b), None).await;
    assert_eq!(found["items"], json!([]), "search is filtered by the caller");
    let (_, found) = call(&app, M::GET, "/api/v1/search?q=platypus", Some(&a), None).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    let (s, p) = call(&app, M::POST, "/api/v1/projects", Some(&a), Some(json!({"name": "ann's"}))).await;
    assert_eq!((s, p["owner"].as_str()), (201, Some("ann")));
    let pid = p["id"].as_str().unwrap();
    assert_eq!(call(&app, M::GET, &format!("/api/v1/projects/{pid}"), Some(&b), None).await.0, 200, "readable by all");
    let (s, e) =
        call(&app, M::PATCH, &format!("/api/v1/projects/{pid}"), Some(&b), Some(json!({"name": "mine"}))).await;
    assert_eq!(s, 403);
    assert_error_shape(&e, "forbidden");
    assert_eq!(
        call(&app, M::PATCH, &format!("/api/v1/projects/{pid}"), Some(&a), Some(json!({"name": "ok"}))).await.0,
        200
    );
    assert_eq!(
        call(&app, M::PATCH, &format!("/api/v1/projects/{pid}"), Some(&admin), Some(json!({"name": "admin"}))).await.0,
        200
    );
    assert_eq!(
        call(&app, M::GET, &format!("/api/v1/sessions/{sid}"), Some(&admin), None).await.0,
        200,
        "admins see all"
    );
}

#[tokio::test]
async fn project_jobs_are_written_by_the_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    let app = TestApp::spawn_at(root.clone(), |c| c.auth.mode = planbase::config::AuthMode::Token, Router::new())
        .await
        .unwrap();
    let (a, b) = (cli_token(&root, "ann", false), cli_token(&root, "bob", false));
    use reqwest::Method as M;
    let (_, p) = call(&app, M::POST, "/api/v1/projects", Some(&a), Some(json!({"name": "p"}))).await;
    let pid = p["id"].as_str().unwrap();
    let (s, job) =
        call(&app, M::POST, &format!("/api/v1/projects/{pid}/jobs"), Some(&a), Some(json!({"job_type": "t"}))).await;
    assert_eq!(s, 201, "{job}");
    let jid = job["job_id"].as_str().unwrap();
    assert_eq!(
        call(&app, M::POST, &format!("/api/v1/projects/{pid}/jobs"), Some(&b), Some(json!({"job_type": "t"}))).await.0,
        403
    );
    assert_eq!(call(&app, M::POST, &format!("/api/v1/jobs/{jid}/cancel"), Some(&b), None).await.0, 403);
    assert_eq!(call(&app, M::GET, &format!("/api/v1/jobs/{jid}"), Some(&b), None).await.0, 200, "readable by all");
    assert_eq!(call(&app, M::POST, &format!("/api/v1/jobs/{jid}/cancel"), Some(&a), None).await.0, 200);
}
