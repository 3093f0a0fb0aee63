//! Registry SQL for session rows. The row mirrors the shard's meta plus the summary
//! (message_count, last_message_at, summary_seq), which is fed behind the append path.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::error::AppResult;
use crate::paging::UpdatedKey;
use crate::session::model::Session;

const COLS: &str = "id, project_id, user_id, name, name_source, status, execution_status, message_count,
                    last_message_at, summary_seq, created_at, updated_at, current_task_id, metadata, health";

fn session_of(r: &Row) -> rusqlite::Result<Session> {
    Ok(Session {
        id: r.get(0)?,
        project_id: r.get(1)?,
        user_id: r.get(2)?,
        name: r.get(3)?,
        name_source: r.get(4)?,
        status: r.get(5)?,
        execution_status: r.get(6)?,
        message_count: r.get(7)?,
        last_message_at: r.get(8)?,
        summary_seq: r.get(9)?,
        created_at: r.get(10)?,
        updated_at: r.get(11)?,
        current_task_id: r.get(12)?,
        metadata: serde_json::from_str(&r.get::<_, String>(13)?).unwrap_or_default(),
        health: r.get(14)?,
    })
}

/// Inserts or replaces the whole row (create, patch, reindex).
pub fn upsert(conn: &Connection, s: &Session) -> AppResult<()> {
    let sql = format!(
        "INSERT OR REPLACE INTO sessions({COLS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
    );
    conn.prepare_cached(&sql)?.execute(params![
        s.id,
        s.project_id,
        s.user_id,
        s.name,
        s.name_source,
        s.status,
        s.execution_status,
        s.message_count,
        s.last_message_at,
        s.summary_seq,
        s.created_at,
        s.updated_at,
        s.current_task_id,
        s.metadata.to_string(),
        s.health,
    ])?;
    Ok(())
}

pub fn get(conn: &Connection, id: &str) -> AppResult<Option<Session>> {
    let sql = format!("SELECT {COLS} FROM sessions WHERE id = ?1");
    Ok(conn.prepare_cached(&sql)?.query_row([id], session_of).optional()?)
}

pub fn delete(conn: &Connection, id: &str) -> AppResult<()> {
    conn.execute("DELETE FROM sessions WHERE id = ?1", [id])?;
    Ok(())
}

/// Resolved list filters (all optional) for [`list`].
#[derive(Debug, Default)]
pub struct ListQuery<'a> {
    pub user_id: Option<&'a str>,
    pub project_id: Option<&'a str>,
    pub status: Option<&'a str>,
    pub after: Option<UpdatedKey>,
    pub fetch: usize,
}

/// Newest first by `(updated_at, id)`.
pub fn list(conn: &Connection, q: &ListQuery) -> AppResult<Vec<Session>> {
    let sql = format!(
        "SELECT {COLS} FROM sessions
         WHERE (?1 IS NULL OR user_id = ?1) AND (?2 IS NULL OR project_id = ?2) AND (?3 IS NULL OR status = ?3)
           AND (?4 IS NULL OR updated_at < ?4 OR (updated_at = ?4 AND id < ?5))
         ORDER BY updated_at DESC, id DESC LIMIT ?6"
    );
    let (au, ai) = q.after.as_ref().map(|k| (Some(k.u.as_str()), Some(k.i.as_str()))).unwrap_or((None, None));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![q.user_id, q.project_id, q.status, au, ai, q.fetch as i64], session_of)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One pending summary delta, applied additively and idempotently: new messages have
/// contiguous seqs (nothing deletes messages), so `max_seq - summary_seq` is how many the row
/// has not counted yet, and applying the same delta twice adds nothing.
#[derive(Debug, Clone)]
pub struct SummaryDelta {
    pub id: String,
    pub max_seq: i64,
    pub last_message_at: Option<String>,
    pub title: Option<String>,
    pub execution_status: Option<String>,
}

pub fn apply_delta(conn: &Connection, d: &SummaryDelta) -> AppResult<()> {
    let sql = "UPDATE sessions SET
                 message_count = message_count + max(0, ?2 - summary_seq),
                 summary_seq = max(summary_seq, ?2),
                 last_message_at = CASE WHEN ?3 IS NOT NULL AND (last_message_at IS NULL OR last_message_at < ?3)
                                        THEN ?3 ELSE last_message_at END,
                 updated_at = CASE WHEN ?3 IS NOT NULL AND updated_at < ?3 THEN ?3 ELSE updated_at END,
                 name = CASE WHEN ?4 IS NOT NULL AND name IS NULL AND name_source = 'auto' THEN ?4 ELSE name END,
                 execution_status = coalesce(?5, execution_status)
               WHERE id = ?1";
    conn.prepare_cached(sql)?.execute(params![d.id, d.max_seq, d.last_message_at, d.title, d.execution_status])?;
    Ok(())
}

/// Sets the summary to a full recount of the shard (reconcile).
pub fn set_summary(conn: &Connection, id: &str, count: i64, max_seq: i64, last: Option<&str>) -> AppResult<()> {
    let sql = "UPDATE sessions SET message_count = ?2, summary_seq = ?3,
                 last_message_at = coalesce(?4, last_message_at),
                 updated_at = CASE WHEN ?4 IS NOT NULL AND updated_at < ?4 THEN ?4 ELSE updated_at END
               WHERE id = ?1";
    conn.prepare_cached(sql)?.execute(params![id, count, max_seq, last])?;
    Ok(())
}

pub fn set_flushed(conn: &Connection, now: &str) -> AppResult<()> {
    conn.prepare_cached("UPDATE flush_state SET last_flush_at = ?1 WHERE id = 1")?.execute([now])?;
    Ok(())
}

/// Replaces every session row with `rows` (reindex). Runs in the caller's transaction.
pub fn replace_all(conn: &Connection, rows: &[Session]) -> AppResult<()> {
    conn.execute("DELETE FROM sessions", [])?;
    rows.iter().try_for_each(|s| upsert(conn, s))
}

pub fn ids(conn: &Connection) -> AppResult<Vec<String>> {
    let mut stmt = conn.prepare("SELECT id FROM sessions ORDER BY id")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
