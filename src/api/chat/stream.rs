//! A streamed chat turn: the turn's events become UI message stream chunks as they arrive.
//!
//! The response head waits for the first piece of text (or the end of the turn), so a turn
//! that fails before saying anything answers a plain HTTP error (503 `llm_service_error`,
//! retryable), and the time to the first byte is the model's time to its first token.
//! After that a failure ends the stream with an `error` chunk. Each write carries every
//! event that is ready, so a fast model's many small deltas go out in few writes.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::http::HeaderValue;
use axum::response::Response;
use serde_json::Value;
use tokio::sync::mpsc::UnboundedReceiver;
use uuid::Uuid;

use super::super::ui_stream::{self, Encoder};
use crate::error::{AppError, AppResult};
use crate::session::chat::{start_turn, TurnEnv, TurnEvent};
use crate::session::model::NewMessage;

/// Runs a turn and answers its stream once it has something to say.
pub(super) async fn turn(env: &TurnEnv, sid: Uuid, user: Option<NewMessage>) -> AppResult<Response> {
    let (message_id, mut rx) = start_turn(env, sid, user).await?;
    let mut head = Vec::new();
    loop {
        match rx.recv().await {
            Some(TurnEvent::Failed(e)) => return Err(e),
            Some(ev) => {
                let opening = matches!(ev, TurnEvent::TextStart { .. } | TurnEvent::TextEnd);
                head.push(ev);
                if !opening {
                    break;
                }
            }
            None => return Err(AppError::internal("the turn ended without a result")),
        }
    }
    let mut resp = Response::new(body(&message_id, head, rx));
    for (k, v) in ui_stream::HEADERS {
        resp.headers_mut().insert(k, HeaderValue::from_static(v));
    }
    Ok(resp)
}

/// Encodes a turn's events and knows when the stream is over.
#[derive(Default)]
struct Chunks {
    enc: Encoder,
    done: bool,
}

impl Chunks {
    fn push(&mut self, ev: TurnEvent, out: &mut String) {
        let chunks: Vec<Value> = match ev {
            // One text part per action that speaks, a step between them.
            TurnEvent::TextStart { .. } => {
                let mut c = if self.enc.in_step() { self.enc.step() } else { Vec::new() };
                c.extend(self.enc.text_start());
                c
            }
            TurnEvent::TextDelta(d) => self.enc.text_delta(&d),
            TurnEvent::TextEnd => self.enc.text_end(),
            TurnEvent::Done(_) => {
                self.done = true;
                self.enc.finish()
            }
            TurnEvent::Failed(e) => {
                tracing::warn!(code = e.code, cause = ?e.internal, "a streamed turn failed: {}", e.message);
                self.done = true;
                self.enc.fail(&e.message)
            }
        };
        ui_stream::push_events(out, &chunks);
        if self.done {
            out.push_str(ui_stream::DONE);
        }
    }
}

/// The response body: `start`, the events that arrived before the head was sent, then the
/// rest as it comes, until `[DONE]`.
fn body(message_id: &str, head: Vec<TurnEvent>, rx: UnboundedReceiver<TurnEvent>) -> Body {
    let mut c = Chunks::default();
    let mut first = String::new();
    ui_stream::push_events(&mut first, &c.enc.start(message_id));
    for ev in head {
        c.push(ev, &mut first);
    }
    let chunks = futures::stream::unfold((c, rx, Some(first)), |(mut c, mut rx, pending)| async move {
        let mut out = match pending {
            Some(p) => p,
            None if c.done => return None,
            None => {
                let ev = rx.recv().await.unwrap_or_else(|| TurnEvent::Failed(AppError::internal("the turn was lost")));
                let mut out = String::new();
                c.push(ev, &mut out);
                out
            }
        };
        while !c.done {
            match rx.try_recv() {
                Ok(ev) => c.push(ev, &mut out),
                Err(_) => break,
            }
        }
        Some((Ok::<_, Infallible>(Bytes::from(out)), (c, rx, None)))
    });
    Body::from_stream(chunks)
}
