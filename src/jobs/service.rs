//! Jobs and job logs: create, read, status changes, logs, and where each job lives.
//!
//! A job bound to a project lives in the project's shard; an unbound one in
//! jobs/system_jobs.sqlite. Either way the job's file is written first and the registry's
//! `job_index` row second (DESIGN.md §2), so a crash in between leaves a job that reindex
//! indexes, never an index row without a job.

use rusqlite::{Connection, TransactionBehavior};
use uuid::Uuid;

use super::model::{self, Job, JobFilter, JobLog, JobPatch, NewJob, NewJobLog};
use super::{redact, store, JobEvents};
use crate::error::{AppError, AppResult};
use crate::paging;
use crate::project::service as projects;
use crate::registry::jobs as index;
use crate::storage::pools::with_conn;
use crate::storage::{parse_id, ShardKind, Storage};

/// The file that holds a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loc {
    Project(Uuid),
    System,
}

impl Loc {
    fn project_id(self) -> Option<String> {
        match self {
            Loc::Project(p) => Some(p.to_string()),
            Loc::System => None,
        }
    }
}

pub fn not_found() -> AppError {
    AppError::not_found("job_not_found", "job", "no job with this id")
        .with_suggestion("create a job with POST /api/v1/jobs or POST /api/v1/projects/{id}/jobs")
}

/// Runs `f` on a connection of the job's file, off the runtime threads.
pub async fn read_at<T, F>(st: &Storage, loc: Loc, f: F) -> AppResult<T>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> AppResult<T> + Send + 'static,
{
    match loc {
        Loc::Project(id) => st.shards.read(ShardKind::Project, id, f).await,
        Loc::System => with_conn(&st.shared.system_jobs, move |c| f(c)).await,
    }
}

/// Runs `f` in a `BEGIN IMMEDIATE` transaction on the job's file; answers after COMMIT.
/// `f` may run more than once (the shard writer retries a failed group one by one).
pub async fn write_at<T, F>(st: &Storage, loc: Loc, f: F) -> AppResult<T>
where
    T: Send + 'static,
    F: Fn(&Connection) -> AppResult<T> + Send + 'static,
{
    match loc {
        Loc::Project(id) => st.shards.write(ShardKind::Project, id, f).await,
        Loc::System => {
            with_conn(&st.shared.system_jobs, move |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let out = f(&tx)?;
                tx.commit()?;
                Ok(out)
            })
            .await
        }
    }
}

/// Finds the file of a job from its id in the path: not a UUID, not indexed, or its project
/// gone → 404 `job_not_found`.
pub async fn locate(st: &Storage, raw: &str) -> AppResult<(String, Loc)> {
    let id = parse_id(raw, "job", "job_not_found")?.to_string();
    let key = id.clone();
    let found = with_conn(&st.shared.registry, move |c| index::locate(c, &key)).await?;
    let loc = match found.ok_or_else(not_found)? {
        None => Loc::System,
        Some(p) => Loc::Project(Uuid::parse_str(&p).map_err(AppError::internal)?),
    };
    Ok((id, loc))
}

/// A job-addressed operation whose project shard has gone (deleted project) is a missing job.
fn job_gone(e: AppError) -> AppError {
    if e.code == "project_not_found" {
        not_found()
    } else {
        e
    }
}

/// Creates a job in `project`'s shard (which must exist) or, with `None`, unbound.
pub async fn create(st: &Storage, project: Option<Uuid>, input: NewJob) -> AppResult<Job> {
    model::check_new_job(&input)?;
    let loc = match project {
        Some(p) => {
            projects::get(st, p).await?;
            Loc::Project(p)
        }
        None => Loc::System,
    };
    let job = new_row(loc, input);
    let row = job.clone();
    write_at(st, loc, move |c| store::insert_job(c, &row)).await.map_err(|e| match project {
        Some(_) if e.code == "project_not_found" => projects::not_found(),
        _ => e,
    })?;
    let j = job.clone();
    with_conn(&st.shared.registry, move |c| {
        index::insert(c, &j.job_id, j.project_id.as_deref(), &j.job_type, &j.created_at)
    })
    .await?;
    Ok(job)
}

fn new_row(loc: Loc, input: NewJob) -> Job {
    Job {
        job_id: Uuid::now_v7().to_string(),
        project_id: loc.project_id(),
        job_type: input.job_type.trim().to_string(),
        mode: input.mode,
        target_task_id: input.target_task_id,
        status: "pending".into(),
        error: None,
        params: input.params,
        stats: serde_json::json!({}),
        result: None,
        metadata: input.metadata,
        created_at: crate::clock::now(),
        started_at: None,
        finished_at: None,
    }
}

pub async fn get(st: &Storage, raw: &str) -> AppResult<Job> {
    let (id, loc) = locate(st, raw).await?;
    let job = read_at(st, loc, move |c| store::get_job(c, &id)).await.map_err(job_gone)?;
    let mut job = job.ok_or_else(not_found)?;
    job.project_id = loc.project_id();
    Ok(job)
}

/// Applies a status change (guarded by [`model::check_transition`]) with its error, result
/// and stats, then wakes the job's streams.
pub async fn patch(st: &Storage, events: &JobEvents, raw: &str, patch: JobPatch) -> AppResult<Job> {
    model::check_patch(&patch)?;
    let (id, loc) = locate(st, raw).await?;
    let now = crate::clock::now();
    let key = id.clone();
    let mut job = write_at(st, loc, move |c| {
        let mut job = store::get_job(c, &key)?.ok_or_else(not_found)?;
        model::check_transition(&job.status, &patch.status)?;
        apply(&mut job, &patch, &now);
        store::update_job(c, &job)?;
        Ok(job)
    })
    .await
    .map_err(job_gone)?;
    events.notify(&id);
    job.project_id = loc.project_id();
    Ok(job)
}

fn apply(job: &mut Job, p: &JobPatch, now: &str) {
    if p.status == "running" && job.started_at.is_none() {
        job.started_at = Some(now.to_string());
    }
    if model::is_terminal(&p.status) {
        job.finished_at = Some(now.to_string());
    }
    job.status = p.status.clone();
    if let Some(e) = &p.error {
        job.error = Some(e.clone());
    }
    if let Some(r) = &p.result {
        job.result = Some(r.clone());
    }
    if let Some(s) = &p.stats {
        job.stats = s.clone();
    }
}

pub async fn cancel(st: &Storage, events: &JobEvents, raw: &str) -> AppResult<Job> {
    let p = JobPatch { status: "cancelled".into(), error: None, result: None, stats: None };
    patch(st, events, raw, p).await
}

/// Jobs of a project, newest first, with an opaque cursor and an optional status filter.
pub async fn list(st: &Storage, project: Uuid, f: JobFilter, max_page: usize) -> AppResult<(Vec<Job>, Option<String>)> {
    let limit = paging::check_limit(f.limit, max_page)?;
    if let Some(s) = &f.status {
        model::check_job_status(s)?;
    }
    let after = f.cursor.as_deref().map(paging::decode::<JobKey>).transpose()?;
    projects::get(st, project).await?;
    let mut rows = read_at(st, Loc::Project(project), move |c| {
        store::list_jobs(c, f.status.as_deref(), after.as_ref().map(|k| (k.c.as_str(), k.j.as_str())), limit + 1)
    })
    .await
    .map_err(|e| if e.code == "project_not_found" { projects::not_found() } else { e })?;
    rows.iter_mut().for_each(|j| j.project_id = Some(project.to_string()));
    Ok(paging::page(rows, limit, |j| paging::encode(&JobKey { c: j.created_at.clone(), j: j.job_id.clone() })))
}

/// Keyset position of the job list: `(created_at, job_id)` of the last job returned.
#[derive(serde::Serialize, serde::Deserialize)]
struct JobKey {
    c: String,
    j: String,
}

/// Appends a log line, redacted first. A finished job still takes logs (post-mortem notes);
/// its streams have ended, so only readers of `/logs` see them.
pub async fn append_log(st: &Storage, events: &JobEvents, raw: &str, input: NewJobLog) -> AppResult<JobLog> {
    model::check_new_log(&input)?;
    let message = redact::message(&input.message);
    let metadata = input.metadata.map(redact::redact);
    let (id, loc) = locate(st, raw).await?;
    let (key, ts) = (id.clone(), crate::clock::now());
    let log = write_at(st, loc, move |c| {
        store::get_job(c, &key)?.ok_or_else(not_found)?;
        store::insert_log(c, &key, &ts, &input.level, &message, metadata.as_ref())
    })
    .await
    .map_err(job_gone)?;
    events.notify(&id);
    Ok(log)
}

/// Logs with `id > after`, ascending; the next cursor is the last id when more follow.
pub async fn list_logs(
    st: &Storage,
    raw: &str,
    after: Option<i64>,
    limit: Option<i64>,
    max_page: usize,
) -> AppResult<(Vec<JobLog>, Option<i64>)> {
    let limit = paging::check_limit(limit, max_page)?;
    let (id, loc) = locate(st, raw).await?;
    let rows = read_at(st, loc, move |c| {
        store::get_job(c, &id)?.ok_or_else(not_found)?;
        store::list_logs(c, &id, after.unwrap_or(0), limit + 1)
    })
    .await
    .map_err(job_gone)?;
    let (rows, next) = paging::page(rows, limit, |l| l.id.to_string());
    Ok((rows, next.and_then(|n| n.parse().ok())))
}

/// One poll of a followed job: the job first, then its logs after `after`. In this order a
/// job seen as finished has every log written before it finished in the same answer.
pub async fn poll(st: &Storage, loc: Loc, job_id: String, after: i64, batch: usize) -> AppResult<(Job, Vec<JobLog>)> {
    read_at(st, loc, move |c| {
        let job = store::get_job(c, &job_id)?.ok_or_else(not_found)?;
        let logs = store::list_logs(c, &job_id, after, batch)?;
        Ok((job, logs))
    })
    .await
    .map_err(job_gone)
    .map(|(mut job, logs)| {
        job.project_id = loc.project_id();
        (job, logs)
    })
}
