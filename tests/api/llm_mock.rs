//! A local OpenAI-compatible model for the chat and memory tests (no network):
//! `/v1/chat/completions` answers JSON, or SSE when the request says `stream: true`. Replies
//! are scripted in order; once the script is used up it echoes the last message.
//! `/v1/embeddings` answers the vector a test set for each text (else one derived from the
//! text), listed in reverse order so clients must sort by `index`; failures are scripted as
//! statuses. Every request is kept.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Response};
use axum::routing::post;
use axum::{Json, Router};
use parking_lot::Mutex;
use planbase::config::{Config, Provider};
use serde_json::{json, Value};

/// One scripted answer.
#[derive(Clone, Debug)]
pub enum Reply {
    Status(u16),
    /// Text in pieces `gap` apart (the first at once). `complete: false` hangs up after
    /// the last piece (a JSON request gets a 500 instead).
    Text {
        pieces: Vec<String>,
        gap: Duration,
        complete: bool,
    },
}

impl Reply {
    pub fn pieces(pieces: &[&str], gap_ms: u64) -> Reply {
        Reply::Text {
            pieces: pieces.iter().map(|p| p.to_string()).collect(),
            gap: Duration::from_millis(gap_ms),
            complete: true,
        }
    }

    pub fn broken(pieces: &[&str], gap_ms: u64) -> Reply {
        match Reply::pieces(pieces, gap_ms) {
            Reply::Text { pieces, gap, .. } => Reply::Text { pieces, gap, complete: false },
            r => r,
        }
    }
}

/// A request `/v1/embeddings` received.
#[derive(Clone, Debug)]
pub struct EmbedRequest {
    pub body: Value,
    /// The `Authorization` header as sent.
    pub authorization: Option<String>,
}

#[derive(Default)]
struct Inner {
    replies: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<Value>>,
    calls: AtomicUsize,
    embed_failures: Mutex<VecDeque<u16>>,
    embed_requests: Mutex<Vec<EmbedRequest>>,
    vectors: Mutex<HashMap<String, Vec<f32>>>,
}

/// The variable the embedding tests' key is read from, and the key in it.
pub const EMBED_KEY_ENV: &str = "PB_TEST_EMBEDDING_API_KEY";
pub const EMBED_KEY: &str = "sk-test-embedding-key";

#[derive(Clone)]
pub struct Mock {
    pub base: String,
    inner: Arc<Inner>,
}

impl Mock {
    /// Starts the mock on its own thread and runtime.
    pub fn start() -> Mock {
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .route("/v1/chat/completions", post(complete))
            .route("/v1/embeddings", post(embeddings))
            .with_state(inner.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(l.local_addr().unwrap().port()).unwrap();
                axum::serve(l, app).await.unwrap();
            });
        });
        Mock { base: format!("http://127.0.0.1:{}/v1", rx.recv().unwrap()), inner }
    }

    /// Queues replies for the next calls.
    pub fn push(&self, replies: impl IntoIterator<Item = Reply>) {
        self.inner.replies.lock().extend(replies);
    }

    pub fn calls(&self) -> usize {
        self.inner.calls.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Value> {
        self.inner.requests.lock().clone()
    }

    /// Points a server's config at the mock: provider `openai`, one retry, cache on.
    pub fn config(&self) -> impl FnOnce(&mut Config) {
        let base = self.base.clone();
        move |c: &mut Config| {
            c.llm.provider = Provider::Openai;
            c.llm.base_url = Some(base);
            c.llm.model = Some("mock-1".into());
            c.llm.api_key_env = "PLANBASE_TEST_NO_SUCH_KEY".into();
            c.llm.max_retries = 1;
            c.llm.timeout_ms = 5_000;
        }
    }

    /// The next calls to `/v1/embeddings` answer these statuses, in order.
    pub fn fail_embeddings(&self, statuses: impl IntoIterator<Item = u16>) {
        self.inner.embed_failures.lock().extend(statuses);
    }

    /// `/v1/embeddings` answers `v` for `text` (whatever size was asked for).
    pub fn set_vector(&self, text: &str, v: Vec<f32>) {
        self.inner.vectors.lock().insert(text.to_string(), v);
    }

    pub fn embed_requests(&self) -> Vec<EmbedRequest> {
        self.inner.embed_requests.lock().clone()
    }

    pub fn embed_calls(&self) -> usize {
        self.inner.embed_requests.lock().len()
    }

    /// Points a server's embeddings at the mock: `embedding.provider = "openai"` with `dim`,
    /// the `llm.*` connection keys at the mock (one retry, the key in [`EMBED_KEY_ENV`]); chat
    /// stays offline.
    pub fn embedding_config(&self, dim: Option<u32>) -> impl FnOnce(&mut Config) {
        set_embed_key();
        let base = self.base.clone();
        move |c: &mut Config| {
            c.embedding.provider = Provider::Openai;
            c.embedding.dim = dim;
            c.llm.base_url = Some(base);
            c.llm.api_key_env = EMBED_KEY_ENV.into();
            c.llm.max_retries = 1;
            c.llm.timeout_ms = 5_000;
        }
    }
}

/// Sets [`EMBED_KEY_ENV`] once per process, before any server reads it. Its name has no
/// `PLANBASE_` prefix, so config loading ignores it.
fn set_embed_key() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| std::env::set_var(EMBED_KEY_ENV, EMBED_KEY));
}

async fn complete(State(m): State<Arc<Inner>>, Json(body): Json<Value>) -> Response<Body> {
    m.calls.fetch_add(1, Ordering::SeqCst);
    m.requests.lock().push(body.clone());
    let reply = m.replies.lock().pop_front().unwrap_or_else(|| echo(&body));
    let stream = body["stream"] == json!(true);
    match reply {
        Reply::Status(s) => {
            Response::builder().status(s).body(Body::from("{\"error\":{\"message\":\"mock\"}}")).unwrap()
        }
        Reply::Text { complete: false, .. } if !stream => Response::builder().status(500).body(Body::empty()).unwrap(),
        Reply::Text { pieces, .. } if !stream => {
            let message = json!({"role": "assistant", "content": pieces.concat()});
            let usage = json!({"prompt_tokens": 7, "completion_tokens": 3});
            let v = json!({"model": "mock-1", "choices": [{"message": message}], "usage": usage});
            Response::builder().header("content-type", "application/json").body(Body::from(v.to_string())).unwrap()
        }
        Reply::Text { pieces, gap, complete } => {
            Response::builder().header("content-type", "text/event-stream").body(sse(pieces, gap, complete)).unwrap()
        }
    }
}

/// The default reply: the last message's first words, echoed.
fn echo(body: &Value) -> Reply {
    let last = body["messages"].as_array().and_then(|m| m.last()).and_then(|m| m["content"].as_str()).unwrap_or("");
    let words: Vec<&str> = last.split_whitespace().take(12).collect();
    let text = format!("echo: {}", words.join(" "));
    Reply::Text { pieces: text.split_inclusive(' ').map(str::to_string).collect(), gap: Duration::ZERO, complete: true }
}

fn sse(pieces: Vec<String>, gap: Duration, complete: bool) -> Body {
    let chunk = |p: &str| format!("data: {}\n\n", json!({"model": "mock-1", "choices": [{"delta": {"content": p}}]}));
    let mut events: Vec<Result<Bytes, std::io::Error>> = vec![Ok(Bytes::from(chunk("")))];
    events.extend(pieces.iter().map(|p| Ok(Bytes::from(chunk(p)))));
    if complete {
        let end = "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n\
                   data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3}}\n\ndata: [DONE]\n\n";
        events.push(Ok(Bytes::from(end)));
    } else {
        events.push(Err(std::io::Error::other("the mock hangs up")));
    }
    let s = futures::stream::unfold((events.into_iter(), 0usize), move |(mut it, n)| async move {
        let next = it.next()?;
        // The role chunk and the first piece go at once; the rest `gap` apart.
        if n >= 2 {
            tokio::time::sleep(gap).await;
        }
        Some((next, (it, n + 1)))
    });
    Body::from_stream(s)
}

async fn embeddings(State(m): State<Arc<Inner>>, headers: HeaderMap, Json(body): Json<Value>) -> Response<Body> {
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
    m.embed_requests.lock().push(EmbedRequest { body: body.clone(), authorization });
    if let Some(s) = m.embed_failures.lock().pop_front() {
        return Response::builder().status(s).body(Body::from("{\"error\":{\"message\":\"mock\"}}")).unwrap();
    }
    // Without `dimensions`, the size of text-embedding-3-small.
    let dim = body["dimensions"].as_u64().unwrap_or(1536) as usize;
    let texts: Vec<&str> = body["input"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let vectors = m.vectors.lock();
    let data: Vec<Value> = texts
        .iter()
        .enumerate()
        .rev()
        .map(|(i, t)| {
            let v = vectors.get(*t).cloned().unwrap_or_else(|| derived(t, dim));
            json!({"object": "embedding", "index": i, "embedding": v})
        })
        .collect();
    let v = json!({"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 3, "total_tokens": 3}});
    Response::builder().header("content-type", "application/json").body(Body::from(v.to_string())).unwrap()
}

/// A fixed vector for a text nobody set one for: bytes of the text's FNV-1a hash.
fn derived(text: &str, dim: usize) -> Vec<f32> {
    let h = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3));
    (0..dim).map(|i| ((h >> (i % 8 * 8)) & 0xff) as f32 / 255.0 + 0.01).collect()
}
