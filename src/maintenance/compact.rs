//! The shard step of maintenance: `wal_checkpoint(TRUNCATE)` on idle shards and, with
//! `maintenance.vacuum_idle_shards`, VACUUM of those with much free space.
//!
//! Idle means not open in the shard manager right now. A shard the manager opens while this
//! step holds it simply waits on SQLite's lock (`busy_timeout`), so the step is safe without
//! any lock of ours; it only skips open shards to stay off the hot ones.

use std::path::PathBuf;

use crate::error::{AppError, AppResult};
use crate::storage::connection::{self, Mode, Pragmas};
use crate::storage::{ShardKind, Storage};

/// VACUUM only shards with at least this share of free pages and this many pages in all:
/// below that the rewrite costs more than the space it gives back.
const MIN_FREE_RATIO: f64 = 0.25;
const MIN_PAGES: i64 = 64;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Compacted {
    pub checkpointed: usize,
    pub vacuumed: usize,
    pub reclaimed_bytes: u64,
    /// `file: reason` of the shards that could not be compacted (they are left as they were).
    pub failed: Vec<String>,
}

pub async fn idle_shards(st: &Storage, pragmas: &Pragmas, vacuum: bool) -> AppResult<Compacted> {
    let mut idle: Vec<(ShardKind, PathBuf)> = Vec::new();
    for kind in ShardKind::all() {
        let closed = st.root.shard_ids(kind).into_iter().filter(|id| !st.shards.is_open(kind, *id));
        idle.extend(closed.map(|id| (kind, st.root.shard(kind, id))));
    }
    let pragmas = pragmas.clone();
    tokio::task::spawn_blocking(move || {
        let mut total = Compacted::default();
        for (kind, path) in idle {
            match compact_one(kind, &path, &pragmas, vacuum) {
                Ok(c) => {
                    total.checkpointed += c.checkpointed;
                    total.vacuumed += c.vacuumed;
                    total.reclaimed_bytes += c.reclaimed_bytes;
                }
                Err(e) => {
                    tracing::warn!(file = %path.display(), cause = %e.operator_message(), "compaction skipped");
                    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    total.failed.push(format!("{name}: {}", e.message));
                }
            }
        }
        total
    })
    .await
    .map_err(AppError::internal)
}

fn compact_one(kind: ShardKind, path: &std::path::Path, pragmas: &Pragmas, vacuum: bool) -> AppResult<Compacted> {
    let mut out = Compacted::default();
    // Checked before the open, which would create the -wal itself; a TRUNCATE checkpoint
    // leaves it empty, so only a WAL with frames has work for us.
    let wal_frames = std::fs::metadata(path.with_extension("sqlite-wal")).is_ok_and(|m| m.len() > 0);
    if !wal_frames && !vacuum {
        return Ok(out);
    }
    let conn = connection::open(path, crate::storage::handle::file_kind(kind), pragmas, Mode::Existing)?;
    if wal_frames {
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
        out.checkpointed = 1;
    }
    if vacuum {
        let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        if pages >= MIN_PAGES && free as f64 >= pages as f64 * MIN_FREE_RATIO {
            let before = std::fs::metadata(path)?.len();
            conn.execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")?;
            out.vacuumed = 1;
            out.reclaimed_bytes = before.saturating_sub(std::fs::metadata(path)?.len());
        }
    }
    Ok(out)
}
