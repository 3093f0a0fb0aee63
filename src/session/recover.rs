//! Rebuilding session rows from the shards: `reindex` (every row, from meta and counts) and
//! the catch-up scan after an unclean stop (summaries only, for shards written since the
//! last flush). Both read each shard on a short-lived connection of their own, so neither
//! fills the shard LRU nor writes any shard.

use std::collections::HashSet;
use std::path::Path;

use rusqlite::Connection;
use serde::Serialize;
use uuid::Uuid;

use super::model::Session;
use super::{service, store};
use crate::error::AppResult;
use crate::registry::sessions as registry;
use crate::storage::connection::{self, Mode, Pragmas};
use crate::storage::migrate::FileKind;
use crate::storage::pools::DbPool;
use crate::storage::{DbRoot, ShardKind};

const S: ShardKind = ShardKind::Session;

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct SessionReindexReport {
    pub sessions: usize,
    pub adopted: usize,
    pub removed: usize,
    pub failed: Vec<String>,
}

/// The full registry row of one shard: meta, state and a recount of its messages.
pub fn read_row(conn: &Connection, id: Uuid) -> AppResult<Session> {
    let meta = store::read_meta(conn)?;
    let state = store::read_state(conn)?;
    let (counts, last) = store::counts(conn)?;
    let mut row = service::row_of(&meta, &state.execution_status);
    row.id = id.to_string();
    row.message_count = counts.count;
    row.summary_seq = counts.max_seq;
    if let Some(l) = &last {
        if row.updated_at < *l {
            row.updated_at = l.clone();
        }
    }
    row.last_message_at = last;
    row.name = meta.name;
    Ok(row)
}

fn open(root: &DbRoot, pragmas: &Pragmas, id: Uuid, mode: Mode) -> AppResult<Connection> {
    connection::open(&root.shard(S, id), FileKind::Session, pragmas, mode)
}

/// Reads every session shard (blocking).
pub fn scan(root: &DbRoot, pragmas: &Pragmas) -> Vec<(Uuid, AppResult<Session>)> {
    root.shard_ids(S)
        .into_iter()
        .map(|id| (id, open(root, pragmas, id, Mode::Reader).and_then(|c| read_row(&c, id))))
        .collect()
}

/// Replaces every session row in one registry transaction (see
/// [`crate::registry::rebuild`]): a shard that cannot be read keeps the row it had; rows
/// whose shard is gone are removed.
pub fn apply(
    conn: &mut Connection,
    root: &DbRoot,
    scan: Vec<(Uuid, AppResult<Session>)>,
) -> AppResult<SessionReindexReport> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let before: HashSet<String> = registry::ids(&tx)?.into_iter().collect();
    let m = crate::registry::rebuild::merge(
        scan,
        &before,
        |id| registry::get(&tx, id),
        |s: &Session| s.id.as_str(),
        |id| root.shard(S, id).exists(),
    )?;
    registry::replace_all(&tx, &m.rows)?;
    tx.commit()?;
    let failed = m.failed.into_iter().map(|(id, _)| id.to_string()).collect();
    Ok(SessionReindexReport { sessions: m.rows.len(), adopted: m.adopted, removed: m.removed, failed })
}

/// Whether a shard may hold appends the registry never saw: its -wal holds frames (closed
/// shards keep their WAL until the idle sweep), or it was modified after the last flush (or
/// there never was one).
fn touched_since(db: &Path, last_flush_at: Option<&str>) -> bool {
    let wal = format!("{}-wal", db.display());
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        return true;
    }
    let Some(last) = last_flush_at else { return true };
    let mtime = std::fs::metadata(db).and_then(|m| m.modified()).ok();
    mtime.is_none_or(|t| crate::clock::format(time::OffsetDateTime::from(t)).as_str() >= last)
}

/// After an unclean stop: recounts the shards written since the last flush, read-only, and
/// sets their summaries where the shard is ahead. Returns how many rows changed (blocking).
pub fn catch_up(root: &DbRoot, pragmas: &Pragmas, pool: &DbPool, last_flush_at: Option<&str>) -> AppResult<usize> {
    let mut fixed = 0;
    for id in root.shard_ids(S) {
        if !touched_since(&root.shard(S, id), last_flush_at) {
            continue;
        }
        let counted = open(root, pragmas, id, Mode::ReadOnly).and_then(|c| store::counts(&c));
        let (counts, last) = match counted {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(session = %id, cause = %e.operator_message(), "catch-up: cannot read the shard");
                continue;
            }
        };
        let conn = pool.get()?;
        let row = registry::get(&conn, &id.to_string())?;
        // Only ever forward: a flush since this snapshot may already cover more.
        if row.is_some_and(|r| r.summary_seq < counts.max_seq) {
            registry::set_summary(&conn, &id.to_string(), counts.count, counts.max_seq, last.as_deref())?;
            fixed += 1;
        }
    }
    Ok(fixed)
}

/// `POST /api/v1/admin/reindex`'s session part: the scan on the blocking pool, then one
/// registry transaction. Pending summary deltas stay valid: they only ever move a row
/// forward from the seq it covers.
pub async fn reindex(st: &crate::storage::Storage, pragmas: &Pragmas) -> AppResult<SessionReindexReport> {
    let (root, p) = (st.root.clone(), pragmas.clone());
    let found = tokio::task::spawn_blocking(move || scan(&root, &p)).await.map_err(crate::error::AppError::internal)?;
    let root = st.root.clone();
    let report = crate::storage::pools::with_conn(&st.shared.registry, move |c| apply(c, &root, found)).await?;
    tracing::info!(
        sessions = report.sessions,
        adopted = report.adopted,
        removed = report.removed,
        "sessions reindexed"
    );
    Ok(report)
}

/// Indexes one shard's messages above its search watermark (`from_zero` first drops the
/// session's rows, for a rebuild). Blocking; a read-only connection is enough.
fn index_shard(search: &mut Connection, root: &DbRoot, pragmas: &Pragmas, id: Uuid) -> AppResult<usize> {
    let conn = open(root, pragmas, id, Mode::ReadOnly)?;
    let meta = store::read_meta(&conn)?;
    let sid = id.to_string();
    crate::search::feeder::catch_up_session(search, &conn, &sid, meta.user_id.as_deref(), meta.project_id.as_deref())
}

/// After an unclean stop: indexes what the search feed had not written yet, for the shards
/// written since the last flush. Returns the messages indexed (blocking).
pub fn catch_up_search(
    root: &DbRoot,
    pragmas: &Pragmas,
    search: &DbPool,
    last_flush_at: Option<&str>,
) -> AppResult<usize> {
    let mut conn = search.get()?;
    let mut n = 0;
    for id in root.shard_ids(S).into_iter().filter(|id| touched_since(&root.shard(S, *id), last_flush_at)) {
        match index_shard(&mut conn, root, pragmas, id) {
            Ok(k) => n += k,
            Err(e) => {
                tracing::warn!(session = %id, cause = %e.operator_message(), "search catch-up: cannot read the shard")
            }
        }
    }
    Ok(n)
}

/// Rebuilds `main/search.sqlite` from every session shard (reindex). Blocking.
pub fn rebuild_search(root: &DbRoot, pragmas: &Pragmas, search: &mut Connection) -> AppResult<usize> {
    search.execute_batch(
        "BEGIN IMMEDIATE; DELETE FROM message_fts; DELETE FROM message_fts_rows; DELETE FROM watermarks; COMMIT;",
    )?;
    let mut n = 0;
    for id in root.shard_ids(S) {
        match index_shard(search, root, pragmas, id) {
            Ok(k) => n += k,
            Err(e) => {
                tracing::warn!(session = %id, cause = %e.operator_message(), "search rebuild: cannot read the shard")
            }
        }
    }
    Ok(n)
}
