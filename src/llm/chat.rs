//! Chat-completion providers behind one trait, and the request/response types.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: &str, content: impl Into<String>) -> ChatMessage {
        ChatMessage { role: role.into(), content: content.into() }
    }
}

/// Why the model is asked: the offline provider answers by purpose; real models only see
/// the messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Purpose {
    /// Speak `content` (already interpolated) to the user.
    Say { content: String },
    /// Return a JSON object with `names` taken from the user's text.
    Extract { names: Vec<String>, user: String },
    /// Think silently; return a JSON object with `names`.
    Think { names: Vec<String> },
    /// Free conversation over the history in `messages`.
    Chat,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub purpose: Purpose,
    pub messages: Vec<ChatMessage>,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
    /// Use the cache even when `temperature > 0`.
    #[serde(default)]
    pub force_cache: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    pub text: String,
    pub model: String,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    #[serde(default)]
    pub cached: bool,
}

/// Receives a completion's text piece by piece as it arrives. An error stops the completion
/// (the client went away) and is returned as it is.
pub type OnDelta<'a> = &'a mut dyn FnMut(&str) -> AppResult<()>;

/// A chat-completion provider. Blocking: called on blocking threads (the engine's).
pub trait LlmProvider: Send + Sync {
    fn name(&self) -> &str;
    fn model(&self) -> &str;
    fn complete(&self, req: &ChatRequest) -> AppResult<ChatResponse>;
    /// Like [`complete`](Self::complete), handing the text to `on_delta` as it is produced;
    /// the returned text is exactly the deltas concatenated. By default the whole
    /// completion is computed first and then handed over word by word.
    fn complete_stream(&self, req: &ChatRequest, on_delta: OnDelta<'_>) -> AppResult<ChatResponse> {
        let r = self.complete(req)?;
        stream_words(&r.text, on_delta)?;
        Ok(r)
    }
    /// Whether results may be cached (the offline model is cheaper than the cache).
    fn cacheable(&self) -> bool {
        true
    }
    /// Whether a call may wait on the network (seconds). Such calls run on tokio's blocking
    /// pool; the others (the offline model: microseconds of CPU) on the storage read threads.
    fn waits_on_network(&self) -> bool {
        true
    }
}

/// Hands a finished text to `on_delta` in [`word_chunks`].
pub fn stream_words(text: &str, on_delta: OnDelta<'_>) -> AppResult<()> {
    word_chunks(text).iter().try_for_each(|w| on_delta(w))
}

/// Splits text into word-sized pieces that concatenate back to it exactly (whitespace is
/// kept). CJK text has no spaces: it is cut every few characters instead.
pub fn word_chunks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in text.chars() {
        cur.push(ch);
        if ch.is_whitespace() || (!ch.is_ascii() && cur.chars().count() >= 4) {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The error a delta sink answers once nobody reads the stream any more: it stops the model
/// and fails the turn. Never sent to a client (there is none left).
pub fn client_gone() -> AppError {
    AppError::new(499, "client_disconnected", "chat", "the client went away before the turn finished")
}

pub fn llm_error(message: impl Into<String>) -> AppError {
    AppError::new(503, "llm_service_error", "llm", message).retryable()
}

/// Reads the JSON object a model returned for an extraction or a thought; tolerates prose
/// around it (models add it) and answers an empty object when there is none.
pub fn json_object(text: &str) -> Map<String, Value> {
    let start = text.find('{');
    let end = text.rfind('}');
    match (start, end) {
        (Some(s), Some(e)) if e > s => serde_json::from_str(&text[s..=e]).unwrap_or_default(),
        _ => Map::new(),
    }
}

/// A rough token count for providers that report none: words plus punctuation.
pub fn approx_tokens(text: &str) -> u32 {
    text.split_whitespace().count() as u32 + text.chars().filter(|c| !c.is_ascii()).count() as u32 / 2
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_objects_are_found_in_prose() {
        let m = super::json_object("Sure! {\"name\": \"Ann\"} hope that helps");
        assert_eq!(m["name"], "Ann");
        assert!(super::json_object("no json here").is_empty());
    }

    #[test]
    fn word_chunks_rebuild_the_text() {
        for t in ["hello there, world", "欢迎来到心流咨询，我是你的AI助手。", "", "  spaced  out "] {
            assert_eq!(super::word_chunks(t).concat(), t);
        }
        assert_eq!(super::word_chunks("a b"), ["a ", "b"]);
    }
}
