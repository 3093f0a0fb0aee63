//! The bookkeeping shared by every reindex: merge what a scan of shards found with the rows
//! the registry had, inside the registry's write transaction.
//!
//! A server keeps writing while a reindex runs, so existence is re-checked here: a shard
//! deleted since the scan loses its row, one created since the scan (not scanned, but
//! present) keeps the row its create wrote, and one that could not be read keeps its old
//! row rather than vanishing from the index.

use std::collections::HashSet;

use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// The rows to write, what changed, and the shards that could not be read.
pub struct Merged<T> {
    pub rows: Vec<T>,
    pub adopted: usize,
    pub removed: usize,
    pub failed: Vec<(Uuid, AppError)>,
}

/// `before`: the ids the registry had; `old_row`: reads one of its rows; `id_of`: a row's
/// id; `exists`: whether the shard file is still there.
pub fn merge<T>(
    scan: Vec<(Uuid, AppResult<T>)>,
    before: &HashSet<String>,
    old_row: impl Fn(&str) -> AppResult<Option<T>>,
    id_of: impl Fn(&T) -> &str,
    exists: impl Fn(Uuid) -> bool,
) -> AppResult<Merged<T>> {
    let scanned: HashSet<String> = scan.iter().map(|(id, _)| id.to_string()).collect();
    let (mut rows, mut failed) = (Vec::new(), Vec::new());
    for (id, found) in scan {
        match found {
            Ok(row) => rows.push(row),
            Err(e) => {
                tracing::warn!(shard = %id, cause = %e.operator_message(), "reindex: cannot read the shard");
                rows.extend(old_row(&id.to_string())?);
                failed.push((id, e));
            }
        }
    }
    for id in before.iter().filter(|id| !scanned.contains(*id)) {
        rows.extend(old_row(id)?);
    }
    rows.retain(|r| Uuid::parse_str(id_of(r)).is_ok_and(&exists));
    let after: HashSet<&str> = rows.iter().map(&id_of).collect();
    let adopted = after.iter().filter(|id| !before.contains(**id)).count();
    let removed = before.iter().filter(|id| !after.contains(id.as_str())).count();
    Ok(Merged { rows, adopted, removed, failed })
}
