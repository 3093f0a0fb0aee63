//! The built binary: config errors, DB_ROOT problems, the lock, migrate and check.

use std::process::{Command, Stdio};
use std::time::Duration;

use axum::Router;

use crate::helpers::TestApp;

fn planbase(root: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_planbase"));
    c.env_remove("DB_ROOT").env("PLANBASE_STORAGE_DB_ROOT", root).env("PLANBASE_CONFIG", "/dev/null");
    c.stdin(Stdio::null());
    c
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn bad_config_fails_fast_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = run(planbase(dir.path()).arg("config").env("PLANBASE_STORAGE_SYNCHRONOUS", "often"));
    assert!(!ok);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("storage.synchronous"), "{err}");
    let file = dir.path().join("c.toml");
    std::fs::write(&file, "[storage]\ncolour = 1\n").unwrap();
    let (ok, _, err) = run(planbase(dir.path()).arg("serve").env("PLANBASE_CONFIG", &file));
    assert!(!ok && err.contains("storage.colour"), "{err}");
}

#[test]
fn an_unwritable_db_root_fails_fast() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "x").unwrap();
    let (ok, _, err) = run(planbase(&blocker.join("db")).args(["serve", "--bind", "127.0.0.1:0"]));
    assert!(!ok);
    assert!(err.contains("storage.db_root"), "{err}");
    assert_eq!(err.trim().lines().filter(|l| l.starts_with("planbase:")).count(), 1, "{err}");
}

#[test]
fn config_prints_the_effective_values() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, _) = run(planbase(dir.path()).arg("config").env("PLANBASE_STORAGE_MAX_OPEN_SHARDS", "77"));
    assert!(ok);
    assert!(out.contains("max_open_shards = 77"), "{out}");
    assert!(out.contains(&format!("db_root = \"{}\"", dir.path().display())), "{out}");
}

#[tokio::test]
async fn writing_commands_refuse_while_a_server_holds_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    let app = TestApp::spawn_at(root.clone(), |_| {}, Router::new()).await.unwrap();
    let (ok, _, err) = run(planbase(&root).arg("migrate"));
    assert!(!ok && err.contains("another Planbase server holds"), "{err}");
    let (ok, out, err) = run(planbase(&root).arg("check"));
    assert!(ok, "check works beside a server: {out} {err}");
    assert!(out.contains("6 files checked, 0 problems"), "{out}");
    app.stop().await;
    let (ok, out, err) = run(planbase(&root).arg("migrate"));
    assert!(ok, "{err}");
    assert!(out.contains("6 files, 0 upgraded, 0 failed"), "{out}");
}

#[tokio::test]
async fn check_reports_a_damaged_shard_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    TestApp::spawn_at(root.clone(), |_| {}, Router::new()).await.unwrap().stop().await;
    let bad = root.join(format!("sessions/session_{}.sqlite", uuid::Uuid::now_v7()));
    std::fs::write(&bad, vec![7u8; 8192]).unwrap();
    let (ok, out, _) = run(planbase(&root).arg("check"));
    assert!(!ok);
    assert!(out.contains(bad.file_name().unwrap().to_str().unwrap()), "{out}");
    assert!(out.contains("1 problems"), "{out}");
}

/// `integrity_check` on a read-only connection skips CHECK and NOT NULL: check must still
/// see a row that breaks one (written here with the constraints switched off).
#[tokio::test]
async fn check_reports_rows_that_break_a_constraint() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    let app = TestApp::spawn_at(root.clone(), |_| {}, Router::new()).await.unwrap();
    let r = app.client.post(app.url("/api/v1/sessions")).json(&serde_json::json!({})).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let s: serde_json::Value = r.json().await.unwrap();
    app.stop().await;
    let path = root.join(format!("sessions/session_{}.sqlite", s["id"].as_str().unwrap()));
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch("PRAGMA ignore_check_constraints = ON; UPDATE state SET status = 'bogus';").unwrap();
    drop(c);
    let (ok, out, _) = run(planbase(&root).arg("check"));
    assert!(!ok, "{out}");
    assert!(out.contains(path.file_name().unwrap().to_str().unwrap()) && out.contains("CHECK constraint"), "{out}");
    assert!(out.contains("1 problems"), "{out}");
}

#[test]
fn a_second_serve_exits_and_a_restart_after_kill_9_works() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut first = planbase(dir.path()).args(["serve", "--bind", &bind]).stderr(Stdio::null()).spawn().unwrap();
    wait_healthy(port);
    let (ok, _, err) = run(planbase(dir.path()).args(["serve", "--bind", "127.0.0.1:0"]));
    assert!(!ok && err.contains("another Planbase server holds"), "{err}");
    first.kill().unwrap(); // SIGKILL: the OS drops the flock
    first.wait().unwrap();
    let mut second = planbase(dir.path()).args(["serve", "--bind", &bind]).stderr(Stdio::null()).spawn().unwrap();
    wait_healthy(port);
    // Transparent huge pages are off for the process (see main.rs).
    let status = std::fs::read_to_string(format!("/proc/{}/status", second.id())).unwrap();
    assert!(status.lines().any(|l| l.split_whitespace().eq(["THP_enabled:", "0"])), "{status}");
    // SIGTERM: graceful stop with exit code 0.
    unsafe { libc::kill(second.id() as i32, libc::SIGTERM) };
    assert!(second.wait().unwrap().success());
}

/// The binary configures SQLite (mimalloc, no memory statistics) before anything opens a
/// database, and says so when it starts serving.
#[test]
fn serve_runs_sqlite_on_mimalloc() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = planbase(dir.path())
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("PLANBASE_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_healthy(port);
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    let out = server.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let serving = log.lines().find(|l| l.contains("serving")).unwrap_or_default();
    assert!(serving.contains("sqlite_allocator") && serving.contains("mimalloc"), "{log}");
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn wait_healthy(port: u16) {
    for _ in 0..200 {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            if buf.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("server on port {port} never became healthy");
}
