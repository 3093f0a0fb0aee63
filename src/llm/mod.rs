//! Model providers: chat completions behind [`chat::LlmProvider`] (`offline`, `openai`, both
//! able to stream), counted ([`metrics`]) and cached by request hash
//! ([`completion_cache`]); embeddings behind
//! [`embedding::EmbeddingProvider`] (deterministic `offline`, `openai`), cached by text hash
//! ([`embedding_cache`]), with the vector helpers in [`vector`].

pub mod chat;
pub mod completion_cache;
pub mod embedding;
pub mod embedding_cache;
pub mod metrics;
pub mod offline;
pub mod openai;
pub mod vector;

#[cfg(test)]
mod tests;

/// The chat provider the config asks for: `offline`, or `openai` behind the completion cache
/// (when `llm.cache` is on); model calls are counted under the cache, so hits are not calls.
pub fn provider(
    cfg: &crate::config::LlmConfig,
    cache: &crate::storage::DbPool,
) -> crate::error::AppResult<std::sync::Arc<dyn chat::LlmProvider>> {
    use std::sync::Arc;
    Ok(match cfg.provider {
        crate::config::Provider::Offline => Arc::new(metrics::Metered(Arc::new(offline::Offline))),
        crate::config::Provider::Openai => {
            let inner: Arc<dyn chat::LlmProvider> =
                Arc::new(metrics::Metered(Arc::new(openai::OpenAi::from_config(cfg)?)));
            if cfg.cache {
                Arc::new(completion_cache::Cached::new(inner, cache.clone(), cfg.cache_ttl_s))
            } else {
                inner
            }
        }
    })
}
