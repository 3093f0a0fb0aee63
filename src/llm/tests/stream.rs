//! Streaming against a local SSE mock: deltas as they arrive, retries only before the first
//! delta, a refusing sink, and the cache under a stream.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::routing::post;
use axum::Router;

use super::{cache_pool, cfg, req};
use crate::error::AppResult;
use crate::llm::chat::{client_gone, LlmProvider};
use crate::llm::completion_cache::Cached;
use crate::llm::openai::OpenAi;

/// One scripted answer of the mock.
#[derive(Clone)]
enum Reply {
    Status(u16),
    /// Text pieces `gap` apart; `complete: false` breaks the connection after the last.
    Sse {
        pieces: Vec<&'static str>,
        gap: Duration,
        complete: bool,
    },
}

fn ok(pieces: Vec<&'static str>) -> Reply {
    Reply::Sse { pieces, gap: Duration::ZERO, complete: true }
}

fn sse_body(pieces: Vec<&'static str>, gap: Duration, complete: bool) -> Body {
    let chunk = |p: &str| format!("data: {}\n\n", serde_json::json!({"choices": [{"delta": {"content": p}}]}));
    let mut events: Vec<Result<Bytes, std::io::Error>> = pieces.iter().map(|p| Ok(Bytes::from(chunk(p)))).collect();
    if complete {
        let end = "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
        events.push(Ok(Bytes::from(end)));
    } else {
        events.push(Err(std::io::Error::other("mock hangs up")));
    }
    let s = futures::stream::unfold((events.into_iter(), true), move |(mut it, first)| async move {
        let next = it.next()?;
        if !first {
            tokio::time::sleep(gap).await;
        }
        Some((next, (it, false)))
    });
    Body::from_stream(s)
}

/// Serves `/v1/chat/completions`, answering call n with `replies[n]` (the last repeats).
fn sse_mock(replies: Vec<Reply>) -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = Router::new().route(
        "/v1/chat/completions",
        post(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let reply = replies[n.min(replies.len() - 1)].clone();
            async move {
                match reply {
                    Reply::Status(s) => axum::http::Response::builder().status(s).body(Body::from("{}")).unwrap(),
                    Reply::Sse { pieces, gap, complete } => axum::http::Response::builder()
                        .header("content-type", "text/event-stream")
                        .body(sse_body(pieces, gap, complete))
                        .unwrap(),
                }
            }
        }),
    );
    (serve(app), calls)
}

fn serve(app: Router) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap().port()).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    format!("http://127.0.0.1:{}/v1", rx.recv().unwrap())
}

/// Streams one completion, returning it with the deltas and when each arrived.
fn stream(p: &dyn LlmProvider, text: &str) -> (AppResult<String>, Vec<(String, Duration)>) {
    let t0 = Instant::now();
    let mut got = Vec::new();
    let r = p.complete_stream(&req(text, None), &mut |d| {
        got.push((d.to_string(), t0.elapsed()));
        Ok(())
    });
    (r.map(|r| r.text), got)
}

#[test]
fn deltas_arrive_as_the_model_produces_them() {
    let gap = Duration::from_millis(300);
    let (base, _) = sse_mock(vec![Reply::Sse { pieces: vec!["Hel", "lo ", "world"], gap, complete: true }]);
    let t0 = Instant::now();
    let (text, got) = stream(&OpenAi::from_config(&cfg(&base, 0)).unwrap(), "hi");
    let total = t0.elapsed();
    assert_eq!(text.unwrap(), "Hello world");
    let pieces: Vec<&str> = got.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(pieces, ["Hel", "lo ", "world"]);
    assert!(total >= gap * 3, "the mock took {total:?}");
    assert!(got[0].1 + gap < total, "the first delta came at {:?}, the end at {total:?}", got[0].1);
}

#[test]
fn a_429_before_the_first_delta_is_retried() {
    let (base, calls) = sse_mock(vec![Reply::Status(429), Reply::Status(503), ok(vec!["fine"])]);
    let (text, got) = stream(&OpenAi::from_config(&cfg(&base, 2)).unwrap(), "hi");
    assert_eq!((text.unwrap().as_str(), got.len(), calls.load(Ordering::SeqCst)), ("fine", 1, 3));
    let (base, calls) =
        sse_mock(vec![Reply::Sse { pieces: vec![], gap: Duration::ZERO, complete: false }, ok(vec!["x"])]);
    assert!(stream(&OpenAi::from_config(&cfg(&base, 1)).unwrap(), "hi").0.is_ok(), "a stream broken before any text");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn a_stream_broken_after_a_delta_is_a_failure_without_retry() {
    let broken = Reply::Sse { pieces: vec!["par", "tial"], gap: Duration::from_millis(20), complete: false };
    let (base, calls) = sse_mock(vec![broken, ok(vec!["never"])]);
    let (text, got) = stream(&OpenAi::from_config(&cfg(&base, 3)).unwrap(), "hi");
    let e = text.unwrap_err();
    assert_eq!((e.status, e.code, e.retryable), (503, "llm_service_error", true));
    assert_eq!(got.iter().map(|g| g.0.as_str()).collect::<String>(), "partial");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn a_refusing_sink_stops_the_model() {
    let (base, calls) = sse_mock(vec![ok(vec!["one", "two"])]);
    let p = OpenAi::from_config(&cfg(&base, 3)).unwrap();
    let mut seen = 0;
    let e = p
        .complete_stream(&req("hi", None), &mut |_| {
            seen += 1;
            Err(client_gone())
        })
        .unwrap_err();
    assert_eq!((e.code, seen, calls.load(Ordering::SeqCst)), ("client_disconnected", 1, 1));
}

#[test]
fn a_streamed_miss_is_cached_and_a_hit_streams_word_by_word() {
    let (base, calls) = sse_mock(vec![ok(vec!["cached ", "answer here"])]);
    let dir = tempfile::tempdir().unwrap();
    let cached = Cached::new(Arc::new(OpenAi::from_config(&cfg(&base, 0)).unwrap()), cache_pool(dir.path()), 60);
    let before = crate::llm::metrics::snapshot();
    let (a, _) = stream(&cached, "same");
    let (b, got) = stream(&cached, "same");
    assert_eq!((a.unwrap(), b.unwrap()), ("cached answer here".to_string(), "cached answer here".to_string()));
    let pieces: Vec<&str> = got.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(pieces, ["cached ", "answer ", "here"]);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let after = crate::llm::metrics::snapshot();
    assert!(after.cache_hits > before.cache_hits && after.cache_misses > before.cache_misses);
}
