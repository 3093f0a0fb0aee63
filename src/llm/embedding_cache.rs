//! The embedding cache (`cache/embedding_cache.sqlite`, DESIGN.md §4): vectors keyed by the
//! sha256 of model, dim and text, stored as little-endian f32 BLOBs, with a hit counter.
//! It matters for remote providers (each call costs money and latency); for the offline
//! provider it is cheap insurance that the same text always yields the stored vector.

use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sha2::{Digest, Sha256};

use super::embedding::EmbeddingProvider;
use super::vector;
use crate::error::AppResult;
use crate::storage::DbPool;

pub struct CachedEmbedder {
    inner: Arc<dyn EmbeddingProvider>,
    pool: DbPool,
}

impl CachedEmbedder {
    pub fn new(inner: Arc<dyn EmbeddingProvider>, pool: DbPool) -> Self {
        CachedEmbedder { inner, pool }
    }
}

/// Hex sha256 of model, dim and text, NUL-separated so no two triples share a key.
pub fn cache_key(model: &str, dim: usize, text: &str) -> String {
    let mut h = Sha256::new();
    h.update(model.as_bytes());
    h.update([0]);
    h.update(dim.to_string().as_bytes());
    h.update([0]);
    h.update(text.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl EmbeddingProvider for CachedEmbedder {
    fn model(&self) -> &str {
        self.inner.model()
    }

    fn dim(&self) -> usize {
        self.inner.dim()
    }

    /// Looks every text up, embeds only the misses in one provider call, then stores them.
    fn embed(&self, texts: &[String]) -> AppResult<Vec<Vec<f32>>> {
        let (model, dim) = (self.model().to_string(), self.dim());
        let keys: Vec<String> = texts.iter().map(|t| cache_key(&model, dim, t)).collect();
        let mut conn = self.pool.get()?;
        let mut out = lookup(&mut conn, &keys, dim)?;
        let misses: Vec<usize> = (0..texts.len()).filter(|i| out[*i].is_none()).collect();
        if !misses.is_empty() {
            let fresh = self.inner.embed(&misses.iter().map(|i| texts[*i].clone()).collect::<Vec<_>>())?;
            store(&mut conn, &model, dim, misses.iter().map(|i| keys[*i].as_str()).zip(&fresh))?;
            for (i, v) in misses.into_iter().zip(fresh) {
                out[i] = Some(v);
            }
        }
        Ok(out.into_iter().map(|v| v.unwrap_or_default()).collect())
    }
}

/// The cached vector of each key (None for a miss), counting a hit on each found row.
fn lookup(conn: &mut Connection, keys: &[String], dim: usize) -> AppResult<Vec<Option<Vec<f32>>>> {
    let mut out = Vec::with_capacity(keys.len());
    {
        let mut get = conn.prepare_cached("SELECT vector FROM embedding_cache WHERE key = ?1 AND dim = ?2")?;
        for key in keys {
            let blob: Option<Vec<u8>> = get.query_row(params![key, dim as i64], |r| r.get(0)).optional()?;
            out.push(blob.map(|b| vector::decode(&b)).transpose()?.filter(|v| v.len() == dim));
        }
    }
    let hit: Vec<&String> = keys.iter().zip(&out).filter(|(_, v)| v.is_some()).map(|(k, _)| k).collect();
    if !hit.is_empty() {
        // IMMEDIATE: a deferred transaction that read first and then writes fails with
        // SQLITE_BUSY (no busy wait) when another connection committed in between.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut bump = tx.prepare_cached("UPDATE embedding_cache SET hits = hits + 1 WHERE key = ?1")?;
            for key in hit {
                bump.execute([key])?;
            }
        }
        tx.commit()?;
    }
    Ok(out)
}

fn store<'a>(
    conn: &mut Connection,
    model: &str,
    dim: usize,
    rows: impl Iterator<Item = (&'a str, &'a Vec<f32>)>,
) -> AppResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut ins = tx.prepare_cached(
            "INSERT OR REPLACE INTO embedding_cache (key, model, dim, vector, created_at, hits) \
             VALUES (?1, ?2, ?3, ?4, ?5, 0)",
        )?;
        let now = crate::clock::now();
        for (key, v) in rows.filter(|(_, v)| v.len() == dim) {
            ins.execute(params![key, model, dim as i64, vector::encode(v), now])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Total hits of the cache rows for `text` under `model`/`dim` (tests and diagnostics).
pub fn hits(conn: &Connection, model: &str, dim: usize, text: &str) -> AppResult<Option<i64>> {
    let key = cache_key(model, dim, text);
    Ok(conn.query_row("SELECT hits FROM embedding_cache WHERE key = ?1", [key], |r| r.get(0)).optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StorageConfig;
    use crate::llm::embedding::OfflineEmbedder;
    use crate::storage::{connection::Pragmas, DbRoot, SharedDbs};

    #[test]
    fn second_identical_embed_is_a_counted_hit() {
        let dir = tempfile::tempdir().unwrap();
        let root = DbRoot::new(dir.path());
        crate::storage::ensure_layout(&root).unwrap();
        let dbs = SharedDbs::open(&root, &Pragmas::from_config(&StorageConfig::default())).unwrap();
        let offline = Arc::new(OfflineEmbedder::new("m", 32));
        let cached = CachedEmbedder::new(offline.clone(), dbs.embedding_cache.clone());
        let texts = vec!["hello world".to_string(), "другой текст".to_string()];
        let first = cached.embed(&texts).unwrap();
        assert_eq!(first, offline.embed(&texts).unwrap());
        let conn = dbs.embedding_cache.get().unwrap();
        assert_eq!(hits(&conn, "m", 32, "hello world").unwrap(), Some(0));
        let second = cached.embed(&texts[..1]).unwrap();
        assert_eq!(second[0], first[0]);
        assert_eq!(hits(&conn, "m", 32, "hello world").unwrap(), Some(1));
        assert_eq!(hits(&conn, "m", 32, "другой текст").unwrap(), Some(0));
        assert_eq!(hits(&conn, "m", 64, "hello world").unwrap(), None, "dim is part of the key");
    }
}
