//! `/metrics` parses as Prometheus text and counts requests by route template.

use crate::helpers::TestApp;

fn value(samples: &[prometheus_parse::Sample], metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples.iter().find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))).map(|s| {
        match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        }
    })
}

#[tokio::test]
async fn metrics_parse_and_count_by_route_template() {
    let app = TestApp::spawn().await;
    let p = crate::projects::create_project(&app, "m").await;
    let id = p["id"].as_str().unwrap();
    for _ in 0..3 {
        assert_eq!(app.get(&format!("/api/v1/projects/{id}")).await.0, 200);
    }
    assert_eq!(app.get("/api/v1/nowhere").await.0, 404);
    assert_eq!(app.get(&format!("/api/v1/projects/{id}/files")).await.0, 200, "opens the shard");
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = r.text().await.unwrap();
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid Prometheus text");
    let got = value(
        &scrape.samples,
        "planbase_http_requests_total",
        &[("route", "/api/v1/projects/:id"), ("method", "GET"), ("status", "200")],
    );
    assert!(got.unwrap_or(0.0) >= 3.0, "{text}");
    assert!(!text.contains(id), "raw ids never become labels");
    assert!(
        value(&scrape.samples, "planbase_http_requests_total", &[("route", "unmatched"), ("status", "404")]).is_some()
    );
    assert!(value(&scrape.samples, "planbase_open_shards", &[]).is_some());
    assert!(value(&scrape.samples, "planbase_shard_opens_total", &[]).unwrap() >= 1.0);
    let hist = scrape.samples.iter().find(|s| {
        s.metric == "planbase_http_request_duration_seconds" && s.labels.get("route") == Some("/api/v1/projects/:id")
    });
    assert!(hist.is_some(), "latency histogram present");
}

async fn scrape(app: &TestApp) -> Vec<prometheus_parse::Sample> {
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("valid Prometheus text").samples
}

/// Model calls (by provider and outcome), retries and completion-cache hits and misses move
/// with chat turns against the openai mock. The counters are per process: other tests may
/// move them too, so only increases are checked.
#[tokio::test]
async fn llm_calls_retries_and_the_completion_cache_are_counted() {
    use crate::llm_mock::{Mock, Reply};
    let mock = Mock::start();
    let app = TestApp::spawn_with(mock.config(), axum::Router::new()).await;
    let before = scrape(&app).await;
    let count = |s: &[prometheus_parse::Sample], m: &str, l: &[(&str, &str)]| value(s, m, l).unwrap_or(0.0);
    for stream in [false, true] {
        let (_, sess) = crate::projects::post(&app, "/api/v1/sessions", serde_json::json!({})).await;
        let url = format!("/api/v1/sessions/{}/chat?stream={stream}", sess["id"].as_str().unwrap());
        let r = app.client.post(app.url(&url)).json(&serde_json::json!({"content": "same question"})).send().await;
        assert_eq!(r.unwrap().status(), 200);
    }
    assert_eq!(mock.calls(), 1, "the second identical request was a cache hit, streamed from the cache");
    mock.push([Reply::Status(500), Reply::Status(500)]);
    let (_, sess) = crate::projects::post(&app, "/api/v1/sessions", serde_json::json!({})).await;
    let url = format!("/api/v1/sessions/{}/chat", sess["id"].as_str().unwrap());
    assert_eq!(crate::projects::post(&app, &url, serde_json::json!({"content": "fails"})).await.0, 503);
    let after = scrape(&app).await;
    let moved = |m: &str, l: &[(&str, &str)]| count(&after, m, l) - count(&before, m, l);
    assert!(moved("planbase_llm_calls_total", &[("provider", "openai"), ("outcome", "ok")]) >= 1.0);
    assert!(moved("planbase_llm_calls_total", &[("provider", "openai"), ("outcome", "error")]) >= 1.0);
    assert!(moved("planbase_llm_retries_total", &[("provider", "openai")]) >= 1.0);
    assert!(moved("planbase_llm_cache_hits_total", &[]) >= 1.0);
    assert!(moved("planbase_llm_cache_misses_total", &[]) >= 2.0, "the first question and the failed one");
    assert!(value(&after, "planbase_llm_calls_total", &[("provider", "offline"), ("outcome", "ok")]).is_some());
}

/// The storage series move with writes: writer counters and wait time, the summary queue
/// (before its flush), and the backup age once a backup exists.
#[tokio::test]
async fn storage_series_move_with_writes_and_backups() {
    let app = TestApp::spawn().await;
    let before = scrape(&app).await;
    let (_, s) = crate::projects::post(&app, "/api/v1/sessions", serde_json::json!({})).await;
    let sid = s["id"].as_str().unwrap();
    for i in 0..5 {
        let m = serde_json::json!({"role": "user", "parts": [{"type": "text", "text": format!("hello {i}")}]});
        assert_eq!(crate::projects::post(&app, &format!("/api/v1/sessions/{sid}/messages"), m).await.0, 201);
    }
    let mid = scrape(&app).await;
    let grew = |name: &str| value(&mid, name, &[]).unwrap() - value(&before, name, &[]).unwrap_or(0.0);
    assert!(grew("planbase_writer_writes_total") >= 5.0);
    assert!(grew("planbase_writer_batches_total") >= 1.0);
    assert!(value(&mid, "planbase_writer_wait_seconds_total", &[]).unwrap() > 0.0);
    assert!(value(&mid, "planbase_sqlite_busy_waits_total", &[]).is_some());
    assert!(value(&mid, "planbase_summary_queue_depth", &[]).is_some());
    assert!(value(&before, "planbase_last_backup_age_seconds", &[]).is_none(), "no backup yet");
    let (s, job) = crate::projects::post(&app, "/api/v1/admin/backups", serde_json::json!({})).await;
    assert_eq!(s, 202, "{job}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(age) = value(&scrape(&app).await, "planbase_last_backup_age_seconds", &[]) {
            assert!((0.0..60.0).contains(&age), "{age}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the backup age never appeared");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
