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
