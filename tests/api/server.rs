use axum::Router;

use crate::helpers::TestApp;

#[tokio::test]
async fn health_and_ready_answer_with_a_request_id() {
    let app = TestApp::spawn().await;
    let r = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("x-request-id").is_some());
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["db_root_writable"], true);
    assert!(body["open_shards"].is_u64() && body["uptime_s"].is_u64());
    let (status, body) = app.get("/ready").await;
    assert_eq!((status, body["ready"].as_bool()), (200, Some(true)));
    let r = app.client.get(app.url("/health")).header("x-request-id", "my-req-1").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "my-req-1");
}

#[tokio::test]
async fn start_up_lays_out_db_root_and_migrates_shared_files() {
    let app = TestApp::spawn().await;
    for dir in ["main", "projects", "sessions", "jobs", "cache", "backups", "trash", "temp", "quarantine"] {
        assert!(app.root.join(dir).is_dir(), "{dir} missing");
    }
    for f in [
        "main/registry.sqlite",
        "main/search.sqlite",
        "main/auth.sqlite",
        "jobs/system_jobs.sqlite",
        "cache/llm_cache.sqlite",
        "cache/embedding_cache.sqlite",
    ] {
        let conn = rusqlite::Connection::open(app.root.join(f)).unwrap();
        let v: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert!(v >= 1, "{f} not migrated");
        assert_eq!(mode, "wal", "{f}");
    }
    assert!(app.root.join(".lock").exists());
}

#[tokio::test]
async fn a_second_server_on_the_same_root_refuses_and_a_restart_works() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    let first = TestApp::spawn_at(root.clone(), |_| {}, Router::new()).await.unwrap();
    let err = TestApp::spawn_at(root.clone(), |_| {}, Router::new()).await.err().expect("second start must fail");
    assert!(err.to_string().contains("another Planbase server holds"), "{err}");
    first.stop().await;
    let again = TestApp::spawn_at(root.clone(), |_| {}, Router::new()).await.unwrap();
    assert_eq!(again.get("/health").await.0, 200);
    again.stop().await;
    let conn = rusqlite::Connection::open(root.join("main/registry.sqlite")).unwrap();
    let clean: i64 = conn.query_row("SELECT clean_shutdown FROM flush_state", [], |r| r.get(0)).unwrap();
    assert_eq!(clean, 1, "a graceful stop is recorded");
}

#[tokio::test]
async fn a_foreign_file_in_main_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    std::fs::create_dir_all(root.join("main")).unwrap();
    let path = root.join("main/search.sqlite");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE other(x); PRAGMA application_id = 42;").unwrap();
    drop(conn);
    let before = std::fs::read(&path).unwrap();
    let err = TestApp::spawn_at(root.clone(), |_| {}, Router::new()).await.err().expect("must refuse");
    let msg = err.to_string();
    assert!(msg.contains("search.sqlite") && msg.contains("expected a search file"), "{msg}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "the refused file is untouched");
}
