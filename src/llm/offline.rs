//! The `offline` model: deterministic, no network. It exists so that demos and tests run
//! anywhere, and so that a script's flow can be checked without a real model.

use serde_json::{json, Map, Value};

use super::chat::{approx_tokens, ChatRequest, ChatResponse, LlmProvider, Purpose};
use crate::error::AppResult;

pub struct Offline;

impl LlmProvider for Offline {
    fn name(&self) -> &str {
        "offline"
    }

    fn model(&self) -> &str {
        "offline-1"
    }

    fn cacheable(&self) -> bool {
        false
    }

    fn waits_on_network(&self) -> bool {
        false
    }

    fn complete(&self, req: &ChatRequest) -> AppResult<ChatResponse> {
        let text = match &req.purpose {
            // ai_say / ai_ask: the content word for word.
            Purpose::Say { content } => content.trim().to_string(),
            Purpose::Extract { names, user } => Value::Object(extract(names, user)).to_string(),
            Purpose::Think { names } => {
                let topic = req.messages.last().map(|m| first_words(&m.content, 8)).unwrap_or_default();
                let m: Map<String, Value> =
                    names.iter().map(|n| (n.clone(), json!(format!("(offline) {topic}")))).collect();
                Value::Object(m).to_string()
            }
            Purpose::Chat => chat_reply(req),
        };
        let prompt: String = req.messages.iter().map(|m| m.content.as_str()).collect::<Vec<_>>().join(" ");
        Ok(ChatResponse {
            completion_tokens: approx_tokens(&text),
            prompt_tokens: approx_tokens(&prompt),
            text,
            model: self.model().into(),
            cached: false,
        })
    }
}

/// Each wanted name gets the user's text; a name that suggests a number (age, count, score,
/// 年龄, …) gets the first number in it when there is one.
fn extract(names: &[String], user: &str) -> Map<String, Value> {
    let user = user.trim();
    let number = user.split(|c: char| !c.is_ascii_digit()).find(|s| !s.is_empty());
    names
        .iter()
        .map(|n| {
            let numeric =
                ["age", "count", "score", "number", "年龄", "分"].iter().any(|k| n.to_lowercase().contains(k));
            let v = match (numeric, number) {
                (true, Some(d)) => json!(d),
                _ if user.is_empty() => Value::Null,
                _ => json!(user),
            };
            (n.clone(), v)
        })
        .collect()
}

fn first_words(text: &str, n: usize) -> String {
    text.split_whitespace().take(n).collect::<Vec<_>>().join(" ")
}

/// A reply derived from the last user message, so a conversation is visibly answered.
fn chat_reply(req: &ChatRequest) -> String {
    let last = req.messages.iter().rev().find(|m| m.role == "user").map(|m| m.content.trim()).unwrap_or("");
    if last.is_empty() {
        return "Hello! I am Planbase's offline model. Tell me anything and I will answer.".into();
    }
    let turns = req.messages.iter().filter(|m| m.role == "user").count();
    format!(
        "You said: \"{}\". (offline model, turn {turns}; {} words heard)",
        first_words(last, 40),
        last.split_whitespace().count()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::chat::ChatMessage;

    fn req(purpose: Purpose) -> ChatRequest {
        ChatRequest {
            purpose,
            messages: vec![ChatMessage::new("user", "I am 31 and tired")],
            temperature: None,
            max_tokens: None,
            force_cache: false,
        }
    }

    #[test]
    fn say_is_the_content_word_for_word_and_everything_is_deterministic() {
        let r = Offline.complete(&req(Purpose::Say { content: "欢迎来到心流咨询 ${x}".into() })).unwrap();
        assert_eq!(r.text, "欢迎来到心流咨询 ${x}");
        let a = Offline.complete(&req(Purpose::Chat)).unwrap();
        assert_eq!(a, Offline.complete(&req(Purpose::Chat)).unwrap());
        assert!(a.text.contains("I am 31 and tired"));
    }

    #[test]
    fn extraction_is_json_derived_from_the_user_text() {
        let r = Offline
            .complete(&req(Purpose::Extract {
                names: vec!["user_age".into(), "mood".into()],
                user: "I am 31 and tired".into(),
            }))
            .unwrap();
        let v: Value = serde_json::from_str(&r.text).unwrap();
        assert_eq!(v, json!({"user_age": "31", "mood": "I am 31 and tired"}));
    }
}
