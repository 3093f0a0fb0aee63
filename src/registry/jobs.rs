//! Registry SQL for `job_index`: which file holds a job (a project's shard, or
//! jobs/system_jobs.sqlite when `project_id` is NULL). Written after the job's own file.

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::AppResult;

/// Indexes a job. Idempotent, so reindex and a retried create can run it again.
pub fn insert(
    conn: &Connection,
    job_id: &str,
    project_id: Option<&str>,
    job_type: &str,
    created_at: &str,
) -> AppResult<()> {
    conn.prepare_cached(
        "INSERT INTO job_index(job_id, project_id, job_type, created_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(job_id) DO UPDATE SET project_id = excluded.project_id, job_type = excluded.job_type,
           created_at = excluded.created_at",
    )?
    .execute(params![job_id, project_id, job_type, created_at])?;
    Ok(())
}

/// `None`: not indexed. `Some(None)`: an unbound job. `Some(Some(p))`: in project `p`'s shard.
pub fn locate(conn: &Connection, job_id: &str) -> AppResult<Option<Option<String>>> {
    Ok(conn
        .prepare_cached("SELECT project_id FROM job_index WHERE job_id = ?1")?
        .query_row([job_id], |r| r.get(0))
        .optional()?)
}

/// Drops the index rows of a project's jobs (when the project goes away).
pub fn delete_project(conn: &Connection, project_id: &str) -> AppResult<usize> {
    Ok(conn.execute("DELETE FROM job_index WHERE project_id = ?1", [project_id])?)
}
