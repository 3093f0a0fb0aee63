//! Backups as jobs, for `POST /api/v1/admin/backups` and the schedule
//! (`maintenance.backup_interval`), and the retention of `maintenance.backup_keep`.
//!
//! Lifecycle of a backup job: created `pending` by the caller, `running` with
//! `stats: {done, total}` every 25 files, then `completed` with `result: {backup: NAME}` or
//! `failed` with the error. The files are written under `backups/.NAME.partial` and renamed
//! to `backups/NAME` only once the manifest is complete (see `storage::backup`).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::error::{AppError, AppResult};
use crate::jobs::model::{Job, JobPatch, NewJob, NewJobLog};
use crate::jobs::{service as jobs, JobEvents};
use crate::storage::backup::{self, Manifest};
use crate::storage::connection::Pragmas;
use crate::storage::Storage;

/// A partial directory older than this is a backup that died (a crash, a full disk): no
/// backup of a Planbase root takes a day, so removing it cannot race a running one.
const STALE_PARTIAL_SECS: u64 = 86_400;

/// Creates the `backup` job (status `pending`); run it with [`run_job`].
pub async fn create_job(st: &Storage, include_caches: bool, scheduled: bool) -> AppResult<Job> {
    let input = NewJob {
        job_type: "backup".into(),
        mode: None,
        target_task_id: None,
        params: json!({"include_caches": include_caches}),
        metadata: json!({"scheduled": scheduled, "runner": super::job::RUNNER}),
    };
    jobs::create(st, None, input).await
}

/// Runs the backup behind job `id` to its end, recording progress, the result or the
/// failure on the job; then applies the retention. Returns the backup directory.
pub async fn run_job(
    st: &Storage,
    events: &JobEvents,
    pragmas: &Pragmas,
    id: &str,
    include_caches: bool,
    keep: u32,
) -> AppResult<PathBuf> {
    match write(st, events, pragmas, id, include_caches).await {
        Ok(dir) => {
            let root = st.root.backups();
            let pruned = tokio::task::spawn_blocking(move || prune(&root, keep)).await.map_err(AppError::internal)?;
            if pruned > 0 {
                tracing::info!(pruned, keep, "old backups removed");
            }
            Ok(dir)
        }
        // Cancelled before it began: the job cannot become running, nothing was written.
        Err(e) if e.status == 409 => {
            tracing::info!(job = %id, "backup cancelled before it started");
            Err(e)
        }
        Err(e) => {
            tracing::error!(job = %id, cause = %e.operator_message(), "backup failed");
            let failed =
                JobPatch { status: "failed".into(), error: Some(e.message.clone()), result: None, stats: None };
            let _ = jobs::patch(st, events, id, failed).await;
            Err(e)
        }
    }
}

async fn write(st: &Storage, events: &JobEvents, pragmas: &Pragmas, id: &str, caches: bool) -> AppResult<PathBuf> {
    let patch = |status: &str, stats: Option<Value>, result: Option<Value>| JobPatch {
        status: status.into(),
        error: None,
        result,
        stats,
    };
    jobs::patch(st, events, id, patch("running", None, None)).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, usize)>();
    let (root, pragmas) = (st.root.clone(), pragmas.clone());
    let work = tokio::task::spawn_blocking(move || {
        backup::backup(&root, &pragmas, caches, |done, total| {
            let _ = tx.send((done, total));
        })
    });
    // Progress in the job's stats every 25 files (and at the end).
    while let Some((done, total)) = rx.recv().await {
        if done % 25 == 0 || done == total {
            jobs::patch(st, events, id, patch("running", Some(json!({"done": done, "total": total})), None)).await?;
        }
    }
    let dir = work.await.map_err(AppError::internal)??;
    let name = dir_name(&dir);
    let log = NewJobLog { level: "info".into(), message: format!("backup {name} written"), metadata: None };
    jobs::append_log(st, events, id, log).await?;
    jobs::patch(st, events, id, patch("completed", None, Some(json!({"backup": name})))).await?;
    Ok(dir)
}

fn dir_name(dir: &Path) -> String {
    dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The complete backups under `dir` (a readable manifest that says complete), newest first.
pub fn complete_backups(dir: &Path) -> Vec<(PathBuf, Manifest)> {
    complete::<Manifest>(dir, |m| (m.complete, m.created_at.clone()))
}

/// What the schedule, retention and metrics need of a manifest: not its file list, which
/// serde then skips without building (a root of 100k sessions lists 100k files).
#[derive(serde::Deserialize)]
pub struct ManifestHead {
    pub created_at: String,
    pub complete: bool,
}

/// The newest complete backup: its directory and `created_at`.
pub fn newest_complete(dir: &Path) -> Option<(PathBuf, String)> {
    let heads = complete::<ManifestHead>(dir, |m| (m.complete, m.created_at.clone()));
    heads.into_iter().next().map(|(p, m)| (p, m.created_at))
}

/// The backup directories under `dir` whose manifest parses as `M` and says complete,
/// newest first by `created_at`. Partial directories start with a dot.
fn complete<M: serde::de::DeserializeOwned>(dir: &Path, head: impl Fn(&M) -> (bool, String)) -> Vec<(PathBuf, M)> {
    let mut all: Vec<(String, PathBuf, M)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|e| {
            let m: M = serde_json::from_slice(&std::fs::read(e.path().join("manifest.json")).ok()?).ok()?;
            let (complete, created_at) = head(&m);
            complete.then(|| (created_at, e.path(), m))
        })
        .collect();
    all.sort_by(|a, b| b.0.cmp(&a.0));
    all.into_iter().map(|(_, p, m)| (p, m)).collect()
}

/// Keeps the `keep` newest complete backups (0 keeps all) and removes partial directories
/// left by backups that died. Returns how many directories were removed.
pub fn prune(dir: &Path, keep: u32) -> usize {
    let mut removed = 0;
    if keep > 0 {
        let heads = complete::<ManifestHead>(dir, |m| (m.complete, m.created_at.clone()));
        for (path, _) in heads.into_iter().skip(keep as usize) {
            removed += usize::from(std::fs::remove_dir_all(&path).is_ok());
        }
    }
    for e in std::fs::read_dir(dir).into_iter().flatten().filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        let age = e.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
        let stale = age.is_some_and(|a| a.as_secs() >= STALE_PARTIAL_SECS);
        if name.starts_with('.') && name.ends_with(".partial") && stale {
            removed += usize::from(std::fs::remove_dir_all(e.path()).is_ok());
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(dir: &Path, name: &str, created_at: &str, complete: bool) {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        let m = json!({"created_at": created_at, "planbase_version": "0", "complete": complete,
                       "include_caches": false, "files": []});
        std::fs::write(d.join("manifest.json"), m.to_string()).unwrap();
    }

    #[test]
    fn prune_keeps_the_newest_complete_backups_and_fresh_partials() {
        let t = tempfile::tempdir().unwrap();
        for (i, name) in ["a", "b", "c", "d"].iter().enumerate() {
            fake(t.path(), name, &format!("2026-01-0{}T00:00:00.000Z", i + 1), true);
        }
        fake(t.path(), "broken", "2026-02-01T00:00:00.000Z", false);
        std::fs::create_dir_all(t.path().join(".x.partial")).unwrap();
        assert_eq!(prune(t.path(), 2), 2);
        let mut left: Vec<String> = std::fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        // The incomplete one is not counted as a backup, and is not removed either (it is
        // evidence); the fresh partial may belong to a running backup.
        assert_eq!(left, [".x.partial", "broken", "c", "d"]);
        assert_eq!(prune(t.path(), 0), 0, "keep = 0 keeps everything");
        let (newest, at) = newest_complete(t.path()).unwrap();
        assert_eq!((newest.file_name().unwrap().to_str(), at.as_str()), (Some("d"), "2026-01-04T00:00:00.000Z"));
        assert_eq!(complete_backups(t.path()).len(), 2);
    }
}
