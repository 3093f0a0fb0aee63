//! All SQL of jobs, job logs and action logs. The tables are identical in a project shard and
//! in jobs/system_jobs.sqlite, so every function takes whichever connection holds the job.
//! Writers run inside the caller's `BEGIN IMMEDIATE` transaction.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::Value;

use super::model::{ActionLog, Job, JobLog, NewActionLog};
use crate::error::AppResult;

const JOB_COLS: &str = "job_id, job_type, mode, target_task_id, status, error, params, stats, result, metadata,
                        created_at, started_at, finished_at";
const LOG_COLS: &str = "id, job_id, ts, level, message, metadata";
const ACTION_COLS: &str = "id, job_id, job_type, sequence, session_id, user_message, action_kind, action_name,
                           status, success, message, details, created_at, updated_at";

/// A JSON column; text that does not parse (impossible under the CHECKs) reads as null.
fn json_col(r: &Row, i: usize) -> rusqlite::Result<Option<Value>> {
    Ok(r.get::<_, Option<String>>(i)?.map(|s| serde_json::from_str(&s).unwrap_or(Value::Null)))
}

fn job_of(r: &Row) -> rusqlite::Result<Job> {
    Ok(Job {
        job_id: r.get(0)?,
        project_id: None,
        job_type: r.get(1)?,
        mode: r.get(2)?,
        target_task_id: r.get(3)?,
        status: r.get(4)?,
        error: r.get(5)?,
        params: json_col(r, 6)?.unwrap_or_default(),
        stats: json_col(r, 7)?.unwrap_or_default(),
        result: json_col(r, 8)?,
        metadata: json_col(r, 9)?.unwrap_or_default(),
        created_at: r.get(10)?,
        started_at: r.get(11)?,
        finished_at: r.get(12)?,
    })
}

pub fn insert_job(conn: &Connection, j: &Job) -> AppResult<()> {
    let sql = format!("INSERT INTO jobs({JOB_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
    conn.prepare_cached(&sql)?.execute(params![
        j.job_id,
        j.job_type,
        j.mode,
        j.target_task_id,
        j.status,
        j.error,
        j.params.to_string(),
        j.stats.to_string(),
        j.result.as_ref().map(Value::to_string),
        j.metadata.to_string(),
        j.created_at,
        j.started_at,
        j.finished_at,
    ])?;
    Ok(())
}

pub fn get_job(conn: &Connection, job_id: &str) -> AppResult<Option<Job>> {
    let sql = format!("SELECT {JOB_COLS} FROM jobs WHERE job_id = ?1");
    Ok(conn.prepare_cached(&sql)?.query_row([job_id], job_of).optional()?)
}

/// Marks the unfinished (`pending`/`running`) jobs whose `metadata.runner` is `runner` as
/// failed: the server that ran them stopped before they ended. Returns how many.
pub fn fail_unfinished_of_runner(conn: &Connection, runner: &str, now: &str) -> AppResult<usize> {
    Ok(conn.execute(
        "UPDATE jobs SET status = 'failed', error = 'interrupted: the server stopped before the job finished',
                finished_at = ?2
         WHERE status IN ('pending', 'running') AND json_extract(metadata, '$.runner') = ?1",
        params![runner, now],
    )?)
}

/// Writes the mutable fields of a job: status, error, stats, result and the timestamps.
pub fn update_job(conn: &Connection, j: &Job) -> AppResult<()> {
    conn.prepare_cached(
        "UPDATE jobs SET status = ?2, error = ?3, stats = ?4, result = ?5, started_at = ?6, finished_at = ?7
         WHERE job_id = ?1",
    )?
    .execute(params![
        j.job_id,
        j.status,
        j.error,
        j.stats.to_string(),
        j.result.as_ref().map(Value::to_string),
        j.started_at,
        j.finished_at,
    ])?;
    Ok(())
}

/// Newest first by `(created_at, job_id)`, after the keyset position `after` when given.
pub fn list_jobs(
    conn: &Connection,
    status: Option<&str>,
    after: Option<(&str, &str)>,
    fetch: usize,
) -> AppResult<Vec<Job>> {
    let sql = format!(
        "SELECT {JOB_COLS} FROM jobs
         WHERE (?1 IS NULL OR status = ?1)
           AND (?2 IS NULL OR created_at < ?2 OR (created_at = ?2 AND job_id < ?3))
         ORDER BY created_at DESC, job_id DESC LIMIT ?4"
    );
    let (c, j) = after.unzip();
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![status, c, j, fetch as i64], job_of)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn log_of(r: &Row) -> rusqlite::Result<JobLog> {
    Ok(JobLog {
        id: r.get(0)?,
        job_id: r.get(1)?,
        ts: r.get(2)?,
        level: r.get(3)?,
        message: r.get(4)?,
        metadata: json_col(r, 5)?,
    })
}

/// Appends a (redacted) log line; the job must exist (foreign key).
pub fn insert_log(
    conn: &Connection,
    job_id: &str,
    ts: &str,
    level: &str,
    message: &str,
    metadata: Option<&Value>,
) -> AppResult<JobLog> {
    let sql = "INSERT INTO job_logs(job_id, ts, level, message, metadata) VALUES (?1, ?2, ?3, ?4, ?5)";
    conn.prepare_cached(sql)?.execute(params![job_id, ts, level, message, metadata.map(Value::to_string)])?;
    let id = conn.last_insert_rowid();
    let row = format!("SELECT {LOG_COLS} FROM job_logs WHERE id = ?1");
    Ok(conn.prepare_cached(&row)?.query_row([id], log_of)?)
}

/// Logs of a job with `id > after`, ascending.
pub fn list_logs(conn: &Connection, job_id: &str, after: i64, fetch: usize) -> AppResult<Vec<JobLog>> {
    let sql = format!("SELECT {LOG_COLS} FROM job_logs WHERE job_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![job_id, after, fetch as i64], log_of)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn action_of(r: &Row) -> rusqlite::Result<ActionLog> {
    Ok(ActionLog {
        id: r.get(0)?,
        job_id: r.get(1)?,
        job_type: r.get(2)?,
        sequence: r.get(3)?,
        session_id: r.get(4)?,
        user_message: r.get(5)?,
        action_kind: r.get(6)?,
        action_name: r.get(7)?,
        status: r.get(8)?,
        success: r.get::<_, i64>(9)? != 0,
        message: r.get(10)?,
        details: json_col(r, 11)?,
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
    })
}

/// Appends an action log (already redacted) with the next sequence of its job. The sequence
/// is read and used in the same write transaction, so concurrent appends cannot collide
/// (GAgent computed MAX+1 outside one); UNIQUE(job_id, sequence) backs this up.
pub fn insert_action_log(conn: &Connection, a: &NewActionLog, now: &str) -> AppResult<ActionLog> {
    let seq: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(sequence), 0) + 1 FROM action_logs WHERE job_id = ?1")?
        .query_row([&a.job_id], |r| r.get(0))?;
    conn.prepare_cached(
        "INSERT INTO action_logs(job_id, job_type, sequence, session_id, user_message, action_kind, action_name,
                                 status, success, message, details, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
    )?
    .execute(params![
        a.job_id,
        a.job_type,
        seq,
        a.session_id,
        a.user_message,
        a.action_kind,
        a.action_name,
        a.status,
        a.success as i64,
        a.message,
        a.details.as_ref().map(Value::to_string),
        now,
    ])?;
    let sql = format!("SELECT {ACTION_COLS} FROM action_logs WHERE id = ?1");
    Ok(conn.prepare_cached(&sql)?.query_row([conn.last_insert_rowid()], action_of)?)
}

/// Action logs with `id > after`, ascending, of one job or of all.
pub fn list_action_logs(
    conn: &Connection,
    job_id: Option<&str>,
    after: i64,
    fetch: usize,
) -> AppResult<Vec<ActionLog>> {
    // Two statements rather than `?1 IS NULL OR job_id = ?1`, so the filtered one is a range
    // of the (job_id, id) index.
    let filter = if job_id.is_some() { "job_id = ?1 AND" } else { "?1 IS NULL AND" };
    let sql = format!("SELECT {ACTION_COLS} FROM action_logs WHERE {filter} id > ?2 ORDER BY id LIMIT ?3");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![job_id, after, fetch as i64], action_of)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Retention for action logs: deletes every row created before `older_than` (an RFC 3339
/// timestamp) and, with `keep_per_job`, every row beyond the newest `keep_per_job` of its job.
/// Returns the number of rows deleted.
pub fn prune_action_logs(conn: &Connection, older_than: &str, keep_per_job: Option<usize>) -> AppResult<usize> {
    prune(conn, "action_logs", "created_at", older_than, keep_per_job)
}

/// Retention for job logs, with the rules of [`prune_action_logs`] (by `ts`).
pub fn prune_job_logs(conn: &Connection, older_than: &str, keep_per_job: Option<usize>) -> AppResult<usize> {
    prune(conn, "job_logs", "ts", older_than, keep_per_job)
}

/// `table` and `time_col` are constants of this module, never user text.
fn prune(conn: &Connection, table: &str, time_col: &str, older_than: &str, keep: Option<usize>) -> AppResult<usize> {
    let sql = format!(
        "DELETE FROM {table} WHERE {time_col} < ?1 OR (?2 IS NOT NULL AND id IN (
             SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY job_id ORDER BY id DESC) AS rn
                             FROM {table})
             WHERE rn > ?2))"
    );
    Ok(conn.execute(&sql, params![older_than, keep.map(|k| k as i64)])?)
}

#[cfg(test)]
mod tests;
