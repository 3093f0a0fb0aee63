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
