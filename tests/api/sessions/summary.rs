//! The registry summary: read-your-writes from the in-memory overlay, the flush, catch-up
//! after kill -9 (the built binary), and `planbase reindex` after the registry is lost.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::Router;
use serde_json::{json, Value};

use super::{append, create_session, user_text};
use crate::helpers::TestApp;

#[tokio::test]
async fn reads_include_every_acknowledged_append_and_the_flush_lands() {
    let app = TestApp::spawn().await;
    let sid = create_session(&app, json!({"user_id": "u"})).await["id"].as_str().unwrap().to_string();
    for i in 0..25 {
        let (st, _) = append(&app, &sid, user_text(&format!("Plan my week, please #{i}"))).await;
        assert_eq!(st, 201);
        let (_, s) = app.get(&format!("/api/v1/sessions/{sid}")).await;
        assert_eq!(s["message_count"], i + 1, "{s}");
    }
    // A merge is not a new message.
    let (_, m) = append(&app, &sid, user_text("x")).await;
    append(&app, &sid, json!({"id": m["id"], "role": "user", "parts": [{"type": "text", "text": "y"}]})).await;
    let (_, list) = app.get("/api/v1/sessions?user_id=u").await;
    let row = &list["items"][0];
    assert_eq!(row["message_count"], 26, "{row}");
    assert_eq!(row["name"], "Plan my week, please #0");
    assert_eq!(row["last_message_at"], m["created_at"]);
    // The flusher writes the same numbers to the registry within a second.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let reg = app.state.storage.shared.registry.get().unwrap();
    let (count, seq, name): (i64, i64, String) = reg
        .query_row("SELECT message_count, summary_seq, name FROM sessions WHERE id = ?1", [&sid], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!((count, seq, name.as_str()), (26, 26, "Plan my week, please #0"));
}

#[tokio::test]
async fn a_user_name_is_never_replaced_by_the_auto_title() {
    let app = TestApp::spawn().await;
    let sid = create_session(&app, json!({"name": "Named"})).await["id"].as_str().unwrap().to_string();
    append(&app, &sid, user_text("first words")).await;
    let (_, s) = app.get(&format!("/api/v1/sessions/{sid}")).await;
    assert_eq!((s["name"].as_str(), s["name_source"].as_str()), (Some("Named"), Some("user")));
}

fn planbase(root: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_planbase"));
    c.env_remove("DB_ROOT").env("PLANBASE_STORAGE_DB_ROOT", root).env("PLANBASE_CONFIG", "/dev/null");
    c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn serve(root: &std::path::Path, port: u16) -> Child {
    let mut child = planbase(root).args(["serve", "--bind", &format!("127.0.0.1:{port}")]).spawn().unwrap();
    let url = format!("http://127.0.0.1:{port}/ready");
    let mut ready = false;
    for _ in 0..300 {
        ready = reqwest::get(&url).await.is_ok_and(|r| r.status() == 200);
        if ready {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if !ready {
        let _ = child.kill();
        let _ = child.wait();
        panic!("server did not become ready");
    }
    child
}

async fn call(method: reqwest::Method, url: String, body: Option<Value>) -> Value {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn counts_catch_up_after_kill_9_without_touching_the_shards() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let mut first = serve(dir.path(), port).await;
    let s = call(reqwest::Method::POST, format!("{base}/sessions"), Some(json!({}))).await;
    let sid = s["id"].as_str().unwrap().to_string();
    for i in 0..40 {
        call(reqwest::Method::POST, format!("{base}/sessions/{sid}/messages"), Some(user_text(&format!("m{i}")))).await;
    }
    first.kill().unwrap(); // SIGKILL: pending summary deltas are lost
    first.wait().unwrap();
    let mut second = serve(dir.path(), port).await;
    // The list never opens shards: only the background catch-up scan can fix it.
    let mut count = Value::Null;
    for _ in 0..100 {
        let list = call(reqwest::Method::GET, format!("{base}/sessions"), None).await;
        count = list["items"][0]["message_count"].clone();
        if count == 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(count, 40);
    let got = call(reqwest::Method::GET, format!("{base}/sessions/{sid}"), None).await;
    assert_eq!(got["message_count"], 40, "{got}");
    unsafe { libc::kill(second.id() as i32, libc::SIGTERM) };
    assert!(second.wait().unwrap().success());
}

#[tokio::test]
async fn reindex_rebuilds_session_rows_after_the_registry_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    let app = TestApp::spawn_at(root.clone(), |_| {}, Router::new()).await.unwrap();
    for n in 0..3 {
        let sid = create_session(&app, json!({"user_id": format!("u{n}")})).await["id"].as_str().unwrap().to_string();
        for i in 0..=n {
            append(&app, &sid, user_text(&format!("hello {n} {i}"))).await;
        }
    }
    let (_, before) = app.get("/api/v1/sessions").await;
    app.stop().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", root.join("main/registry.sqlite").display()));
    }
    let out = planbase(&root).arg("reindex").stdout(Stdio::piped()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("3 sessions indexed"), "{text}");
    let app = TestApp::spawn_at(root, |_| {}, Router::new()).await.unwrap();
    let (_, after) = app.get("/api/v1/sessions").await;
    let keys = ["id", "user_id", "name", "message_count", "last_message_at", "status", "created_at"];
    let pick = |v: &Value| -> Vec<Vec<Value>> {
        v["items"].as_array().unwrap().iter().map(|s| keys.iter().map(|k| s[*k].clone()).collect()).collect()
    };
    assert_eq!(pick(&after), pick(&before));
    let (st, r) = crate::projects::post(&app, "/api/v1/admin/reindex", json!({})).await;
    assert_eq!((st, r["sessions"]["sessions"].as_i64()), (200, Some(3)), "{r}");
    let (_, again) = app.get("/api/v1/sessions").await;
    assert_eq!(pick(&again), pick(&before));
}
