//! A session file damaged by hand: that session answers 503 `shard_unavailable`, its files
//! go to quarantine/ with a reason, every other session keeps working, and `planbase check`
//! reports it.

use std::io::{Seek, SeekFrom, Write};

use axum::Router;
use serde_json::{json, Value};

use crate::helpers::{assert_error_shape, TestApp};
use crate::projects::post;

async fn session_with_message(app: &TestApp) -> String {
    let (_, s) = post(app, "/api/v1/sessions", json!({})).await;
    let sid = s["id"].as_str().unwrap().to_string();
    let msg = json!({"role": "user", "parts": [{"type": "text", "text": "hello"}]});
    assert_eq!(post(app, &format!("/api/v1/sessions/{sid}/messages"), msg).await.0, 201);
    sid
}

#[tokio::test]
async fn a_corrupt_session_is_quarantined_and_the_others_keep_serving() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    let app = TestApp::spawn_at(root.clone(), |_| {}, Router::new()).await.unwrap();
    let (bad, good) = (session_with_message(&app).await, session_with_message(&app).await);
    app.stop().await;
    let path = root.join(format!("sessions/session_{bad}.sqlite"));
    let len = std::fs::metadata(&path).unwrap().len();
    let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.seek(SeekFrom::Start(4096)).unwrap();
    f.write_all(&vec![0xA5u8; (len - 4096) as usize]).unwrap();
    drop(f);

    let app = TestApp::spawn_at(root.clone(), |_| {}, Router::new()).await.unwrap();
    for _ in 0..2 {
        let (s, b): (u16, Value) = app.get(&format!("/api/v1/sessions/{bad}/messages")).await;
        assert_eq!(s, 503, "{b}");
        assert_error_shape(&b, "shard_unavailable");
    }
    let q = std::fs::read_dir(root.join("quarantine/session")).unwrap().next().unwrap().unwrap().path();
    assert!(q.file_name().unwrap().to_str().unwrap().starts_with(&bad));
    assert!(q.join(format!("session_{bad}.sqlite")).exists() && q.join("reason.txt").exists());
    assert!(!path.exists());
    let (s, page) = app.get(&format!("/api/v1/sessions/{good}/messages")).await;
    assert_eq!((s, page["items"].as_array().unwrap().len()), (200, 1));
    let msg = json!({"role": "user", "parts": [{"type": "text", "text": "still fine"}]});
    assert_eq!(post(&app, &format!("/api/v1/sessions/{good}/messages"), msg).await.0, 201);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    app.stop().await;
    let reg = rusqlite::Connection::open(root.join("main/registry.sqlite")).unwrap();
    let health: String = reg.query_row("SELECT health FROM sessions WHERE id = ?1", [&bad], |r| r.get(0)).unwrap();
    assert_eq!(health, "quarantined");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_planbase"))
        .env("PLANBASE_STORAGE_DB_ROOT", &root)
        .env("PLANBASE_CONFIG", "/dev/null")
        .arg("check")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success() && text.contains("quarantined"), "{text}");
}
