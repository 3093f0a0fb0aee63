//! The Vercel AI SDK UI message stream protocol (v1), as `useChat` reads it: SSE `data:`
//! lines carrying JSON chunks, ending with `data: [DONE]`.
//!
//! Every part that starts is ended before its `finish-step`, and the assistant message's id
//! in `start` is the stored one, so a client's later requests refer to the same message.

use serde_json::{json, Value};

/// Headers the protocol requires on the response.
pub const HEADERS: [(&str, &str); 4] = [
    ("content-type", "text/event-stream"),
    ("x-vercel-ai-ui-message-stream", "v1"),
    ("cache-control", "no-cache"),
    ("x-accel-buffering", "no"),
];

/// The chunks of one assistant message. Text parts stream word by word (whitespace kept, so
/// the deltas concatenate to the text exactly); a `step-start` part closes one step and
/// opens the next.
pub fn chunks(message_id: &str, parts: &[Value]) -> Vec<Value> {
    let mut out = vec![json!({"type": "start", "messageId": message_id}), json!({"type": "start-step"})];
    for (i, p) in parts.iter().enumerate() {
        match p["type"].as_str() {
            Some("step-start") => {
                out.push(json!({"type": "finish-step"}));
                out.push(json!({"type": "start-step"}));
            }
            Some("text") => text_chunks(&format!("text-{i}"), p["text"].as_str().unwrap_or_default(), &mut out),
            Some(t) if t.starts_with("tool-") => tool_chunks(t, p, &mut out),
            _ => {}
        }
    }
    out.push(json!({"type": "finish-step"}));
    out.push(json!({"type": "finish"}));
    out
}

fn text_chunks(id: &str, text: &str, out: &mut Vec<Value>) {
    out.push(json!({"type": "text-start", "id": id}));
    for delta in words(text) {
        out.push(json!({"type": "text-delta", "id": id, "delta": delta}));
    }
    out.push(json!({"type": "text-end", "id": id}));
}

fn tool_chunks(t: &str, p: &Value, out: &mut Vec<Value>) {
    let name = t.trim_start_matches("tool-");
    let id = p["toolCallId"].clone();
    out.push(json!({"type": "tool-input-available", "toolCallId": id, "toolName": name, "input": p["input"]}));
    if p.get("output").is_some() {
        out.push(json!({"type": "tool-output-available", "toolCallId": id, "output": p["output"]}));
    }
}

/// Splits text into word-sized deltas that concatenate back to it exactly. CJK text has no
/// spaces: it is cut every few characters instead.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in text.chars() {
        cur.push(ch);
        let cut = ch.is_whitespace() || (!ch.is_ascii() && cur.chars().count() >= 4);
        if cut {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// One SSE event for a chunk.
pub fn event(chunk: &Value) -> String {
    format!("data: {chunk}\n\n")
}

pub const DONE: &str = "data: [DONE]\n\n";

/// An error chunk (the stream still ends with `[DONE]`).
pub fn error_chunk(text: &str) -> Value {
    json!({"type": "error", "errorText": text})
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let types: Vec<&str> = c.iter().map(|x| x["type"].as_str().unwrap()).collect();
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
        assert_eq!(event(&c[0]), "data: {\"messageId\":\"m1\",\"type\":\"start\"}\n\n");
    }
}
