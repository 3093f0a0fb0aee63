//! `GET /metrics`: Prometheus text format.
//!
//! Request counts and latency histograms are kept per matched route (the route template,
//! never the raw path, so ids do not explode the label set), method and status. Storage
//! figures are read from the shard manager when scraped. The registry is per process.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::OnceLock;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;

use super::SharedState;

/// Latency bucket bounds in seconds.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Default, Clone)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

type Key = (String, String, u16);

fn registry() -> &'static Mutex<BTreeMap<Key, Series>> {
    static R: OnceLock<Mutex<BTreeMap<Key, Series>>> = OnceLock::new();
    R.get_or_init(Default::default)
}

/// The matched route template, carried from the router to the outer middleware.
#[derive(Clone)]
pub struct RouteName(pub String);

/// Route layer: tags the response with the route template it matched.
pub async fn tag_route(req: Request, next: Next) -> Response {
    // `/projects/{id}` is written `/projects/:id`: braces inside label values trip up
    // simple Prometheus text parsers.
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().replace('{', ":").replace('}', ""));
    let mut resp = next.run(req).await;
    if let Some(r) = route {
        resp.extensions_mut().insert(RouteName(r));
    }
    resp
}

/// Records one finished request (called by the outer middleware).
pub fn observe(route: Option<&RouteName>, method: &str, status: u16, seconds: f64) {
    let route = route.map(|r| r.0.clone()).unwrap_or_else(|| "unmatched".into());
    let mut reg = registry().lock();
    let s = reg.entry((route, method.to_string(), status)).or_default();
    s.count += 1;
    s.sum += seconds;
    for (i, b) in BUCKETS.iter().enumerate() {
        if seconds <= *b {
            s.buckets[i] += 1;
        }
    }
}

fn render_requests(out: &mut String) {
    let reg = registry().lock().clone();
    out.push_str("# HELP planbase_http_requests_total Requests served, by route template, method and status.\n");
    out.push_str("# TYPE planbase_http_requests_total counter\n");
    for ((route, method, status), s) in &reg {
        let _ = writeln!(
            out,
            "planbase_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {}",
            s.count
        );
    }
    out.push_str("# HELP planbase_http_request_duration_seconds Time to the response, by route template.\n");
    out.push_str("# TYPE planbase_http_request_duration_seconds histogram\n");
    for ((route, method, status), s) in &reg {
        let labels = format!("route=\"{route}\",method=\"{method}\",status=\"{status}\"");
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ =
                writeln!(out, "planbase_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {}", s.buckets[i]);
        }
        let _ = writeln!(out, "planbase_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", s.count);
        let _ = writeln!(out, "planbase_http_request_duration_seconds_sum{{{labels}}} {}", s.sum);
        let _ = writeln!(out, "planbase_http_request_duration_seconds_count{{{labels}}} {}", s.count);
    }
}

fn gauge(out: &mut String, name: &str, kind: &str, help: &str, value: f64) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
}

fn render_storage(out: &mut String, s: &SharedState, backup_age: Option<f64>) {
    use std::sync::atomic::Ordering::Relaxed;
    let shards = &s.storage.shards;
    let (st, w) = (shards.stats(), &shards.stats().writer);
    let ck = &st.checkpointer.stats;
    let series: [(&str, &str, &str, f64); 15] = [
        ("planbase_open_shards", "gauge", "Shard handles in the LRU.", shards.open_shards() as f64),
        (
            "planbase_live_shard_handles",
            "gauge",
            "Shard handles with open connections, evicted ones included.",
            shards.live_handles() as f64,
        ),
        ("planbase_shard_opens_total", "counter", "Shard files opened.", st.opens.load(Relaxed) as f64),
        (
            "planbase_shard_evictions_total",
            "counter",
            "Shard handles evicted from the LRU.",
            st.evictions.load(Relaxed) as f64,
        ),
        ("planbase_writer_batches_total", "counter", "Group-commit transactions.", w.batches.load(Relaxed) as f64),
        (
            "planbase_writer_writes_total",
            "counter",
            "Write requests committed or refused by writer threads.",
            w.writes.load(Relaxed) as f64,
        ),
        (
            "planbase_writer_batch_retries_total",
            "counter",
            "Group commits that failed and were retried one by one.",
            w.batch_retries.load(Relaxed) as f64,
        ),
        (
            "planbase_writer_wait_seconds_total",
            "counter",
            "Time writes spent queued for their writer thread (divide by writes for the mean).",
            w.wait_micros.load(Relaxed) as f64 / 1e6,
        ),
        (
            "planbase_sqlite_busy_waits_total",
            "counter",
            "Statements that found a database locked and waited (SQLite busy handler).",
            crate::storage::busy::waits() as f64,
        ),
        (
            "planbase_checkpoints_background_total",
            "counter",
            "WAL checkpoints run by the checkpointer thread, off the writer threads.",
            ck.background.load(Relaxed) as f64,
        ),
        (
            "planbase_checkpoints_inline_total",
            "counter",
            "WAL checkpoints a writer thread ran itself because the checkpointer was behind.",
            ck.inline.load(Relaxed) as f64,
        ),
        ("planbase_uptime_seconds", "gauge", "Seconds since start.", s.started.elapsed().as_secs_f64()),
        ("planbase_search_queue_depth", "gauge", "Messages waiting for the search feeder.", s.search.pending() as f64),
        (
            "planbase_summary_queue_depth",
            "gauge",
            "Sessions whose registry summary waits for the next flush.",
            s.summaries.queued() as f64,
        ),
        (
            "planbase_max_open_shards",
            "gauge",
            "The shard cache capacity (storage.max_open_shards).",
            s.config.storage.max_open_shards as f64,
        ),
    ];
    for (name, kind, help, value) in series {
        gauge(out, name, kind, help, value);
    }
    if let Some(age) = backup_age {
        gauge(out, "planbase_last_backup_age_seconds", "gauge", "Seconds since the newest complete backup.", age);
    }
}

/// Age of the newest complete backup, from its manifest's `created_at` (a directory's mtime
/// moves when anything touches it). Blocking.
fn last_backup_age(dir: &std::path::Path) -> Option<f64> {
    let (_, created_at) = crate::maintenance::backups::newest_complete(dir)?;
    let t = time::OffsetDateTime::parse(&created_at, &time::format_description::well_known::Rfc3339).ok()?;
    Some((time::OffsetDateTime::now_utc() - t).as_seconds_f64().max(0.0))
}

/// Model calls by provider and outcome, retries, and completion-cache hits and misses.
fn render_llm(out: &mut String) {
    let m = crate::llm::metrics::snapshot();
    out.push_str(
        "# HELP planbase_llm_calls_total Model calls, by provider and outcome (cancelled: the client left).\n",
    );
    out.push_str("# TYPE planbase_llm_calls_total counter\n");
    for (p, o, n) in m.calls.iter().filter(|c| c.0 != "other" || c.2 > 0) {
        let _ = writeln!(out, "planbase_llm_calls_total{{provider=\"{p}\",outcome=\"{o}\"}} {n}");
    }
    out.push_str("# HELP planbase_llm_retries_total Model requests retried after a 429, a 5xx or a transport error.\n");
    out.push_str("# TYPE planbase_llm_retries_total counter\n");
    for (p, n) in m.retries.iter().filter(|c| c.0 != "other" || c.1 > 0) {
        let _ = writeln!(out, "planbase_llm_retries_total{{provider=\"{p}\"}} {n}");
    }
    let (hits, misses) = (m.cache_hits as f64, m.cache_misses as f64);
    gauge(out, "planbase_llm_cache_hits_total", "counter", "Completions answered from the completion cache.", hits);
    gauge(out, "planbase_llm_cache_misses_total", "counter", "Cacheable completions the model had to answer.", misses);
}

pub async fn metrics(State(s): State<SharedState>) -> Response {
    let dir = s.storage.root.backups();
    let backup_age = tokio::task::spawn_blocking(move || last_backup_age(&dir)).await.ok().flatten();
    let mut out = String::new();
    render_requests(&mut out);
    render_storage(&mut out, &s, backup_age);
    render_llm(&mut out);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response()
}
