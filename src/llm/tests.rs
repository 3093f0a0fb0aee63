//! The openai provider against a local mock server (no network), and the completion cache;
//! streaming in [`stream`].

mod stream;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::routing::post;
use axum::Router;
use serde_json::json;

use super::chat::{ChatMessage, ChatRequest, LlmProvider, Purpose};
use super::completion_cache::Cached;
use super::openai::OpenAi;
use crate::config::LlmConfig;

/// Serves `/v1/chat/completions`: the first `fail` calls answer `status`, then a completion.
fn mock(fail: usize, status: u16) -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let app = Router::new().route(
                "/v1/chat/completions",
                post(move |axum::Json(body): axum::Json<serde_json::Value>| {
                    let n = counter.fetch_add(1, Ordering::SeqCst);
                    async move {
                        if n < fail {
                            return (axum::http::StatusCode::from_u16(status).unwrap(), axum::Json(json!({"error": "busy"})));
                        }
                        let last = body["messages"].as_array().unwrap().last().unwrap()["content"].clone();
                        let reply = json!({"model": "mock-1", "choices": [{"message": {"role": "assistant", "content": format!("echo: {}", last.as_str().unwrap())}}],
                                           "usage": {"prompt_tokens": 7, "completion_tokens": 3}});
                        (axum::http::StatusCode::OK, axum::Json(reply))
                    }
                }),
            );
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap().port()).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    (format!("http://127.0.0.1:{}/v1", rx.recv().unwrap()), calls)
}

/// A migrated `llm_cache.sqlite` in `dir`.
fn cache_pool(dir: &std::path::Path) -> crate::storage::DbPool {
    let path = dir.join("llm_cache.sqlite");
    let pragmas = crate::storage::connection::Pragmas::from_config(&crate::config::StorageConfig::default());
    drop(
        crate::storage::connection::open(
            &path,
            crate::storage::migrate::FileKind::Cache,
            &pragmas,
            crate::storage::connection::Mode::Create,
        )
        .unwrap(),
    );
    r2d2::Pool::builder().max_size(2).build(r2d2_sqlite::SqliteConnectionManager::file(&path)).unwrap()
}

fn cfg(base: &str, retries: u32) -> LlmConfig {
    LlmConfig {
        base_url: Some(base.into()),
        model: Some("mock-1".into()),
        max_retries: retries,
        timeout_ms: 2000,
        ..LlmConfig::default()
    }
}

fn req(text: &str, temperature: Option<f32>) -> ChatRequest {
    ChatRequest {
        purpose: Purpose::Chat,
        messages: vec![ChatMessage::new("user", text)],
        temperature,
        max_tokens: None,
        force_cache: false,
    }
}

#[test]
fn retries_5xx_and_429_then_succeeds() {
    let (base, calls) = mock(2, 503);
    let r = OpenAi::from_config(&cfg(&base, 2)).unwrap().complete(&req("hi", None)).unwrap();
    assert_eq!((r.text.as_str(), r.prompt_tokens, r.completion_tokens), ("echo: hi", 7, 3));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let (base, _) = mock(1, 429);
    assert!(OpenAi::from_config(&cfg(&base, 1)).unwrap().complete(&req("x", None)).is_ok());
}

#[test]
fn exhausted_retries_are_503_llm_service_error() {
    let (base, calls) = mock(100, 500);
    let e = OpenAi::from_config(&cfg(&base, 2)).unwrap().complete(&req("hi", None)).unwrap_err();
    assert_eq!((e.status, e.code, e.retryable), (503, "llm_service_error", true));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let (base, calls) = mock(100, 400);
    assert_eq!(
        OpenAi::from_config(&cfg(&base, 2)).unwrap().complete(&req("hi", None)).unwrap_err().code,
        "llm_service_error"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1, "a 4xx is not retried");
    let e = OpenAi::from_config(&cfg("http://127.0.0.1:9/v1", 0)).unwrap().complete(&req("hi", None)).unwrap_err();
    assert_eq!(e.code, "llm_service_error", "an unreachable service too");
}

#[test]
fn the_cache_counts_hits_and_respects_temperature() {
    let (base, calls) = mock(0, 200);
    let dir = tempfile::tempdir().unwrap();
    let pool = cache_pool(dir.path());
    let cached = Cached::new(Arc::new(OpenAi::from_config(&cfg(&base, 0)).unwrap()), pool, 60);
    let a = cached.complete(&req("same", None)).unwrap();
    let b = cached.complete(&req("same", None)).unwrap();
    assert_eq!((a.cached, b.cached, a.text == b.text), (false, true, true));
    assert_eq!((calls.load(Ordering::SeqCst), cached.hits.load(Ordering::SeqCst)), (1, 1));
    cached.complete(&req("same", Some(0.7))).unwrap();
    cached.complete(&req("same", Some(0.7))).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3, "temperature > 0 bypasses the cache");
    let mut forced = req("same", Some(0.7));
    forced.force_cache = true;
    assert!(!cached.complete(&forced).unwrap().cached);
    assert!(cached.complete(&forced).unwrap().cached, "forced: the second sampled call is a hit");
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[test]
fn a_timeout_is_a_retryable_503() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let app = Router::new().route(
                "/v1/chat/completions",
                post(|| async {
                    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
                    "late"
                }),
            );
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap().port()).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    let base = format!("http://127.0.0.1:{}/v1", rx.recv().unwrap());
    let mut c = cfg(&base, 1);
    c.timeout_ms = 200;
    let t = std::time::Instant::now();
    let e = OpenAi::from_config(&c).unwrap().complete(&req("hi", None)).unwrap_err();
    assert_eq!((e.status, e.code, e.retryable), (503, "llm_service_error", true));
    assert!(t.elapsed() < std::time::Duration::from_secs(2), "two attempts of 200 ms plus backoff");
}
