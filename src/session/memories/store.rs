//! All SQL on the memories and memory_embeddings tables of a session shard (plus the
//! memories_fts table of migration 0002).

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::model::{Memory, MemoryKey};
use crate::error::{AppError, AppResult};
use crate::llm::vector;

const COLS: &str = "id, content, memory_type, importance, keywords, tags, context, related_task_id, \
                    created_at, last_accessed, access_count";

fn row(r: &Row) -> rusqlite::Result<Memory> {
    let json = |i: usize| -> rusqlite::Result<serde_json::Value> {
        let s: String = r.get(i)?;
        Ok(serde_json::from_str(&s).unwrap_or_default())
    };
    Ok(Memory {
        id: r.get(0)?,
        content: r.get(1)?,
        memory_type: r.get(2)?,
        importance: r.get(3)?,
        keywords: json(4)?,
        tags: json(5)?,
        context: r.get(6)?,
        related_task_id: r.get(7)?,
        created_at: r.get(8)?,
        last_accessed: r.get(9)?,
        access_count: r.get(10)?,
    })
}

/// Inserts the memory and its embedding together, so a memory never lacks its vector.
pub fn insert(conn: &Connection, m: &Memory, model: &str, v: &[f32]) -> AppResult<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO memories ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))?
    .execute(params![
        m.id,
        m.content,
        m.memory_type,
        m.importance,
        m.keywords.to_string(),
        m.tags.to_string(),
        m.context,
        m.related_task_id,
        m.created_at,
        m.last_accessed,
        m.access_count
    ])?;
    conn.prepare_cached("INSERT INTO memory_embeddings (memory_id, model, dim, vector) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![m.id, model, v.len() as i64, vector::encode(v)])?;
    Ok(())
}

/// One page, newest first, fetching `limit + 1` so the caller can tell whether more follow.
pub fn list(
    conn: &Connection,
    memory_type: Option<&str>,
    after: Option<&MemoryKey>,
    limit: usize,
) -> AppResult<Vec<Memory>> {
    let sql = format!(
        "SELECT {COLS} FROM memories WHERE (?1 IS NULL OR memory_type = ?1) \
         AND (?2 IS NULL OR created_at < ?2 OR (created_at = ?2 AND id < ?3)) \
         ORDER BY created_at DESC, id DESC LIMIT ?4"
    );
    let (c, i) = after.map(|k| (Some(k.c.as_str()), Some(k.i.as_str()))).unwrap_or_default();
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![memory_type, c, i, (limit + 1) as i64], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get(conn: &Connection, id: &str) -> AppResult<Option<Memory>> {
    let sql = format!("SELECT {COLS} FROM memories WHERE id = ?1");
    Ok(conn.prepare_cached(&sql)?.query_row([id], row).optional()?)
}

/// Counts a read: bumps access_count and last_accessed, then returns the updated row.
pub fn touch(conn: &Connection, id: &str, now: &str) -> AppResult<Option<Memory>> {
    let n = conn
        .prepare_cached("UPDATE memories SET access_count = access_count + 1, last_accessed = ?2 WHERE id = ?1")?
        .execute(params![id, now])?;
    if n == 0 {
        return Ok(None);
    }
    get(conn, id)
}

/// Deletes the memory and its embedding. The embedding is deleted explicitly rather than
/// trusting ON DELETE CASCADE, which needs foreign_keys=ON on the connection.
pub fn delete(conn: &Connection, id: &str) -> AppResult<bool> {
    conn.prepare_cached("DELETE FROM memory_embeddings WHERE memory_id = ?1")?.execute([id])?;
    Ok(conn.prepare_cached("DELETE FROM memories WHERE id = ?1")?.execute([id])? > 0)
}

/// Memories by id, for turning ranked ids into results.
pub fn get_many(conn: &Connection, ids: &[String]) -> AppResult<HashMap<String, Memory>> {
    let mut out = HashMap::with_capacity(ids.len());
    for id in ids {
        if let Some(m) = get(conn, id)? {
            out.insert(id.clone(), m);
        }
    }
    Ok(out)
}

/// FTS5 matches of an already-quoted expression, best first, with score = -bm25 (higher is
/// better).
pub fn fts(conn: &Connection, expr: &str, memory_type: Option<&str>, limit: usize) -> AppResult<Vec<(String, f32)>> {
    let sql = "SELECT memories_fts.memory_id, bm25(memories_fts) FROM memories_fts \
               JOIN memories m ON m.id = memories_fts.memory_id \
               WHERE memories_fts MATCH ?1 AND (?2 IS NULL OR m.memory_type = ?2) \
               ORDER BY bm25(memories_fts) LIMIT ?3";
    let mut stmt = conn.prepare_cached(sql)?;
    let rows =
        stmt.query_map(params![expr, memory_type, limit as i64], |r| Ok((r.get(0)?, -(r.get::<_, f64>(1)? as f32))))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Memories whose content holds `needle` as a substring (ASCII case-insensitive), newest
/// first. Catches what the tokenizer cannot: CJK runs have no spaces to split on.
pub fn substring(conn: &Connection, needle: &str, memory_type: Option<&str>, limit: usize) -> AppResult<Vec<String>> {
    let sql = "SELECT id FROM memories WHERE instr(lower(content), lower(?1)) > 0 \
               AND (?2 IS NULL OR memory_type = ?2) ORDER BY created_at DESC, id DESC LIMIT ?3";
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params![needle, memory_type, limit as i64], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Cosine top-k over the embeddings of one model and dim. A full scan: a session holds few
/// memories, and an index would cost every session file pages it mostly never uses.
pub fn nearest(
    conn: &Connection,
    model: &str,
    query: &[f32],
    memory_type: Option<&str>,
    k: usize,
) -> AppResult<Vec<(String, f32)>> {
    let sql = "SELECT e.memory_id, e.vector FROM memory_embeddings e JOIN memories m ON m.id = e.memory_id \
               WHERE e.model = ?1 AND e.dim = ?2 AND (?3 IS NULL OR m.memory_type = ?3)";
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params![model, query.len() as i64, memory_type])?;
    let mut scored = Vec::new();
    while let Some(r) = rows.next()? {
        let v = vector::decode(r.get_ref(1)?.as_blob().map_err(AppError::internal)?)?;
        scored.push((r.get::<_, String>(0)?, vector::cosine(query, &v)));
    }
    Ok(vector::top_k(scored, k))
}
