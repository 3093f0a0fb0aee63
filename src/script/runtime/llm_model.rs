//! The engine's [`Model`] on top of a chat-completion provider: the prompts that turn
//! `ai_say`, extraction and `ai_think` into chat requests. Every call records its request
//! and usage, so a chat turn can answer `?debug=true` with prompt, model and tokens. With a
//! [`Sink`], spoken text (ai_say, ai_ask, free chat) streams as the model produces it;
//! extraction and thinking stay silent.

use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{Map, Value};

use super::engine::Model;
use super::model::Action;
use crate::error::AppResult;
use crate::llm::chat::{json_object, ChatMessage, ChatRequest, ChatResponse, LlmProvider, Purpose};

/// One model call of a turn, for debugging.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Call {
    pub request: ChatRequest,
    pub model: String,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub cached: bool,
}

/// Where a turn's spoken text goes as the model produces it: a text part opens for the
/// action that speaks, its text arrives in pieces, the part closes. An error (the client
/// went away) stops the model and fails the turn.
pub enum Spoken<'a> {
    Start { action_id: &'a str },
    Delta(&'a str),
    End,
}

pub type Sink = Box<dyn Fn(Spoken<'_>) -> AppResult<()> + Send + Sync>;

pub struct LlmModel {
    provider: Arc<dyn LlmProvider>,
    pub calls: Mutex<Vec<Call>>,
    /// Streams what `say` and `chat` produce; None: complete each answer first.
    sink: Option<Sink>,
}

impl LlmModel {
    pub fn new(provider: Arc<dyn LlmProvider>) -> LlmModel {
        LlmModel { provider, calls: Mutex::new(Vec::new()), sink: None }
    }

    /// A model whose spoken text streams to `sink` as it is produced.
    pub fn streaming(provider: Arc<dyn LlmProvider>, sink: Sink) -> LlmModel {
        LlmModel { sink: Some(sink), ..LlmModel::new(provider) }
    }

    fn ask(&self, purpose: Purpose, messages: Vec<ChatMessage>) -> AppResult<ChatResponse> {
        let request = ChatRequest { purpose, messages, temperature: None, max_tokens: None, force_cache: false };
        let r = self.provider.complete(&request)?;
        self.record(request, &r);
        Ok(r)
    }

    /// Like `ask`, for words the user sees: streamed when there is a sink.
    fn speak(&self, action_id: &str, purpose: Purpose, messages: Vec<ChatMessage>) -> AppResult<ChatResponse> {
        let Some(sink) = &self.sink else { return self.ask(purpose, messages) };
        let request = ChatRequest { purpose, messages, temperature: None, max_tokens: None, force_cache: false };
        sink(Spoken::Start { action_id })?;
        let r = self.provider.complete_stream(&request, &mut |d| sink(Spoken::Delta(d)))?;
        sink(Spoken::End)?;
        self.record(request, &r);
        Ok(r)
    }

    fn record(&self, request: ChatRequest, r: &ChatResponse) {
        let call = Call {
            request,
            model: r.model.clone(),
            prompt_tokens: r.prompt_tokens,
            completion_tokens: r.completion_tokens,
            cached: r.cached,
        };
        self.calls.lock().push(call);
    }

    /// Free conversation over `messages`, spoken as `action_id`.
    pub fn chat(&self, action_id: &str, messages: Vec<ChatMessage>) -> AppResult<ChatResponse> {
        self.speak(action_id, Purpose::Chat, messages)
    }
}

impl Model for LlmModel {
    fn say(&self, action: &Action, content: &str) -> AppResult<String> {
        let role = action.text(&["ai_role"]).unwrap_or_else(|| "counsellor".into());
        let system = format!(
            "You are a {role}. Say the following to the user in your own words, keeping its meaning and language. \
             Answer with what you say only.\n\n{content}"
        );
        Ok(self
            .speak(&action.id, Purpose::Say { content: content.into() }, vec![ChatMessage::new("system", system)])?
            .text)
    }

    fn extract(&self, instruction: &str, user: &str, names: &[String]) -> AppResult<Map<String, Value>> {
        let system = format!(
            "Extract {} from the user's reply. Answer only a JSON object with those keys; use null for what the \
             reply does not say. {instruction}",
            names.join(", ")
        );
        let purpose = Purpose::Extract { names: names.to_vec(), user: user.into() };
        let r = self.ask(purpose, vec![ChatMessage::new("system", system), ChatMessage::new("user", user)])?;
        Ok(json_object(&r.text))
    }

    fn think(&self, content: &str, names: &[String]) -> AppResult<Map<String, Value>> {
        let system = format!(
            "Think about the following silently. Answer only a JSON object with the keys {}.",
            names.join(", ")
        );
        let r = self.ask(
            Purpose::Think { names: names.to_vec() },
            vec![ChatMessage::new("system", system), ChatMessage::new("user", content)],
        )?;
        Ok(json_object(&r.text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::runtime::engine::{self, Ctx, Output};
    use crate::script::runtime::{model, vars::VarStore};

    #[test]
    fn the_offline_model_speaks_the_content_word_for_word() {
        let yaml = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/fixtures/heartrule/project-templates/scripts/examples/hello-world.yaml"
        ))
        .unwrap();
        let script = model::parse(&yaml, &crate::script::Limits::default()).unwrap();
        let m = LlmModel::new(Arc::new(crate::llm::offline::Offline));
        let none = |_: &str| None;
        let ctx = Ctx { script: &script, skills: &none, model: &m, trace: &() };
        let (st, out) = engine::start(&ctx, VarStore::default()).unwrap();
        let said: Vec<&str> = out
            .iter()
            .filter_map(|o| if let Output::Say { text, .. } = o { Some(text.as_str()) } else { None })
            .collect();
        assert_eq!(
            said,
            ["欢迎来到心流咨询，我是你的AI助手。\n今天我们可以聊一聊你最近的感受。", "你最近过得怎么样？"]
        );
        let (st, _) = engine::input(&ctx, st, "还不错，就是有点累").unwrap();
        assert!(st.completed);
        assert_eq!(st.vars.session["用户状态"], "还不错，就是有点累");
        assert_eq!(m.calls.lock().len(), 2, "two says; direct extraction needs no model call");
    }
}
