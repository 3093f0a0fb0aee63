//! In-session search over the shard's `messages_fts` (DESIGN.md §5).
//!
//! `q` is plain text: every term is quoted (inner quotes doubled) before MATCH, so FTS5
//! syntax in a query (`NEAR(`, `*`, unbalanced quotes) is searched for as words and never
//! reaches the client as an error.

use rusqlite::params;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::service::{shard_err, S};
use super::store;
use crate::error::{AppError, AppResult};
use crate::paging;
use crate::storage::Storage;

/// Deepest result reachable by paging: bm25 ordering re-ranks every match per page.
pub const MAX_OFFSET: usize = 1000;

pub use crate::search::fts_query;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Hit {
    pub seq: i64,
    pub id: String,
    pub role: String,
    pub snippet: String,
    pub created_at: String,
    pub score: f64,
}

#[derive(Serialize, Deserialize)]
struct OffsetKey {
    o: usize,
}

pub async fn search(
    st: &Storage,
    sid: Uuid,
    q: &str,
    cursor: Option<&str>,
    limit: usize,
) -> AppResult<(Vec<Hit>, Option<String>)> {
    let Some(fts) = fts_query(q) else {
        return Err(AppError::validation("q", "q must contain at least one word"));
    };
    let offset = cursor.map(paging::decode::<OffsetKey>).transpose()?.map(|k| k.o).unwrap_or(0);
    if offset >= MAX_OFFSET {
        return Ok((Vec::new(), None));
    }
    let hits = indexed_search(st, sid, fts, offset, limit + 1).await?;
    let more = hits.len() > limit && offset + limit < MAX_OFFSET;
    let mut hits = hits;
    hits.truncate(limit);
    let next = more.then(|| paging::encode(&OffsetKey { o: offset + limit }));
    Ok((hits, next))
}

/// Searches the shard's index after bringing it up to date: the newest messages are indexed
/// in batches (schema 0004), so a reader that finds the index behind hands the search to
/// the writer, which indexes the rest first. Search therefore sees every acknowledged append.
async fn indexed_search(st: &Storage, sid: Uuid, fts: String, offset: usize, fetch: usize) -> AppResult<Vec<Hit>> {
    let q = fts.clone();
    let current = move |c: &rusqlite::Connection| {
        if store::fts_behind(c)? {
            return Ok(None);
        }
        run(c, &q, offset, fetch).map(Some)
    };
    if let Some(hits) = st.shards.read(S, sid, current).await.map_err(shard_err)? {
        return Ok(hits);
    }
    let q = fts.clone();
    let caught_up = move |c: &rusqlite::Connection| {
        store::fts_catch_up(c)?;
        run(c, &q, offset, fetch)
    };
    match st.shards.write(S, sid, caught_up).await.map_err(shard_err) {
        // A full shard cannot take the index's catch-up, but reads keep working there: search
        // what is indexed (all but the newest < 256 messages) rather than answer 507.
        Err(e) if e.status == 507 => {
            st.shards.read(S, sid, move |c| run(c, &fts, offset, fetch)).await.map_err(shard_err)
        }
        other => other,
    }
}

fn run(c: &rusqlite::Connection, fts: &str, offset: usize, fetch: usize) -> AppResult<Vec<Hit>> {
    let sql = "SELECT m.seq, m.id, m.role, snippet(messages_fts, 0, '<mark>', '</mark>', '…', 16),
                      m.created_at, bm25(messages_fts)
               FROM messages_fts JOIN messages m ON m.seq = messages_fts.rowid
               WHERE messages_fts MATCH ?1 ORDER BY bm25(messages_fts), m.seq DESC LIMIT ?2 OFFSET ?3";
    let mut stmt = c.prepare_cached(sql)?;
    let rows = stmt.query_map(params![fts, fetch as i64, offset as i64], |r| {
        Ok(Hit {
            seq: r.get(0)?,
            id: r.get(1)?,
            role: r.get(2)?,
            snippet: r.get(3)?,
            created_at: r.get(4)?,
            score: -r.get::<_, f64>(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn terms_are_quoted() {
        assert_eq!(fts_query("  "), None);
        assert_eq!(fts_query("a \"b").as_deref(), Some("\"a\" \"\"\"b\""));
        assert_eq!(fts_query("NEAR( *").as_deref(), Some("\"NEAR(\" \"*\""));
    }
}
