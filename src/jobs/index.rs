//! Keeping `job_index` true to the files: rebuilt by reindex from every project shard and
//! jobs/system_jobs.sqlite, and extended when a project file is imported.
//!
//! A job id is indexed once: when two files claim the same id (a project imported twice
//! without `keep_id`), the first indexed keeps it and the other copy's job is reachable only
//! through its project's job list.

use rusqlite::{params, Connection};

use crate::error::AppResult;
use crate::storage::connection::{self, Mode, Pragmas};
use crate::storage::migrate::FileKind;
use crate::storage::{DbRoot, ShardKind};

/// `(job_id, job_type, created_at)` of one job.
pub type JobRow = (String, String, String);

/// Every job of one file.
pub fn job_rows(conn: &Connection) -> AppResult<Vec<JobRow>> {
    let mut stmt = conn.prepare("SELECT job_id, job_type, created_at FROM jobs ORDER BY created_at, job_id")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Indexes `rows` of one file; ids already indexed elsewhere are left alone.
pub fn insert_absent(reg: &Connection, project_id: Option<&str>, rows: &[JobRow]) -> AppResult<usize> {
    let mut stmt = reg.prepare_cached(
        "INSERT INTO job_index(job_id, project_id, job_type, created_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(job_id) DO NOTHING",
    )?;
    let mut n = 0;
    for (job_id, job_type, created_at) in rows {
        n += stmt.execute(params![job_id, project_id, job_type, created_at])?;
    }
    Ok(n)
}

/// Reads every file's jobs (short-lived readers, nothing migrated or cached), then replaces
/// `job_index` in one registry transaction. Returns the number of indexed jobs. Blocking.
pub fn rebuild(root: &DbRoot, pragmas: &Pragmas, projects: &[uuid::Uuid], reg: &mut Connection) -> AppResult<usize> {
    let mut files: Vec<(Option<String>, Vec<JobRow>)> = Vec::new();
    if root.system_jobs().exists() {
        let c = connection::open(&root.system_jobs(), FileKind::Jobs, pragmas, Mode::Reader)?;
        files.push((None, job_rows(&c)?));
    }
    for id in projects {
        let path = root.shard(ShardKind::Project, *id);
        // An unreadable shard is reported by the project reindex; its jobs stay unindexed.
        let Ok(c) = connection::open(&path, FileKind::Project, pragmas, Mode::Reader) else { continue };
        files.push((Some(id.to_string()), job_rows(&c)?));
    }
    let tx = reg.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute("DELETE FROM job_index", [])?;
    let mut n = 0;
    for (project, rows) in &files {
        n += insert_absent(&tx, project.as_deref(), rows)?;
    }
    tx.commit()?;
    Ok(n)
}
