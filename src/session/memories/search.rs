//! Ranking for memory search: the FTS5 expression built from free text, the text ranking
//! (FTS, then substring matches) and reciprocal rank fusion for hybrid search.

use std::collections::HashMap;

use rusqlite::Connection;

use super::model::SearchMode;
use super::store;
use crate::error::AppResult;

/// RRF's damping constant; 60 is the value from the original paper and common practice.
const RRF_K: f32 = 60.0;

/// A checked search, ready to run on a reader connection.
pub struct Plan {
    pub mode: SearchMode,
    pub k: usize,
    pub query: Option<String>,
    /// Model name and query vector; None in text mode.
    pub vector: Option<(String, Vec<f32>)>,
    pub memory_type: Option<String>,
}

impl Plan {
    /// Memory ids with scores, best first, at most `k`.
    pub fn rank(&self, c: &Connection) -> AppResult<Vec<(String, f32)>> {
        let mt = self.memory_type.as_deref();
        // Hybrid fuses deeper lists than it returns, so an item ranked well by only one side
        // can still make the cut.
        let depth = if self.mode == SearchMode::Hybrid { (self.k * 3).max(30) } else { self.k };
        let text = match (&self.query, self.mode) {
            (Some(q), SearchMode::Text | SearchMode::Hybrid) => text_ranked(c, q, mt, depth)?,
            _ => Vec::new(),
        };
        let near = match &self.vector {
            Some((model, v)) => store::nearest(c, model, v, mt, depth)?,
            None => Vec::new(),
        };
        Ok(match self.mode {
            SearchMode::Text => text,
            SearchMode::Vector => near,
            SearchMode::Hybrid => fuse(&[text, near], self.k),
        })
    }
}

/// An FTS5 expression that cannot be a syntax error: every whitespace-separated term is
/// quoted as a phrase (inner quotes doubled) and the terms are ORed, so `"NEAR(`, `*` or an
/// unbalanced quote are searched for as text. Terms with no letter or digit are dropped
/// because they tokenize to nothing. None when no term is left.
pub fn fts_expr(query: &str) -> Option<String> {
    let terms: Vec<String> =
        crate::search::query::fts_terms(query).filter(|t| t.chars().any(char::is_alphanumeric)).collect();
    (!terms.is_empty()).then(|| terms.join(" OR "))
}

/// Text ranking: FTS matches by bm25 first, then substring matches of the whole query that
/// FTS missed (score 0), up to `limit`.
pub fn text_ranked(
    conn: &Connection,
    query: &str,
    memory_type: Option<&str>,
    limit: usize,
) -> AppResult<Vec<(String, f32)>> {
    let mut out = match fts_expr(query) {
        Some(expr) => store::fts(conn, &expr, memory_type, limit)?,
        None => Vec::new(),
    };
    if out.len() < limit {
        for id in store::substring(conn, query.trim(), memory_type, limit)? {
            if out.len() < limit && !out.iter().any(|(seen, _)| *seen == id) {
                out.push((id, 0.0));
            }
        }
    }
    Ok(out)
}

/// Reciprocal rank fusion: each list adds 1 / (60 + rank) for the items it ranks. Robust to
/// the text and vector scores being on unrelated scales.
pub fn fuse(lists: &[Vec<(String, f32)>], k: usize) -> Vec<(String, f32)> {
    let mut scores: HashMap<&str, f32> = HashMap::new();
    let mut order: Vec<&str> = Vec::new();
    for list in lists {
        for (rank, (id, _)) in list.iter().enumerate() {
            let s = scores.entry(id).or_insert_with(|| {
                order.push(id);
                0.0
            });
            *s += 1.0 / (RRF_K + rank as f32 + 1.0);
        }
    }
    let scored = order.into_iter().map(|id| (id.to_string(), scores[id])).collect();
    crate::llm::vector::top_k(scored, k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts_expr_quotes_everything() {
        assert_eq!(fts_expr("dark mode").unwrap(), "\"dark\" OR \"mode\"");
        assert_eq!(fts_expr("say \"hi").unwrap(), "\"say\" OR \"\"\"hi\"");
        assert_eq!(fts_expr("NEAR( x*").unwrap(), "\"NEAR(\" OR \"x*\"");
        assert!(fts_expr("* ( \" -").is_none());
        assert!(fts_expr("   ").is_none());
    }

    #[test]
    fn fusion_rewards_items_both_lists_rank() {
        let text = vec![("a".to_string(), 9.0), ("b".to_string(), 5.0)];
        let vec = vec![("b".to_string(), 0.9), ("c".to_string(), 0.8)];
        let fused = fuse(&[text, vec], 10);
        assert_eq!(fused[0].0, "b");
        assert_eq!(fused.len(), 3);
        assert_eq!(fuse(&[vec![("x".to_string(), 1.0)]], 0).len(), 0);
    }
}
