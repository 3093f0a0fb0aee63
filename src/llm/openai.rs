//! The `openai` provider: any OpenAI-compatible `/chat/completions` endpoint; the embedding
//! provider for the same service (`/embeddings`) is in [`embed`].
//!
//! Blocking (it runs on the engine's blocking thread), with a timeout on each network wait
//! (connecting, the response head, each read) and bounded retries with exponential backoff
//! on 429, 5xx and transport errors. Whatever is left after the retries is 503
//! `llm_service_error`, retryable; the key never reaches logs. Streaming (`stream: true`,
//! see [`stream`]) retries only until the first piece of text has been handed on.

pub mod embed;
mod stream;

use std::time::Duration;

use serde_json::{json, Value};

use reqwest::blocking::Response;

use super::chat::{approx_tokens, llm_error, ChatRequest, ChatResponse, LlmProvider, OnDelta};
use crate::config::LlmConfig;
use crate::error::AppResult;

/// The provider name of both the chat and the embedding client, in metrics.
const NAME: &str = "openai";

pub struct OpenAi {
    endpoint: Endpoint,
    model: String,
}

/// What the chat and the embedding provider share: one blocking HTTP client (kept for the
/// provider's lifetime, so connections are reused), the service's base URL, the key and the
/// retry policy, all from `llm.*`.
struct Endpoint {
    client: reqwest::blocking::Client,
    base_url: String,
    api_key: Option<String>,
    max_retries: u32,
}

impl Endpoint {
    /// Builds the client from config; the key is read from the variable `api_key_env` names.
    fn from_config(cfg: &LlmConfig) -> AppResult<Endpoint> {
        let timeout = Duration::from_millis(cfg.timeout_ms);
        // The blocking client starts a runtime of its own, which tokio refuses to do inside an
        // async context (the server builds its providers there): build it on a plain thread.
        let client = std::thread::spawn(move || reqwest::blocking::Client::builder().timeout(timeout).build())
            .join()
            .map_err(|_| llm_error("cannot build the HTTP client"))?
            .map_err(|e| llm_error("cannot build the HTTP client").with_internal(e))?;
        Ok(Endpoint {
            client,
            base_url: cfg
                .base_url
                .clone()
                .unwrap_or_else(|| "https://api.openai.com/v1".into())
                .trim_end_matches('/')
                .into(),
            api_key: std::env::var(&cfg.api_key_env).ok().filter(|k| !k.is_empty()),
            max_retries: cfg.max_retries,
        })
    }

    /// POSTs `body` to `{base_url}/{path}`: Ok(Some) with a 2xx response, Ok(None) when a
    /// retry may help (a transport error, 429, 5xx), Err when it won't (another 4xx).
    fn send(&self, path: &str, body: &Value) -> AppResult<Option<Response>> {
        let mut rb = self.client.post(format!("{}/{path}", self.base_url)).json(body);
        if let Some(k) = &self.api_key {
            rb = rb.bearer_auth(k);
        }
        let resp = match rb.send() {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(path, error = %e, "llm request failed");
                return Ok(None);
            }
        };
        let status = resp.status().as_u16();
        if status == 429 || status >= 500 {
            tracing::warn!(path, status, "llm answered an error that a retry may fix");
            return Ok(None);
        }
        if status >= 400 {
            return Err(llm_error(format!("the model service refused the request ({status})")));
        }
        Ok(Some(resp))
    }

    /// Runs `attempt` until it answers, fails for good, or the retries are spent.
    fn retrying<T>(&self, mut attempt: impl FnMut() -> AppResult<Option<T>>) -> AppResult<T> {
        for n in 0..=self.max_retries {
            if n > 0 {
                super::metrics::retry(NAME);
                std::thread::sleep(Duration::from_millis(200 * (1 << (n - 1).min(5))));
            }
            if let Some(r) = attempt()? {
                return Ok(r);
            }
        }
        Err(llm_error(format!("the model service failed after {} attempts", self.max_retries + 1)))
    }
}

/// A 2xx response's JSON body. Not retried when unreadable: the service answered, and the
/// same request would most likely get the same answer.
fn read_json(resp: Response) -> AppResult<Value> {
    resp.json().map_err(|e| llm_error("the model service answered something unreadable").with_internal(e))
}

impl OpenAi {
    /// Builds the provider from `llm.*` (see `Endpoint::from_config`).
    pub fn from_config(cfg: &LlmConfig) -> AppResult<OpenAi> {
        Ok(OpenAi {
            endpoint: Endpoint::from_config(cfg)?,
            model: cfg.model.clone().unwrap_or_else(|| "gpt-4o-mini".into()),
        })
    }

    fn body(&self, req: &ChatRequest, stream: bool) -> Value {
        let mut b = json!({"model": self.model, "messages": req.messages});
        if let Some(t) = req.temperature {
            b["temperature"] = json!(t);
        }
        if let Some(m) = req.max_tokens {
            b["max_tokens"] = json!(m);
        }
        if stream {
            b["stream"] = json!(true);
            b["stream_options"] = json!({"include_usage": true});
        }
        b
    }

    fn send(&self, body: &Value) -> AppResult<Option<Response>> {
        self.endpoint.send("chat/completions", body)
    }

    /// One attempt: Ok(Some) on success, Ok(None) when a retry may help, Err when it won't.
    fn attempt(&self, body: &Value) -> AppResult<Option<ChatResponse>> {
        let Some(resp) = self.send(body)? else { return Ok(None) };
        Ok(Some(self.parse(&read_json(resp)?)))
    }

    fn parse(&self, v: &Value) -> ChatResponse {
        let text = v["choices"][0]["message"]["content"].as_str().unwrap_or_default().to_string();
        let usage = |k: &str| v["usage"][k].as_u64().map(|n| n as u32);
        ChatResponse {
            completion_tokens: usage("completion_tokens").unwrap_or_else(|| approx_tokens(&text)),
            prompt_tokens: usage("prompt_tokens").unwrap_or(0),
            model: v["model"].as_str().unwrap_or(&self.model).to_string(),
            text,
            cached: false,
        }
    }
}

impl LlmProvider for OpenAi {
    fn name(&self) -> &str {
        NAME
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn complete(&self, req: &ChatRequest) -> AppResult<ChatResponse> {
        let body = self.body(req, false);
        self.endpoint.retrying(|| self.attempt(&body))
    }

    fn complete_stream(&self, req: &ChatRequest, on_delta: OnDelta<'_>) -> AppResult<ChatResponse> {
        let body = self.body(req, true);
        self.endpoint.retrying(|| self.attempt_stream(&body, &mut *on_delta))
    }
}
