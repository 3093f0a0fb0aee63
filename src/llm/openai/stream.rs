//! Streaming completions: the OpenAI chat-completions SSE stream (`data: {"choices":
//! [{"delta": {"content": "…"}}]}` … `data: [DONE]`), each piece of text handed on as it
//! arrives.
//!
//! Until the first piece has been handed on, a stream that breaks is retried like a failed
//! request; after that it is an error (the client already holds part of the answer).

use std::io::{BufRead, BufReader};

use serde_json::Value;

use super::OpenAi;
use crate::error::{AppError, AppResult};
use crate::llm::chat::{approx_tokens, llm_error, ChatResponse, OnDelta};

/// Why reading the stream stopped early.
enum Stop {
    /// The delta sink refused (the client went away): returned as it is.
    Sink(AppError),
    /// The stream broke, or the model reported an error inside it.
    Broken(&'static str),
}

/// What has arrived so far.
#[derive(Default)]
struct Acc {
    text: String,
    model: Option<String>,
    usage: Option<(u32, u32)>,
    /// Some text has been handed on: no retry any more.
    forwarded: bool,
    /// A choice reported its finish_reason.
    finished: bool,
    /// `data: [DONE]` arrived.
    done: bool,
}

impl Acc {
    /// One SSE event's data; true at the end of the stream.
    fn event(&mut self, data: &str, on_delta: OnDelta<'_>) -> Result<bool, Stop> {
        if data.trim() == "[DONE]" {
            self.done = true;
            return Ok(true);
        }
        let v: Value =
            serde_json::from_str(data).map_err(|_| Stop::Broken("the model stream sent an unreadable chunk"))?;
        if v.get("error").is_some_and(|e| !e.is_null()) {
            tracing::warn!(error = %v["error"], "llm stream reported an error");
            return Err(Stop::Broken("the model service reported an error mid-stream"));
        }
        if let Some(m) = v["model"].as_str() {
            self.model = Some(m.to_string());
        }
        let usage = |k: &str| v["usage"][k].as_u64().map(|n| n as u32);
        if let (Some(p), Some(c)) = (usage("prompt_tokens"), usage("completion_tokens")) {
            self.usage = Some((p, c));
        }
        let choice = &v["choices"][0];
        if let Some(piece) = choice["delta"]["content"].as_str().filter(|s| !s.is_empty()) {
            self.text.push_str(piece);
            self.forwarded = true;
            on_delta(piece).map_err(Stop::Sink)?;
        }
        if !choice["finish_reason"].is_null() {
            self.finished = true;
        }
        Ok(false)
    }

    /// A broken stream: retried while nothing was handed on, else a failure.
    fn broken(&self, why: &'static str) -> AppResult<Option<ChatResponse>> {
        if self.forwarded {
            return Err(llm_error(why));
        }
        tracing::warn!(why, "llm stream failed before its first delta; a retry may fix it");
        Ok(None)
    }

    fn response(self, default_model: &str) -> ChatResponse {
        let (prompt_tokens, completion_tokens) = self.usage.unwrap_or((0, approx_tokens(&self.text)));
        ChatResponse {
            model: self.model.unwrap_or_else(|| default_model.to_string()),
            text: self.text,
            prompt_tokens,
            completion_tokens,
            cached: false,
        }
    }
}

/// Hands each SSE event's data (its `data:` lines joined by newlines) to `on_event` until it
/// answers true or the stream ends. Comments and other fields are ignored.
fn read_events(r: impl BufRead, mut on_event: impl FnMut(&str) -> Result<bool, Stop>) -> Result<(), Stop> {
    let mut data = String::new();
    for line in r.lines() {
        let line = line.map_err(|e| {
            tracing::warn!(error = %e, "llm stream read failed");
            Stop::Broken("the model stream broke off")
        })?;
        if line.is_empty() {
            if !data.is_empty() && on_event(&data)? {
                return Ok(());
            }
            data.clear();
        } else if let Some(d) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(d.strip_prefix(' ').unwrap_or(d));
        }
    }
    if !data.is_empty() {
        on_event(&data)?;
    }
    Ok(())
}

impl OpenAi {
    /// One streamed attempt: Ok(Some) on success, Ok(None) when a retry may help (nothing
    /// was handed on yet), Err when it won't.
    pub(super) fn attempt_stream(&self, body: &Value, on_delta: OnDelta<'_>) -> AppResult<Option<ChatResponse>> {
        let Some(resp) = self.send(body)? else { return Ok(None) };
        let mut acc = Acc::default();
        let read = read_events(BufReader::new(resp), |data| acc.event(data, &mut *on_delta));
        match read {
            Err(Stop::Sink(e)) => Err(e),
            Err(Stop::Broken(why)) => acc.broken(why),
            Ok(()) if acc.done || acc.finished => Ok(Some(acc.response(&self.model))),
            Ok(()) => acc.broken("the model stream ended before the answer was complete"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(sse: &str) -> (Result<(), Stop>, Acc, Vec<String>) {
        let (mut acc, mut got) = (Acc::default(), Vec::new());
        let r = read_events(sse.as_bytes(), |d| {
            acc.event(d, &mut |p| {
                got.push(p.to_string());
                Ok(())
            })
        });
        (r, acc, got)
    }

    #[test]
    fn deltas_usage_and_done_are_read() {
        let sse = "data: {\"model\":\"m-2\",\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n\
                   : keep-alive\n\n\
                   data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\r\n\r\n\
                   data: {\"choices\":[{\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n\
                   data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\n\
                   data: [DONE]\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"after\"}}]}\n\n";
        let (r, acc, got) = run(sse);
        assert!(r.is_ok() && acc.done && acc.finished);
        assert_eq!(got, ["Hel", "lo"]);
        let resp = acc.response("default");
        assert_eq!(
            (resp.text.as_str(), resp.model.as_str(), resp.prompt_tokens, resp.completion_tokens),
            ("Hello", "m-2", 5, 2)
        );
    }

    #[test]
    fn errors_in_the_stream_and_early_ends_are_broken_streams() {
        let (r, acc, _) = run("data: {\"error\":{\"message\":\"overloaded\"}}\n\n");
        assert!(matches!(r, Err(Stop::Broken(_))) && !acc.forwarded);
        assert!(acc.broken("x").unwrap().is_none(), "nothing handed on: retry");
        let (r, acc, _) = run("data: {\"choices\":[{\"delta\":{\"content\":\"par\"}}]}\n\n");
        assert!(r.is_ok() && !acc.done && !acc.finished && acc.forwarded);
        assert_eq!(acc.broken("x").unwrap_err().code, "llm_service_error", "text handed on: no retry");
    }
}
