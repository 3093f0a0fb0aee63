//! Registry SQL.

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::AppResult;

/// Run state of the previous process, read at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunState {
    pub last_flush_at: Option<String>,
    pub clean_shutdown: bool,
}

/// Reads how the previous run ended, then marks this run as running (not clean), so a crash
/// from here on is detectable at the next start.
pub fn begin_run(conn: &mut Connection) -> AppResult<RunState> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let prev = tx
        .query_row("SELECT last_flush_at, clean_shutdown FROM flush_state WHERE id = 1", [], |r| {
            Ok(RunState { last_flush_at: r.get(0)?, clean_shutdown: r.get::<_, i64>(1)? != 0 })
        })
        .optional()?
        .unwrap_or(RunState { last_flush_at: None, clean_shutdown: true });
    tx.execute(
        "INSERT INTO flush_state(id, last_flush_at, clean_shutdown) VALUES (1, ?1, 0)
         ON CONFLICT(id) DO UPDATE SET clean_shutdown = 0",
        params![prev.last_flush_at],
    )?;
    tx.commit()?;
    Ok(prev)
}

/// Marks a clean stop: everything pending has been flushed.
pub fn end_run(conn: &Connection, now: &str) -> AppResult<()> {
    conn.execute("UPDATE flush_state SET clean_shutdown = 1, last_flush_at = ?1 WHERE id = 1", params![now])?;
    Ok(())
}

/// Marks a shard's registry row quarantined (its file was moved to quarantine/).
pub fn mark_quarantined(conn: &Connection, kind: &str, id: &str) -> AppResult<()> {
    let table = if kind == "project" { "projects" } else { "sessions" };
    conn.execute(&format!("UPDATE {table} SET health = 'quarantined' WHERE id = ?1"), [id])?;
    Ok(())
}
