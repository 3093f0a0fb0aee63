//! The job log stream (SSE) over HTTP, read by a small SSE parser over reqwest's body stream.

use std::time::Duration;

use futures::StreamExt;
use reqwest::Method;
use serde_json::{json, Value};

use super::{file_contains, log, new_job, project, set_status};
use crate::helpers::TestApp;
use crate::projects::{post, send};

/// One Server-Sent Event: (event, id, data).
type Sse = (String, Option<String>, String);

struct SseReader {
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<axum::body::Bytes>> + Send>>,
    buf: String,
}

impl SseReader {
    async fn open(app: &TestApp, path: &str, last_event_id: Option<&str>) -> SseReader {
        let mut req = app.client.get(app.url(path));
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        SseReader { body: Box::pin(r.bytes_stream()), buf: String::new() }
    }

    /// The next event (comments skipped), or None when the body ends. Fails after 10 s.
    async fn next(&mut self) -> Option<Sse> {
        tokio::time::timeout(Duration::from_secs(10), self.next_inner()).await.expect("an event or the end in time")
    }

    async fn next_inner(&mut self) -> Option<Sse> {
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let field =
                    |name: &str| block.lines().find_map(|l| l.strip_prefix(name).map(|v| v.trim_start().to_string()));
                if let Some(event) = field("event:") {
                    return Some((event, field("id:"), field("data:").unwrap_or_default()));
                }
            }
            let chunk = self.body.next().await?.unwrap();
            self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

fn log_message(e: &Sse) -> String {
    assert_eq!(e.0, "log", "{e:?}");
    let data: Value = serde_json::from_str(&e.2).unwrap();
    assert_eq!(e.1.as_deref(), Some(data["id"].to_string().as_str()), "the SSE id is the log id");
    data["message"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_stream_replays_follows_and_ends_with_the_job() {
    let app = TestApp::spawn().await;
    let pid = project(&app).await;
    let id = new_job(&app, &pid).await["job_id"].as_str().unwrap().to_string();
    for m in ["one", "two", "three"] {
        log(&app, &id, m).await;
    }
    let mut sse = SseReader::open(&app, &format!("/api/v1/jobs/{id}/stream"), None).await;
    for m in ["one", "two", "three"] {
        assert_eq!(log_message(&sse.next().await.unwrap()), m);
    }
    set_status(&app, &id, "running").await;
    for m in ["four", "five"] {
        log(&app, &id, m).await;
        assert_eq!(log_message(&sse.next().await.unwrap()), m, "live");
    }
    log(&app, &id, "six").await;
    set_status(&app, &id, "completed").await;
    assert_eq!(log_message(&sse.next().await.unwrap()), "six", "logs before the end are never lost");
    let end = sse.next().await.unwrap();
    assert_eq!(end.0, "end");
    assert_eq!(serde_json::from_str::<Value>(&end.2).unwrap()["status"], "completed");
    assert!(sse.next().await.is_none(), "the body completes");
    assert_eq!(app.state.jobs.followed_jobs(), 0);

    let mut again = SseReader::open(&app, &format!("/api/v1/jobs/{id}/stream"), Some("4")).await;
    let first = again.next().await.unwrap();
    assert!(first.1.unwrap().parse::<i64>().unwrap() > 4, "Last-Event-ID resumes after that id");
    while let Some(e) = again.next().await {
        if e.0 == "end" {
            assert!(again.next().await.is_none());
            break;
        }
    }
}

#[tokio::test]
async fn a_client_that_goes_away_leaves_nothing_behind() {
    let app = TestApp::spawn().await;
    let pid = project(&app).await;
    let id = new_job(&app, &pid).await["job_id"].as_str().unwrap().to_string();
    log(&app, &id, "hello").await;
    let mut sse = SseReader::open(&app, &format!("/api/v1/jobs/{id}/stream"), None).await;
    assert_eq!(log_message(&sse.next().await.unwrap()), "hello");
    assert_eq!(app.state.jobs.followed_jobs(), 1);
    drop(sse);
    // No write follows: the server must notice the closed socket by itself.
    for _ in 0..100 {
        if app.state.jobs.followed_jobs() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.state.jobs.followed_jobs(), 0, "the stream and its channel were dropped");
    log(&app, &id, "nobody listens").await;
    let (s, _) = app.get("/health").await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn a_graceful_stop_ends_open_streams() {
    let app = TestApp::spawn().await;
    let pid = project(&app).await;
    let id = new_job(&app, &pid).await["job_id"].as_str().unwrap().to_string();
    log(&app, &id, "hello").await;
    let mut sse = SseReader::open(&app, &format!("/api/v1/jobs/{id}/stream"), None).await;
    assert_eq!(log_message(&sse.next().await.unwrap()), "hello");
    tokio::time::timeout(Duration::from_secs(10), app.stop()).await.expect("the stream does not hold up the stop");
    assert!(sse.next().await.is_none(), "the stream ended with the server");
}

#[tokio::test]
async fn streams_outlive_the_request_timeout_and_end_when_idle() {
    let tweak = |c: &mut planbase::config::Config| {
        c.server.request_timeout_ms = 1000;
        c.server.stream_idle_timeout_ms = 1500;
    };
    let app = TestApp::spawn_with(tweak, axum::Router::new()).await;
    let pid = project(&app).await;
    let id = new_job(&app, &pid).await["job_id"].as_str().unwrap().to_string();
    let mut sse = SseReader::open(&app, &format!("/api/v1/jobs/{id}/stream"), None).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    log(&app, &id, "after the request timeout").await;
    assert_eq!(log_message(&sse.next().await.unwrap()), "after the request timeout");
    let started = std::time::Instant::now();
    assert!(sse.next().await.is_none(), "ends without an end event once idle");
    assert!(started.elapsed() >= Duration::from_millis(1200), "a new log restarts the idle clock");
}

#[tokio::test]
async fn an_unbound_job_works_end_to_end() {
    let app = TestApp::spawn().await;
    let (s, j) = post(&app, "/api/v1/jobs", json!({"job_type": "reindex", "params": {"all": true}})).await;
    assert_eq!(s, 201, "{j}");
    assert!(j["project_id"].is_null());
    let id = j["job_id"].as_str().unwrap().to_string();
    assert_eq!(app.get(&format!("/api/v1/jobs/{id}")).await, (200, j.clone()));
    log(&app, &id, "replayed").await;
    let mut sse = SseReader::open(&app, &format!("/api/v1/jobs/{id}/stream"), None).await;
    assert_eq!(log_message(&sse.next().await.unwrap()), "replayed");
    assert_eq!(set_status(&app, &id, "running").await.0, 200);
    log(&app, &id, "live").await;
    assert_eq!(log_message(&sse.next().await.unwrap()), "live");
    let (s, f) =
        send(&app, Method::PATCH, &format!("/api/v1/jobs/{id}"), Some(json!({"status": "failed", "error": "boom"})))
            .await;
    assert_eq!((s, f["error"].as_str()), (200, Some("boom")));
    let end = sse.next().await.unwrap();
    assert_eq!(
        (end.0.as_str(), serde_json::from_str::<Value>(&end.2).unwrap()["status"].clone()),
        ("end", json!("failed"))
    );
    assert!(sse.next().await.is_none());
    let (_, logs) = app.get(&format!("/api/v1/jobs/{id}/logs")).await;
    assert_eq!(logs["items"].as_array().unwrap().len(), 2);
    assert_eq!(set_status(&app, &id, "running").await.0, 409);
    assert!(
        file_contains(&app.root.join("jobs/system_jobs.sqlite-wal"), "replayed")
            || file_contains(&app.root.join("jobs/system_jobs.sqlite"), "replayed")
    );
    assert_eq!(std::fs::read_dir(app.root.join("projects")).unwrap().count(), 0, "no shard involved");
}
