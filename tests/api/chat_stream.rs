//! Real token streaming with the `openai` provider against a local mock model: text reaches
//! the client while the model is still producing it, the stored message is the streamed
//! text, a model that breaks mid-stream leaves the user message and a failed turn (and the
//! next turn works), and errors before any text are retried or answered as HTTP errors.

use std::time::{Duration, Instant};

use axum::Router;
use serde_json::{json, Value};

use crate::helpers::{assert_error_shape, TestApp};
use crate::llm_mock::{Mock, Reply};
use crate::projects::post;

/// Reads a UI message stream's SSE events as they arrive.
pub struct Events {
    resp: reqwest::Response,
    buf: Vec<u8>,
}

impl Events {
    pub fn new(resp: reqwest::Response) -> Events {
        Events { resp, buf: Vec::new() }
    }

    /// The next event's data (`[DONE]` included); None once the body ends.
    pub async fn next(&mut self) -> Option<String> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let event: Vec<u8> = self.buf.drain(..i + 2).collect();
                let text = String::from_utf8(event).unwrap();
                return Some(text.trim_end().strip_prefix("data: ").unwrap_or(&text).to_string());
            }
            let chunk = self.resp.chunk().await.ok()??;
            self.buf.extend_from_slice(&chunk);
        }
    }

    /// Every remaining event, parsed (`[DONE]` as the string "[DONE]").
    pub async fn rest(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(d) = self.next().await {
            out.push(serde_json::from_str(&d).unwrap_or(Value::String(d)));
        }
        out
    }
}

pub fn types(chunks: &[Value]) -> Vec<String> {
    chunks.iter().map(|c| c["type"].as_str().unwrap_or(c.as_str().unwrap_or("?")).to_string()).collect()
}

pub fn streamed_text(chunks: &[Value]) -> String {
    chunks.iter().filter(|c| c["type"] == "text-delta").map(|c| c["delta"].as_str().unwrap()).collect()
}

async fn openai_app(mock: &Mock) -> TestApp {
    TestApp::spawn_with(mock.config(), Router::new()).await
}

async fn session(app: &TestApp) -> String {
    let (s, sess) = post(app, "/api/v1/sessions", json!({})).await;
    assert_eq!(s, 201, "{sess}");
    sess["id"].as_str().unwrap().to_string()
}

/// `POST /api/v1/chat` as `useChat` sends it.
async fn send(app: &TestApp, sid: &str, id: &str, text: &str) -> reqwest::Response {
    let body = json!({"id": sid, "trigger": "submit-message",
                      "messages": [{"id": id, "role": "user", "parts": [{"type": "text", "text": text}]}]});
    app.client.post(app.url("/api/v1/chat")).json(&body).send().await.unwrap()
}

async fn stored(app: &TestApp, sid: &str) -> Vec<Value> {
    let (_, page) = app.get(&format!("/api/v1/sessions/{sid}/messages")).await;
    page["items"].as_array().unwrap().clone()
}

async fn runs(app: &TestApp, sid: &str) -> Vec<Value> {
    let (_, page) = app.get(&format!("/api/v1/sessions/{sid}/action-runs")).await;
    page["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn text_reaches_the_client_while_the_model_is_still_writing() {
    let mock = Mock::start();
    let app = openai_app(&mock).await;
    let sid = session(&app).await;
    mock.push([Reply::pieces(&["Hello", " from", " a", " slow", " model"], 250)]);
    let t0 = Instant::now();
    let resp = send(&app, &sid, "u1", "say something slowly").await;
    assert_eq!(
        (resp.status().as_u16(), resp.headers()["x-vercel-ai-ui-message-stream"].to_str().unwrap()),
        (200, "v1")
    );
    let mut events = Events::new(resp);
    let mut head = Vec::new();
    while !head.last().is_some_and(|c: &Value| c["type"] == "text-delta") {
        head.push(serde_json::from_str::<Value>(&events.next().await.unwrap()).unwrap());
    }
    let first = t0.elapsed();
    let mut chunks = head;
    chunks.extend(events.rest().await);
    let total = t0.elapsed();
    assert!(total >= first + Duration::from_millis(700), "first delta at {first:?}, end at {total:?}");
    assert_eq!(mock.requests()[0]["stream"], true);
    let t = types(&chunks);
    assert_eq!(
        t,
        [
            "start",
            "start-step",
            "text-start",
            "text-delta",
            "text-delta",
            "text-delta",
            "text-delta",
            "text-delta",
            "text-end",
            "finish-step",
            "finish",
            "[DONE]"
        ]
    );
    let items = stored(&app, &sid).await;
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["id"], chunks[0]["messageId"], "start names the stored message");
    assert_eq!(items[1]["parts"][0]["text"].as_str(), Some(streamed_text(&chunks).as_str()));
    assert_eq!(streamed_text(&chunks), "Hello from a slow model");
}

/// A script turn with two speaking actions streams two parts, each as its model call runs:
/// here the session's opening (greeting and question), which failed when the session was
/// created and so runs with the first user turn.
#[tokio::test]
async fn each_speaking_action_streams_its_own_part() {
    let mock = Mock::start();
    let app = openai_app(&mock).await;
    mock.push([Reply::Status(500), Reply::Status(500)]);
    let sid = crate::chat::scripted_session(&app).await;
    mock.push([Reply::pieces(&["Welcome", " here."], 10), Reply::pieces(&["How", " are", " you?"], 10)]);
    let r = app
        .client
        .post(app.url(&format!("/api/v1/sessions/{sid}/chat")))
        .header("accept", "text/event-stream")
        .json(&json!({"content": "你好"}))
        .send()
        .await
        .unwrap();
    let chunks = Events::new(r).rest().await;
    let t = types(&chunks);
    let steps = t.iter().filter(|t| *t == "start-step").count();
    assert_eq!((steps, t.iter().filter(|t| *t == "finish-step").count()), (2, 2), "{t:?}");
    let items = stored(&app, &sid).await;
    assert_eq!(items[1]["id"], chunks[0]["messageId"]);
    let parts = items[1]["parts"].as_array().unwrap();
    assert_eq!((parts[0]["text"].as_str(), parts[2]["text"].as_str()), (Some("Welcome here."), Some("How are you?")));
    let by_part = |id: &str| -> String {
        chunks
            .iter()
            .filter(|c| c["type"] == "text-delta" && c["id"] == id)
            .map(|c| c["delta"].as_str().unwrap())
            .collect()
    };
    assert_eq!((by_part("text-0"), by_part("text-2")), ("Welcome here.".to_string(), "How are you?".to_string()));
}

#[tokio::test]
async fn a_model_breaking_mid_stream_leaves_a_failed_turn_and_the_next_turn_works() {
    let mock = Mock::start();
    let app = openai_app(&mock).await;
    let sid = session(&app).await;
    mock.push([Reply::broken(&["Half", " an"], 50)]);
    let chunks = Events::new(send(&app, &sid, "u1", "tell me everything").await).rest().await;
    assert_eq!(
        types(&chunks),
        ["start", "start-step", "text-start", "text-delta", "text-delta", "text-end", "finish-step", "error", "[DONE]"]
    );
    assert_eq!(mock.calls(), 1, "no retry once text went out");
    let items = stored(&app, &sid).await;
    assert_eq!((items.len(), items[0]["id"].as_str()), (1, Some("u1")), "the user message, no partial answer");
    let r = runs(&app, &sid).await;
    assert_eq!((r.len(), r[0]["status"].as_str(), r[0]["action_type"].as_str()), (1, Some("failed"), Some("chat")));
    assert_eq!(r[0]["errors"]["code"], "llm_service_error");
    // useChat's regenerate() after an error re-runs the failed turn.
    let regen = json!({"id": sid, "trigger": "regenerate-message", "messages": []});
    let resp = app.client.post(app.url("/api/v1/chat")).json(&regen).send().await.unwrap();
    let again = Events::new(resp).rest().await;
    assert_eq!(types(&again).last().map(String::as_str), Some("[DONE]"));
    let items = stored(&app, &sid).await;
    let roles: Vec<&str> = items.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant"]);
    assert_eq!(items[1]["parts"][0]["text"].as_str(), Some(streamed_text(&again).as_str()));
    let (s, t) = post(&app, &format!("/api/v1/sessions/{sid}/chat"), json!({"content": "and now?"})).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(stored(&app, &sid).await.len(), 4);
}

#[tokio::test]
async fn errors_before_any_text_are_retried_then_answered_as_http_errors() {
    let mock = Mock::start();
    let app = openai_app(&mock).await;
    let sid = session(&app).await;
    mock.push([Reply::Status(429)]);
    let chunks = Events::new(send(&app, &sid, "u1", "hello").await).rest().await;
    assert_eq!(types(&chunks).last().map(String::as_str), Some("[DONE]"));
    assert!(types(&chunks).contains(&"finish".to_string()) && streamed_text(&chunks).starts_with("echo: "));
    assert_eq!(mock.calls(), 2, "the 429 was retried");
    mock.push([Reply::Status(500), Reply::Status(500)]);
    let r = send(&app, &sid, "u2", "again").await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().get("x-vercel-ai-ui-message-stream").is_none());
    let e = assert_error_shape(&r.json().await.unwrap(), "llm_service_error");
    assert_eq!(e["retryable"], true);
    let ids: Vec<String> = stored(&app, &sid).await.iter().map(|m| m["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[2], "u2", "the failed turn keeps its user message");
    // The client retries the same message: the failed turn is re-run, not refused.
    let chunks = Events::new(send(&app, &sid, "u2", "again").await).rest().await;
    assert!(types(&chunks).contains(&"finish".to_string()));
    assert_eq!(stored(&app, &sid).await.len(), 4);
}

/// The client goes away after the first delta: the shard then holds the whole turn, or the
/// user message with a failed turn; never a partial answer. The next turn works at once.
#[tokio::test]
async fn a_client_leaving_mid_stream_never_leaves_a_partial_answer() {
    let mock = Mock::start();
    let app = openai_app(&mock).await;
    let sid = session(&app).await;
    mock.push([Reply::pieces(&["one", " two", " three", " four", " five", " six"], 200)]);
    let mut events = Events::new(send(&app, &sid, "u1", "a long answer please").await);
    while !events.next().await.unwrap().contains("text-delta") {}
    drop(events);
    let (s, t) = post(&app, &format!("/api/v1/sessions/{sid}/chat"), json!({"content": "next"})).await;
    assert_eq!(s, 200, "the next turn waits for the first, then runs: {t}");
    let items = stored(&app, &sid).await;
    let r = runs(&app, &sid).await;
    let roles: Vec<&str> = items.iter().map(|m| m["role"].as_str().unwrap()).collect();
    match r[0]["status"].as_str() {
        Some("failed") => {
            assert_eq!(roles, ["user", "user", "assistant"]);
            assert_eq!(r[0]["errors"]["code"], "client_disconnected");
        }
        _ => {
            assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
            assert_eq!(items[1]["parts"][0]["text"], "one two three four five six");
        }
    }
    for m in items.iter().filter(|m| m["role"] == "assistant") {
        let t = m["parts"][0]["text"].as_str().unwrap();
        assert!(t == "one two three four five six" || t.starts_with("echo: "), "no partial answer: {t}");
    }
}
