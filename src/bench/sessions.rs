//! `planbase bench sessions`: the hot path over real HTTP. A load generator (reqwest, 32
//! connections) drives an in-process server on 127.0.0.1 with a temp DB_ROOT; the raw
//! two-file SQLite ceiling and the per-append cost parts are measured in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{json, Value};

use super::{percentile, print_table};
use crate::config::Config;

#[derive(Debug, Args)]
pub struct SessionsBench {
    /// Requests per case.
    #[arg(long, default_value_t = 20_000)]
    pub requests: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Sessions the spread case appends over.
    #[arg(long, default_value_t = 1_000)]
    pub sessions: usize,
}

struct Load {
    client: reqwest::Client,
    base: String,
}

/// Ops/s and latencies (ms, sorted) of `n` requests over `conns` concurrent workers; request
/// `i` is built by `make(i)`.
async fn drive<F>(load: &Arc<Load>, n: usize, conns: usize, make: F) -> anyhow::Result<(f64, Vec<f64>)>
where
    F: Fn(&Load, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for w in 0..conns {
        let (load, make) = (load.clone(), make.clone());
        set.spawn(async move {
            let mut lat = Vec::with_capacity(n / conns + 1);
            for i in (w..n).step_by(conns) {
                let t = Instant::now();
                let r = make(&load, i).send().await?;
                anyhow::ensure!(r.status().is_success(), "status {} on request {i}", r.status());
                r.bytes().await?;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            Ok::<_, anyhow::Error>(lat)
        });
    }
    let mut all = Vec::with_capacity(n);
    while let Some(r) = set.join_next().await {
        all.extend(r??);
    }
    let secs = start.elapsed().as_secs_f64();
    all.sort_by(|a, b| a.total_cmp(b));
    Ok((n as f64 / secs, all))
}

fn message(i: usize) -> Value {
    json!({"role": "user", "parts": [{"type": "text", "text": format!("benchmark message number {i}, a short chat line")}]})
}

fn row(name: &str, n: usize, rate: f64, lat: &[f64], ceiling: f64) -> Vec<String> {
    vec![
        name.into(),
        n.to_string(),
        format!("{rate:.0}"),
        format!("{:.2}", percentile(lat, 50.0)),
        format!("{:.2}", percentile(lat, 99.0)),
        if ceiling > 0.0 { format!("{:.0}%", 100.0 * rate / ceiling) } else { "".into() },
    ]
}

async fn create_sessions(load: &Arc<Load>, n: usize) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let r = load.client.post(format!("{}/api/v1/sessions", load.base)).json(&json!({})).send().await?;
        anyhow::ensure!(r.status().as_u16() == 201, "session create: {}", r.status());
        ids.push(r.json::<Value>().await?["id"].as_str().unwrap_or_default().to_string());
    }
    Ok(ids)
}

pub fn run(config: &Config, b: SessionsBench) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let mut cfg = config.clone();
    cfg.storage.db_root = tmp.path().join("root");
    cfg.server.bind = "127.0.0.1:0".parse()?;
    cfg.storage.max_open_shards = cfg.storage.max_open_shards.max(b.sessions + 16);
    let ceiling = super::storage::raw_ceiling(&cfg.storage, tmp.path(), 2, b.requests)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let rows = rt.block_on(run_cases(cfg, &b, ceiling))?;
    print_table(&["case", "requests", "req/s", "p50 ms", "p99 ms", "% of raw 2-file ceiling"], &rows);
    Ok(())
}

async fn run_cases(cfg: Config, b: &SessionsBench, ceiling: f64) -> anyhow::Result<Vec<Vec<String>>> {
    let app = crate::App::build(cfg).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let stop = app.stop_handle();
    let server = tokio::spawn(app.run_until_stopped());
    let client =
        reqwest::Client::builder().pool_max_idle_per_host(b.connections).timeout(Duration::from_secs(30)).build()?;
    let load = Arc::new(Load { client, base });
    let ids = Arc::new(create_sessions(&load, b.sessions).await?);
    let (n, c) = (b.requests, b.connections);
    let mut rows = vec![vec![
        "raw rusqlite, 2 files, 2 threads".into(),
        n.to_string(),
        format!("{ceiling:.0}"),
        "".into(),
        "".into(),
        "100%".into(),
    ]];
    let (rate, lat) = drive(&load, n, c, |l, _| l.client.get(format!("{}/ready", l.base))).await?;
    rows.push(row(&format!("GET /ready (HTTP only, same client), {c} conns"), n, rate, &lat, 0.0));
    let spread = ids.clone();
    drive(&load, spread.len(), c, move |l, i| append(l, &spread[i % spread.len()], i)).await?; // opens every shard
    let spread = ids.clone();
    let (rate, lat) = drive(&load, n, c, move |l, i| append(l, &spread[i % spread.len()], i)).await?;
    rows.push(row(&format!("append over {} sessions, {c} conns", ids.len()), n, rate, &lat, ceiling));
    let one = ids[0].clone();
    let (rate, lat) = drive(&load, n, c, move |l, i| append(l, &one, i)).await?;
    rows.push(row(&format!("append to 1 session, {c} conns"), n, rate, &lat, ceiling));
    let one = ids[0].clone();
    let (rate, lat) =
        drive(&load, n, c, move |l, _| l.client.get(format!("{}/api/v1/sessions/{one}/messages?limit=50", l.base)))
            .await?;
    rows.push(row(&format!("newest 50 of {} messages, {c} conns", n + n / ids.len() + 1), n, rate, &lat, 0.0));
    let spread = ids.clone();
    let (rate, lat) = drive(&load, n / 4, c, move |l, i| chat(l, &spread[i % spread.len()], false)).await?;
    rows.push(row(&format!("chat turn (offline) over {} sessions, {c} conns", ids.len()), n / 4, rate, &lat, 0.0));
    let ttfb = first_bytes(&load, &ids, 2000.min(n), c).await?;
    rows.push(row(&format!("chat stream, time to first byte, {c} conns"), 2000.min(n), 0.0, &ttfb, 0.0));
    stop.notify_one();
    server.await??;
    Ok(rows)
}

fn chat(l: &Load, session: &str, stream: bool) -> reqwest::RequestBuilder {
    let q = if stream { "?stream=true" } else { "" };
    l.client
        .post(format!("{}/api/v1/sessions/{session}/chat{q}", l.base))
        .json(&json!({"content": "how are you today?"}))
}

/// Milliseconds from sending a streaming chat turn to its first body bytes.
async fn first_bytes(load: &Arc<Load>, ids: &Arc<Vec<String>>, n: usize, conns: usize) -> anyhow::Result<Vec<f64>> {
    let mut set = tokio::task::JoinSet::new();
    for w in 0..conns {
        let (load, ids) = (load.clone(), ids.clone());
        set.spawn(async move {
            let mut lat = Vec::new();
            for i in (w..n).step_by(conns) {
                let t = Instant::now();
                let mut r = chat(&load, &ids[i % ids.len()], true).send().await?;
                r.chunk().await?;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                while r.chunk().await?.is_some() {}
            }
            Ok::<_, anyhow::Error>(lat)
        });
    }
    let mut all = Vec::new();
    while let Some(r) = set.join_next().await {
        all.extend(r??);
    }
    all.sort_by(|a, b| a.total_cmp(b));
    Ok(all)
}

fn append(l: &Load, session: &str, i: usize) -> reqwest::RequestBuilder {
    l.client.post(format!("{}/api/v1/sessions/{session}/messages", l.base)).json(&message(i))
}
