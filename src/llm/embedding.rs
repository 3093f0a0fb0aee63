//! Embedding providers. [`EmbeddingProvider`] is synchronous on purpose: callers run it on a
//! blocking thread (it may touch the SQLite cache, and the remote one blocks on the network).
//! `openai` (any OpenAI-compatible `/embeddings`) is in [`super::openai::embed`].
//!
//! The default `offline` provider needs no network and is deterministic: it hashes lowercased
//! word unigrams and character bi/trigrams (FNV-1a, signed) into `dim` buckets and
//! L2-normalizes the sum. Texts that share words or character runs get a high cosine, and
//! CJK text, which has no spaces, still matches through its character n-grams.

use std::sync::Arc;

use super::embedding_cache::CachedEmbedder;
use super::openai::embed::OpenAiEmbedder;
use super::vector::normalize;
use crate::config::{EmbeddingConfig, LlmConfig, Provider};
use crate::error::{AppError, AppResult};
use crate::storage::DbPool;

pub const DEFAULT_DIM: usize = 256;
pub const OFFLINE_MODEL: &str = "offline-hash-v1";
/// Bounds for `embedding.dim`: below 8 everything collides, above this it is just waste.
const MAX_DIM: usize = 8192;

pub trait EmbeddingProvider: Send + Sync {
    /// Stored with every vector, so vectors of different models are never compared.
    fn model(&self) -> &str;
    fn dim(&self) -> usize;
    /// One vector of `dim()` per text, in order.
    fn embed(&self, texts: &[String]) -> AppResult<Vec<Vec<f32>>>;
}

/// The provider `embedding.*` configures, behind the embedding cache. Built once, at start-up
/// (the server keeps it in its state): the `openai` provider holds an HTTP client and its
/// connection pool, and reads its key (`llm.api_key_env`) there.
pub fn from_config(cfg: &EmbeddingConfig, llm: &LlmConfig, cache: DbPool) -> AppResult<Arc<dyn EmbeddingProvider>> {
    let inner: Arc<dyn EmbeddingProvider> = match cfg.provider {
        Provider::Offline => {
            let dim = cfg.dim.map(|d| d as usize).unwrap_or(DEFAULT_DIM);
            if !(8..=MAX_DIM).contains(&dim) {
                return Err(AppError::internal(format!("embedding.dim must be 8..={MAX_DIM}, got {dim}")));
            }
            Arc::new(OfflineEmbedder::new(cfg.model.clone().unwrap_or_else(|| OFFLINE_MODEL.into()), dim))
        }
        Provider::Openai => Arc::new(OpenAiEmbedder::from_config(cfg, llm)?),
    };
    Ok(Arc::new(CachedEmbedder::new(inner, cache)))
}

/// Deterministic hashed n-gram embeddings; see the module docs.
pub struct OfflineEmbedder {
    model: String,
    dim: usize,
}

impl OfflineEmbedder {
    pub fn new(model: impl Into<String>, dim: usize) -> Self {
        OfflineEmbedder { model: model.into(), dim: dim.max(1) }
    }

    pub fn embed_one(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0.0f32; self.dim];
        let lower = text.to_lowercase();
        for word in lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
            self.add(&mut v, b'w', word, 1.0);
            // Padding marks word starts and ends, so "cat" and "concatenate" differ.
            let chars: Vec<char> = std::iter::once(' ').chain(word.chars()).chain(std::iter::once(' ')).collect();
            for n in [2, 3] {
                for gram in chars.windows(n) {
                    self.add(&mut v, b'0' + n as u8, &gram.iter().collect::<String>(), 0.5);
                }
            }
        }
        normalize(&mut v);
        v
    }

    /// Adds `weight` with a hash-chosen sign to the feature's bucket. The sign keeps
    /// unrelated features from piling up positive mass in shared buckets.
    fn add(&self, v: &mut [f32], tag: u8, feature: &str, weight: f32) {
        let h = fnv1a(tag, feature.as_bytes());
        let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
        v[(h % self.dim as u64) as usize] += sign * weight;
    }
}

impl EmbeddingProvider for OfflineEmbedder {
    fn model(&self) -> &str {
        &self.model
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn embed(&self, texts: &[String]) -> AppResult<Vec<Vec<f32>>> {
        Ok(texts.iter().map(|t| self.embed_one(t)).collect())
    }
}

/// 64-bit FNV-1a over a tag byte then the feature: fixed across builds and platforms, unlike
/// std's randomly seeded hasher, so stored vectors stay comparable.
fn fnv1a(tag: u8, bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in std::iter::once(&tag).chain(bytes) {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::vector::{cosine, norm};

    fn e(text: &str) -> Vec<f32> {
        OfflineEmbedder::new(OFFLINE_MODEL, DEFAULT_DIM).embed_one(text)
    }

    #[test]
    fn deterministic_and_normalized() {
        let a = e("The quick brown fox");
        assert_eq!(a, e("The quick brown fox"));
        assert_eq!(a.len(), DEFAULT_DIM);
        assert!((norm(&a) - 1.0).abs() < 1e-5);
        assert_eq!(a, e("the QUICK brown fox!"), "case and punctuation do not matter");
        assert_eq!(norm(&e("")), 0.0);
        assert_eq!(norm(&e("  ...  ")), 0.0);
    }

    #[test]
    fn fnv1a_is_the_published_function() {
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c; our tag byte comes first.
        assert_eq!(fnv1a(b'a', b""), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn similar_texts_score_higher_than_dissimilar() {
        let base = e("the user prefers dark mode in the editor");
        let near = e("user prefers the dark mode editor theme");
        let far = e("quarterly revenue grew by twelve percent");
        assert!(cosine(&base, &near) > 0.5, "{}", cosine(&base, &near));
        assert!(cosine(&base, &near) > cosine(&base, &far) + 0.3);
    }

    #[test]
    fn cjk_text_matches_through_character_ngrams() {
        let base = e("我喜欢吃苹果和香蕉");
        let near = e("我喜欢苹果");
        let far = e("明天的天气预报说会下雨");
        assert!(norm(&base) > 0.99);
        assert!(
            cosine(&base, &near) > cosine(&base, &far) + 0.2,
            "{} vs {}",
            cosine(&base, &near),
            cosine(&base, &far)
        );
    }

    #[test]
    fn batch_embed_keeps_order_and_dim() {
        let p = OfflineEmbedder::new("m", 64);
        let out = p.embed(&["a b".into(), "c".into()]).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], p.embed_one("a b"));
        assert!(out.iter().all(|v| v.len() == 64));
        assert_eq!((p.model(), p.dim()), ("m", 64));
    }
}
