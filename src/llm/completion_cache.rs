//! Model completions cached by request hash in `cache/llm_cache.sqlite`.
//!
//! The key is the SHA-256 of provider, model, parameters and messages. The offline provider
//! is never cached (it is cheaper than the lookup), and `temperature > 0` bypasses the cache
//! unless the request forces it: a sampled answer is not meant to repeat. A streamed miss
//! is stored once the model has finished; a streamed hit is handed over word by word.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rusqlite::{params, OptionalExtension};
use sha2::{Digest, Sha256};

use super::chat::{stream_words, ChatRequest, ChatResponse, LlmProvider, OnDelta};
use super::metrics;
use crate::error::{AppError, AppResult};
use crate::storage::DbPool;

pub struct Cached {
    inner: Arc<dyn LlmProvider>,
    pool: DbPool,
    ttl_s: u64,
    pub hits: AtomicU64,
    pub calls: AtomicU64,
}

impl Cached {
    pub fn new(inner: Arc<dyn LlmProvider>, pool: DbPool, ttl_s: u64) -> Cached {
        Cached { inner, pool, ttl_s, hits: AtomicU64::new(0), calls: AtomicU64::new(0) }
    }

    fn key(&self, req: &ChatRequest) -> String {
        let material =
            serde_json::json!([self.inner.name(), self.inner.model(), req.temperature, req.max_tokens, req.messages]);
        Sha256::digest(material.to_string().as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }

    fn lookup(&self, key: &str, now: &str) -> AppResult<Option<ChatResponse>> {
        let conn = self.pool.get()?;
        let found: Option<String> = conn
            .prepare_cached(
                "SELECT response FROM llm_cache WHERE key = ?1 AND (expires_at IS NULL OR expires_at > ?2)",
            )?
            .query_row(params![key, now], |r| r.get(0))
            .optional()?;
        let Some(text) = found else { return Ok(None) };
        conn.prepare_cached("UPDATE llm_cache SET hits = hits + 1, last_hit_at = ?2 WHERE key = ?1")?
            .execute(params![key, now])?;
        let mut r: ChatResponse = serde_json::from_str(&text).map_err(AppError::internal)?;
        r.cached = true;
        Ok(Some(r))
    }

    fn store(&self, key: &str, r: &ChatResponse, now: &str) -> AppResult<()> {
        let expires = time::OffsetDateTime::now_utc() + time::Duration::seconds(self.ttl_s as i64);
        let conn = self.pool.get()?;
        conn.prepare_cached(
            "INSERT OR REPLACE INTO llm_cache(key, provider, model, response, tokens, created_at, expires_at, hits)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)",
        )?
        .execute(params![
            key,
            self.inner.name(),
            r.model,
            serde_json::to_string(r).map_err(AppError::internal)?,
            (r.prompt_tokens + r.completion_tokens) as i64,
            now,
            crate::clock::format(expires)
        ])?;
        Ok(())
    }

    /// The cache key, or None when the request bypasses the cache.
    fn key_for(&self, req: &ChatRequest) -> Option<String> {
        let sampled = req.temperature.is_some_and(|t| t > 0.0) && !req.force_cache;
        (self.inner.cacheable() && !sampled).then(|| self.key(req))
    }

    /// A hit answers from the cache (handed over word by word when streaming); a miss calls
    /// the model and stores its full answer once it is complete.
    fn serve(&self, req: &ChatRequest, on_delta: Option<OnDelta<'_>>) -> AppResult<ChatResponse> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let Some(key) = self.key_for(req) else { return self.call(req, on_delta) };
        let now = crate::clock::now();
        if let Some(hit) = self.lookup(&key, &now)? {
            self.hits.fetch_add(1, Ordering::Relaxed);
            metrics::cache(true);
            if let Some(f) = on_delta {
                stream_words(&hit.text, f)?;
            }
            return Ok(hit);
        }
        metrics::cache(false);
        let r = self.call(req, on_delta)?;
        // A failed cache write must not fail a completion that succeeded.
        if let Err(e) = self.store(&key, &r, &now) {
            tracing::warn!(error = %e, "llm cache write failed");
        }
        Ok(r)
    }

    fn call(&self, req: &ChatRequest, on_delta: Option<OnDelta<'_>>) -> AppResult<ChatResponse> {
        match on_delta {
            Some(f) => self.inner.complete_stream(req, f),
            None => self.inner.complete(req),
        }
    }
}

impl LlmProvider for Cached {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn model(&self) -> &str {
        self.inner.model()
    }

    fn cacheable(&self) -> bool {
        self.inner.cacheable()
    }

    fn waits_on_network(&self) -> bool {
        self.inner.waits_on_network()
    }

    fn complete(&self, req: &ChatRequest) -> AppResult<ChatResponse> {
        self.serve(req, None)
    }

    fn complete_stream(&self, req: &ChatRequest, on_delta: OnDelta<'_>) -> AppResult<ChatResponse> {
        self.serve(req, Some(on_delta))
    }
}
