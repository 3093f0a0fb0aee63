//! The Vercel AI SDK UI message stream protocol (v1), as `useChat` reads it: SSE `data:`
//! lines carrying JSON chunks, ending with `data: [DONE]`.
//!
//! Every part that starts is ended before its `finish-step`, and the assistant message's id
//! in `start` is the stored one, so a client's later requests refer to the same message.
//! Text part ids are `text-<i>`, `i` being the part's index in the stored message.

use serde_json::{json, Value};

/// Headers the protocol requires on the response.
pub const HEADERS: [(&str, &str); 4] = [
    ("content-type", "text/event-stream"),
    ("x-vercel-ai-ui-message-stream", "v1"),
    ("cache-control", "no-cache"),
    ("x-accel-buffering", "no"),
];

/// Builds the chunks of one assistant message as its parts are produced.
#[derive(Debug, Default)]
pub struct Encoder {
    /// Index of the next part of the stored message.
    part: usize,
    /// The id of the open text part.
    open: Option<String>,
    /// A part was produced in the current step.
    in_step: bool,
}

impl Encoder {
    /// `start` (naming the stored message) and the first `start-step`.
    pub fn start(&mut self, message_id: &str) -> Vec<Value> {
        vec![json!({"type": "start", "messageId": message_id}), json!({"type": "start-step"})]
    }

    /// Whether a part was produced since the last step began.
    pub fn in_step(&self) -> bool {
        self.in_step
    }

    /// A `step-start` part: closes the step and opens the next.
    pub fn step(&mut self) -> Vec<Value> {
        let mut out = self.text_end();
        out.extend([json!({"type": "finish-step"}), json!({"type": "start-step"})]);
        self.part += 1;
        self.in_step = false;
        out
    }

    pub fn text_start(&mut self) -> Vec<Value> {
        let mut out = self.text_end();
        let id = format!("text-{}", self.part);
        out.push(json!({"type": "text-start", "id": id}));
        self.open = Some(id);
        out
    }

    /// A piece of the open text part (one is opened if none is).
    pub fn text_delta(&mut self, delta: &str) -> Vec<Value> {
        let mut out = if self.open.is_none() { self.text_start() } else { Vec::new() };
        out.push(json!({"type": "text-delta", "id": self.open, "delta": delta}));
        out
    }

    /// Ends the open text part, if any.
    pub fn text_end(&mut self) -> Vec<Value> {
        let Some(id) = self.open.take() else { return Vec::new() };
        self.part += 1;
        self.in_step = true;
        vec![json!({"type": "text-end", "id": id})]
    }

    /// A finished tool part.
    pub fn tool(&mut self, t: &str, p: &Value) -> Vec<Value> {
        let mut out = self.text_end();
        let id = p["toolCallId"].clone();
        let name = t.trim_start_matches("tool-");
        out.push(json!({"type": "tool-input-available", "toolCallId": id, "toolName": name, "input": p["input"]}));
        if p.get("output").is_some() {
            out.push(json!({"type": "tool-output-available", "toolCallId": id, "output": p["output"]}));
        }
        self.part += 1;
        self.in_step = true;
        out
    }

    /// The message is stored: the last step and the message end.
    pub fn finish(&mut self) -> Vec<Value> {
        let mut out = self.text_end();
        out.extend([json!({"type": "finish-step"}), json!({"type": "finish"})]);
        out
    }

    /// The turn failed: open parts and the step are closed, then `error` (no `finish`:
    /// nothing was stored).
    pub fn fail(&mut self, text: &str) -> Vec<Value> {
        let mut out = self.text_end();
        out.extend([json!({"type": "finish-step"}), error_chunk(text)]);
        out
    }
}

/// The chunks of a stored assistant message, its text word by word.
pub fn chunks(message_id: &str, parts: &[Value]) -> Vec<Value> {
    let mut enc = Encoder::default();
    let mut out = enc.start(message_id);
    for p in parts {
        match p["type"].as_str() {
            Some("step-start") => out.extend(enc.step()),
            Some("text") => {
                out.extend(enc.text_start());
                for w in words(p["text"].as_str().unwrap_or_default()) {
                    out.extend(enc.text_delta(&w));
                }
                out.extend(enc.text_end());
            }
            Some(t) if t.starts_with("tool-") => out.extend(enc.tool(t, p)),
            _ => {}
        }
    }
    out.extend(enc.finish());
    out
}

/// Splits text into word-sized deltas that concatenate back to it exactly.
pub fn words(text: &str) -> Vec<String> {
    crate::llm::chat::word_chunks(text)
}

/// One SSE event for a chunk.
pub fn event(chunk: &Value) -> String {
    format!("data: {chunk}\n\n")
}

/// The SSE events of several chunks, appended to `out`.
pub fn push_events(out: &mut String, chunks: &[Value]) {
    for c in chunks {
        out.push_str(&event(c));
    }
}

pub const DONE: &str = "data: [DONE]\n\n";

/// An error chunk (the stream still ends with `[DONE]`).
pub fn error_chunk(text: &str) -> Value {
    json!({"type": "error", "errorText": text})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(c: &[Value]) -> Vec<&str> {
        c.iter().map(|x| x["type"].as_str().unwrap()).collect()
    }

    #[test]
    fn deltas_rebuild_the_text_and_every_start_has_an_end() {
        for t in ["hello there, world", "欢迎来到心流咨询，我是你的AI助手。", "", "  spaced  out "] {
            assert_eq!(words(t).concat(), t);
        }
        let parts = vec![
            json!({"type": "text", "text": "one two"}),
            json!({"type": "step-start"}),
            json!({"type": "text", "text": "three"}),
        ];
        let c = chunks("m1", &parts);
        let types = types(&c);
        assert_eq!(types.first(), Some(&"start"));
        assert_eq!(c[0]["messageId"], "m1");
        assert_eq!(
            types.iter().filter(|t| **t == "start-step").count(),
            types.iter().filter(|t| **t == "finish-step").count()
        );
        assert_eq!(types.iter().filter(|t| **t == "text-start").count(), 2);
        assert_eq!(types.iter().filter(|t| **t == "text-end").count(), 2);
        assert_eq!(types.last(), Some(&"finish"));
        let rebuilt: String = c
            .iter()
            .filter(|x| x["type"] == "text-delta" && x["id"] == "text-0")
            .map(|x| x["delta"].as_str().unwrap())
            .collect();
        assert_eq!(rebuilt, "one two");
        assert!(c.iter().any(|x| x["type"] == "text-start" && x["id"] == "text-2"), "ids are part indexes");
        assert_eq!(event(&c[0]), "data: {\"messageId\":\"m1\",\"type\":\"start\"}\n\n");
    }

    #[test]
    fn a_failure_closes_the_open_part_and_the_step() {
        let mut enc = Encoder::default();
        let mut c = enc.start("m");
        c.extend(enc.text_delta("half"));
        c.extend(enc.fail("the model went away"));
        assert_eq!(types(&c), ["start", "start-step", "text-start", "text-delta", "text-end", "finish-step", "error"]);
        assert_eq!(c[6]["errorText"], "the model went away");
    }
}
