//! Rebuilds the registry's project rows from the project shards alone (DESIGN.md §1, §2).
//!
//! Each shard's meta is read on its own short-lived reader connection (`query_only`, never
//! migrated), so a reindex neither fills the shard LRU nor writes any shard. The rows are
//! then replaced in one registry transaction: orphan shards are adopted, rows whose shard is
//! gone are removed. A shard that cannot be read is reported and keeps the row it had, so a
//! busy or damaged file never makes a project vanish from the index.

use std::collections::HashSet;
use std::path::Path;

use rusqlite::Connection;
use serde::Serialize;
use uuid::Uuid;

use super::model::Project;
use super::store;
use crate::error::AppResult;
use crate::registry::projects as registry;
use crate::storage::connection::{self, Mode, Pragmas};
use crate::storage::migrate::FileKind;
use crate::storage::pools::with_conn;
use crate::storage::{DbRoot, ShardKind, Storage};

const P: ShardKind = ShardKind::Project;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReindexReport {
    /// Project rows in the registry afterwards.
    pub projects: usize,
    /// Shards that had no row.
    pub adopted: usize,
    /// Rows whose shard no longer exists.
    pub removed: usize,
    pub failed: Vec<Failure>,
}

/// A shard that could not be read; the cause is logged, not reported (it may name paths).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Failure {
    pub id: String,
    pub code: String,
    pub message: String,
}

/// What one pass over projects/ found: a row per readable shard, a failure per other one.
pub type Scan = Vec<(Uuid, AppResult<Project>)>;

/// The registry row of one shard, from its meta. The id is the file's: that is the name the
/// shard manager opens, whatever a hand-copied file's meta says.
pub fn read_shard(root: &DbRoot, pragmas: &Pragmas, id: Uuid) -> AppResult<Project> {
    let path = root.shard(P, id);
    let conn = connection::open(&path, FileKind::Project, pragmas, Mode::Reader)?;
    let mut p = store::read_meta(&conn)?;
    drop(conn);
    p.id = id.to_string();
    p.file_bytes = file_bytes(&path);
    p.health = "ok".into();
    Ok(p)
}

fn file_bytes(path: &Path) -> i64 {
    std::fs::metadata(path).map(|m| m.len() as i64).unwrap_or(0)
}

/// Reads every shard; `tick` runs after each (the CLI's progress bar).
pub fn scan(root: &DbRoot, pragmas: &Pragmas, ids: &[Uuid], mut tick: impl FnMut()) -> Scan {
    ids.iter()
        .map(|&id| {
            let row = read_shard(root, pragmas, id);
            tick();
            (id, row)
        })
        .collect()
}

/// Replaces every project row in one transaction and reports what changed (see
/// [`crate::registry::rebuild`] for how a live server's changes are kept).
pub fn apply(conn: &mut Connection, root: &DbRoot, scan: Scan) -> AppResult<ReindexReport> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let before: HashSet<String> = registry::ids(&tx)?.into_iter().collect();
    let m = crate::registry::rebuild::merge(
        scan,
        &before,
        |id| registry::get(&tx, id),
        |p: &Project| p.id.as_str(),
        |id| root.shard(P, id).exists(),
    )?;
    registry::replace_all(&tx, &m.rows)?;
    tx.commit()?;
    let failed = m
        .failed
        .into_iter()
        .map(|(id, e)| Failure { id: id.to_string(), code: e.code.to_string(), message: e.message.clone() })
        .collect();
    Ok(ReindexReport { projects: m.rows.len(), adopted: m.adopted, removed: m.removed, failed })
}

/// `POST /api/v1/admin/reindex`: the scan runs on the blocking pool, then the registry
/// transaction on a pooled connection.
pub async fn reindex(st: &Storage, pragmas: &Pragmas) -> AppResult<ReindexReport> {
    let (root, scan_pragmas) = (st.root.clone(), pragmas.clone());
    let found = super::transfer::blocking(move || Ok(scan(&root, &scan_pragmas, &root.shard_ids(P), || {}))).await?;
    let (root, pragmas2) = (st.root.clone(), pragmas.clone());
    let report = with_conn(&st.shared.registry, move |c| {
        let report = apply(c, &root, found)?;
        crate::jobs::index::rebuild(&root, &pragmas2, &root.shard_ids(P), c)?;
        Ok(report)
    })
    .await?;
    tracing::info!(projects = report.projects, adopted = report.adopted, removed = report.removed, "reindexed");
    Ok(report)
}
