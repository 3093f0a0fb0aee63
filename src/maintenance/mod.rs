//! The maintenance run (`POST /api/v1/admin/maintenance`, as a job: [`job`]): archive idle sessions, enforce
//! log and cache retention, purge old trash and checkpoint the shared files. Each step is
//! independent and reported; a step that fails is reported and the others still run.
//! [`backups`] runs backups as jobs, [`schedule`] runs both on their intervals.

pub mod backups;
pub mod compact;
pub mod job;
pub mod schedule;

use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::config::MaintenanceConfig;
use crate::error::AppResult;
use crate::session::summary::Summaries;
use crate::storage::connection::Pragmas;
use crate::storage::pools::with_conn;
use crate::storage::{ShardKind, Storage};

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub archived_sessions: usize,
    pub pruned_job_logs: usize,
    pub pruned_action_logs: usize,
    pub expired_llm_cache: usize,
    pub purged_trash: usize,
    pub checkpointed_files: usize,
    /// Idle shards whose WAL was checkpointed (TRUNCATE) / rewritten by VACUUM.
    pub checkpointed_shards: usize,
    pub vacuumed_shards: usize,
    pub reclaimed_bytes: u64,
    pub errors: Vec<Value>,
}

fn cutoff(days: u32) -> String {
    crate::clock::format(time::OffsetDateTime::now_utc() - time::Duration::days(days as i64))
}

pub async fn run(st: &Storage, sums: &Summaries, cfg: &MaintenanceConfig, pragmas: &Pragmas) -> Report {
    let mut r = Report::default();
    let note = r_err;
    let mut errors = Vec::new();
    // First: the later steps open shards (log pruning writes every project), which would
    // make them look busy.
    match compact::idle_shards(st, pragmas, cfg.vacuum_idle_shards).await {
        Ok(c) => {
            (r.checkpointed_shards, r.vacuumed_shards, r.reclaimed_bytes) =
                (c.checkpointed, c.vacuumed, c.reclaimed_bytes);
            errors.extend(
                c.failed.into_iter().map(|f| json!({"step": "shards", "code": "compaction_failed", "message": f})),
            );
        }
        Err(e) => errors.push(note("shards", e)),
    }
    match archive_idle(st, sums, &cutoff(cfg.archive_after_days)).await {
        Ok(n) => r.archived_sessions = n,
        Err(e) => errors.push(note("archive", e)),
    }
    match prune_logs(st, &cutoff(cfg.log_retention_days)).await {
        Ok((j, a)) => (r.pruned_job_logs, r.pruned_action_logs) = (j, a),
        Err(e) => errors.push(note("logs", e)),
    }
    match expire_cache(st).await {
        Ok(n) => r.expired_llm_cache = n,
        Err(e) => errors.push(note("llm_cache", e)),
    }
    match purge_trash(st, cfg.trash_retention_days).await {
        Ok(n) => r.purged_trash = n,
        Err(e) => errors.push(note("trash", e)),
    }
    r.checkpointed_files = checkpoint(st).await;
    r.errors = errors;
    r
}

fn r_err(step: &str, e: crate::error::AppError) -> Value {
    tracing::warn!(step, cause = %e.operator_message(), "maintenance step failed");
    json!({"step": step, "code": e.code, "message": e.message})
}

/// Sessions still `active` whose last change is older than the cutoff become `archived`
/// (their files stay).
async fn archive_idle(st: &Storage, sums: &Summaries, before: &str) -> AppResult<usize> {
    let b = before.to_string();
    let ids: Vec<String> = with_conn(&st.shared.registry, move |c| {
        let mut stmt = c.prepare("SELECT id FROM sessions WHERE status = 'active' AND updated_at < ?1 LIMIT 10000")?;
        let rows = stmt.query_map([&b], |r| r.get(0))?;
        Ok(rows.collect::<Result<Vec<String>, _>>()?)
    })
    .await?;
    let mut n = 0;
    for id in ids.iter().filter_map(|i| Uuid::parse_str(i).ok()) {
        if crate::session::service::archive(st, sums, id).await.is_ok() {
            n += 1;
        }
    }
    Ok(n)
}

/// Job and action logs older than the cutoff, in every project shard and system_jobs.
async fn prune_logs(st: &Storage, before: &str) -> AppResult<(usize, usize)> {
    let (mut jobs, mut actions) = (0, 0);
    for id in st.root.shard_ids(ShardKind::Project) {
        let b = before.to_string();
        let (j, a) = st
            .shards
            .write(ShardKind::Project, id, move |c| {
                Ok((
                    crate::jobs::store::prune_job_logs(c, &b, None)?,
                    crate::jobs::store::prune_action_logs(c, &b, None)?,
                ))
            })
            .await?;
        (jobs, actions) = (jobs + j, actions + a);
    }
    let b = before.to_string();
    let (j, a) = with_conn(&st.shared.system_jobs, move |c| {
        Ok((crate::jobs::store::prune_job_logs(c, &b, None)?, crate::jobs::store::prune_action_logs(c, &b, None)?))
    })
    .await?;
    Ok((jobs + j, actions + a))
}

async fn expire_cache(st: &Storage) -> AppResult<usize> {
    let now = crate::clock::now();
    with_conn(&st.shared.llm_cache, move |c| {
        Ok(c.execute("DELETE FROM llm_cache WHERE expires_at IS NOT NULL AND expires_at <= ?1", [now])?)
    })
    .await
}

/// Trash entries older than the retention (by their directory's modification time).
async fn purge_trash(st: &Storage, days: u32) -> AppResult<usize> {
    let trash = st.root.trash();
    let max_age = std::time::Duration::from_secs(days as u64 * 86_400);
    tokio::task::spawn_blocking(move || {
        let mut n = 0;
        for kind in ["project", "session"] {
            let Ok(dir) = std::fs::read_dir(trash.join(kind)) else { continue };
            for e in dir.filter_map(|e| e.ok()) {
                let age = e.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
                if age.is_some_and(|a| a >= max_age) && std::fs::remove_dir_all(e.path()).is_ok() {
                    n += 1;
                }
            }
        }
        Ok(n)
    })
    .await
    .map_err(crate::error::AppError::internal)?
}

/// `wal_checkpoint(TRUNCATE)` on the shared files (shards checkpoint when they close).
async fn checkpoint(st: &Storage) -> usize {
    let s = &st.shared;
    let mut n = 0;
    for pool in [&s.registry, &s.search, &s.auth, &s.system_jobs, &s.llm_cache, &s.embedding_cache] {
        let ok = with_conn(pool, |c| Ok(c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?)).await;
        n += usize::from(ok.is_ok());
    }
    n
}
