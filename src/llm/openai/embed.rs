//! The `openai` embedding provider: any OpenAI-compatible `POST {base_url}/embeddings`
//! (`{"model", "input": [texts], "dimensions"?}` → `{"data": [{"index", "embedding"}]}`).
//!
//! It shares the chat provider's `Endpoint`: `llm.base_url`, the key from `llm.api_key_env`,
//! `llm.timeout_ms` and `llm.max_retries` (429, 5xx and transport errors retried with backoff,
//! other 4xx failing at once, then 503 `llm_service_error`). An answer is used only after it
//! has been checked — one vector per text, every index once, every vector of the expected
//! size — because a vector of another size would be stored and then silently never match.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{read_json, Endpoint, NAME};
use crate::config::{EmbeddingConfig, LlmConfig};
use crate::error::{AppError, AppResult};
use crate::llm::chat::llm_error;
use crate::llm::embedding::EmbeddingProvider;

/// `embedding.model` when unset.
pub const DEFAULT_MODEL: &str = "text-embedding-3-small";

/// Texts per request. OpenAI takes up to 2048; smaller batches keep a request's body and
/// time bounded (callers embed a text or two today, so this rarely splits anything).
const MAX_BATCH: usize = 256;

/// Vector sizes of OpenAI's models, for when `embedding.dim` is unset. The size must be known
/// before the first call: it is part of every cache key, and it picks the stored vectors a
/// search compares against.
const KNOWN_DIMS: [(&str, usize); 3] =
    [("text-embedding-3-small", 1536), ("text-embedding-3-large", 3072), ("text-embedding-ada-002", 1536)];

pub struct OpenAiEmbedder {
    endpoint: Endpoint,
    model: String,
    dim: usize,
    /// `embedding.dim` was set, so it is sent as `dimensions` (the text-embedding-3 models
    /// shorten their vectors to it; older models refuse the field, so it is not always sent).
    send_dim: bool,
}

impl OpenAiEmbedder {
    /// The provider `embedding.model`/`embedding.dim` and the `llm.*` connection keys describe.
    pub fn from_config(cfg: &EmbeddingConfig, llm: &LlmConfig) -> AppResult<OpenAiEmbedder> {
        let model = cfg.model.clone().unwrap_or_else(|| DEFAULT_MODEL.into());
        let dim = match cfg.dim {
            Some(d) => d as usize,
            None => known_dim(&model).ok_or_else(|| {
                AppError::internal(format!("embedding.dim: the vector size of model {model:?} is not known; set it"))
            })?,
        };
        Ok(OpenAiEmbedder { endpoint: Endpoint::from_config(llm)?, model, dim, send_dim: cfg.dim.is_some() })
    }

    fn body(&self, texts: &[String]) -> Value {
        let mut b = json!({"model": self.model, "input": texts});
        if self.send_dim {
            b["dimensions"] = json!(self.dim);
        }
        b
    }

    /// One attempt at one batch: Ok(Some) with its vectors in input order, Ok(None) when a
    /// retry may help, Err when it won't (a refusal, or an answer that fails the checks).
    fn attempt(&self, body: &Value, n: usize) -> AppResult<Option<Vec<Vec<f32>>>> {
        let Some(resp) = self.endpoint.send("embeddings", body)? else { return Ok(None) };
        Ok(Some(in_order(read_json(resp)?, n, self.dim)?))
    }

    fn embed_batch(&self, texts: &[String]) -> AppResult<Vec<Vec<f32>>> {
        let body = self.body(texts);
        let r = self.endpoint.retrying(|| self.attempt(&body, texts.len()));
        // Counted like chat calls: below the cache, so cache hits are not calls.
        crate::llm::metrics::call(NAME, &r);
        r
    }
}

impl EmbeddingProvider for OpenAiEmbedder {
    fn model(&self) -> &str {
        &self.model
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn embed(&self, texts: &[String]) -> AppResult<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(MAX_BATCH) {
            out.extend(self.embed_batch(batch)?);
        }
        Ok(out)
    }
}

/// The vector size of a known OpenAI model.
pub fn known_dim(model: &str) -> Option<usize> {
    KNOWN_DIMS.iter().find(|(m, _)| *m == model).map(|(_, d)| *d)
}

#[derive(Deserialize)]
struct Answer {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    index: usize,
    embedding: Vec<f32>,
}

/// The answer's vectors in input order (the service may list them in any order; `index`
/// says which text each belongs to), or why the answer cannot be used.
fn in_order(answer: Value, n: usize, dim: usize) -> AppResult<Vec<Vec<f32>>> {
    let Answer { mut data } = serde_json::from_value(answer)
        .map_err(|e| llm_error("the embedding service answered something unreadable").with_internal(e))?;
    if data.len() != n {
        return Err(unusable(format!("the embedding service answered {} vectors for {n} texts", data.len())));
    }
    data.sort_by_key(|d| d.index);
    // Sorted and as many as the texts: each index is used once exactly when index i is at i.
    if data.iter().enumerate().any(|(i, d)| d.index != i) {
        return Err(unusable("the embedding service answered repeated or out-of-range indexes".into()));
    }
    if let Some(bad) = data.iter().find(|d| d.embedding.len() != dim) {
        let got = bad.embedding.len();
        return Err(unusable(format!("the embedding service answered {got}-dimensional vectors; {dim} were expected")));
    }
    Ok(data.into_iter().map(|d| d.embedding).collect())
}

/// An answer that reads but fails the checks: not retried, since the same request would get
/// the same answer; most often the config names another model or size than the service has.
fn unusable(why: String) -> AppError {
    llm_error(why).with_suggestion("check embedding.model and embedding.dim against the embedding service")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(index: usize, v: &[f32]) -> Value {
        json!({"object": "embedding", "index": index, "embedding": v})
    }

    #[test]
    fn vectors_come_back_in_input_order() {
        let answer = json!({"object": "list", "model": "m",
            "data": [item(2, &[3.0, 3.0]), item(0, &[1.0, 1.0]), item(1, &[2.0, 2.0])]});
        let got = in_order(answer, 3, 2).unwrap();
        assert_eq!(got, vec![vec![1.0, 1.0], vec![2.0, 2.0], vec![3.0, 3.0]]);
        assert!(in_order(json!({"data": []}), 0, 2).unwrap().is_empty());
    }

    #[test]
    fn a_wrong_count_or_index_is_refused() {
        let two = json!({"data": [item(0, &[1.0]), item(1, &[1.0])]});
        assert!(in_order(two.clone(), 3, 1).unwrap_err().message.contains("2 vectors for 3 texts"));
        assert!(in_order(two, 1, 1).is_err());
        let repeated = json!({"data": [item(0, &[1.0]), item(0, &[2.0])]});
        assert!(in_order(repeated, 2, 1).unwrap_err().message.contains("indexes"));
        let gap = json!({"data": [item(0, &[1.0]), item(2, &[2.0])]});
        assert!(in_order(gap, 2, 1).unwrap_err().message.contains("indexes"));
    }

    #[test]
    fn a_wrong_dimension_or_shape_is_refused() {
        let mixed = json!({"data": [item(0, &[1.0, 2.0]), item(1, &[1.0, 2.0, 3.0])]});
        assert!(in_order(mixed, 2, 2).unwrap_err().message.contains("3-dimensional vectors; 2 were expected"));
        let short = json!({"data": [item(0, &[1.0, 2.0])]});
        let e = in_order(short, 1, 4).unwrap_err();
        assert!(e.message.contains("2-dimensional vectors; 4 were expected"), "{}", e.message);
        assert_eq!((e.status, e.code, e.retryable), (503, "llm_service_error", true));
        for bad in [json!({"error": {"message": "x"}}), json!({"data": [{"index": 0}]}), json!([1, 2])] {
            assert!(in_order(bad, 1, 1).unwrap_err().message.contains("unreadable"));
        }
        let strings = json!({"data": [{"index": 0, "embedding": "AAAA"}]});
        assert!(in_order(strings, 1, 1).is_err(), "base64 vectors are not asked for, so not read");
    }

    fn embedder(model: Option<&str>, dim: Option<u32>) -> AppResult<OpenAiEmbedder> {
        let cfg = EmbeddingConfig { model: model.map(Into::into), dim, ..EmbeddingConfig::default() };
        OpenAiEmbedder::from_config(&cfg, &LlmConfig::default())
    }

    #[test]
    fn the_size_comes_from_config_or_the_known_models() {
        let e = embedder(None, None).unwrap();
        assert_eq!((e.model(), e.dim(), e.send_dim), (DEFAULT_MODEL, 1536, false));
        assert!(e.body(&["a".into()]).get("dimensions").is_none());
        assert_eq!(embedder(Some("text-embedding-3-large"), None).unwrap().dim(), 3072);
        let e = embedder(Some("local-model"), Some(64)).unwrap();
        assert_eq!(e.dim(), 64);
        assert_eq!(
            e.body(&["a".into(), "b".into()]),
            json!({"model": "local-model", "input": ["a", "b"], "dimensions": 64})
        );
        let err = embedder(Some("local-model"), None).err().unwrap();
        assert!(err.operator_message().starts_with("embedding.dim:"), "{}", err.operator_message());
    }
}
