//! A local OpenAI-compatible model for the chat tests (no network): `/v1/chat/completions`
//! answers JSON, or SSE when the request says `stream: true`. Replies are scripted in
//! order; once the script is used up it echoes the last message. Every request is kept.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::Response;
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

#[derive(Default)]
struct Inner {
    replies: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<Value>>,
    calls: AtomicUsize,
}

#[derive(Clone)]
pub struct Mock {
    pub base: String,
    inner: Arc<Inner>,
}

impl Mock {
    /// Starts the mock on its own thread and runtime.
    pub fn start() -> Mock {
        let inner = Arc::new(Inner::default());
        let app = Router::new().route("/v1/chat/completions", post(complete)).with_state(inner.clone());
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
