//! Maintenance as a job. `POST /api/v1/admin/maintenance` and the schedule both start a
//! `maintenance` system job that runs the steps of [`super::run`] behind it and records the
//! report as the job's `result`. Over a large root the steps take longer than a request may
//! (100,000 shards: the idle-shard step alone runs for minutes), which is why the endpoint
//! answers 202 with the job at once instead of the report.
//!
//! Lifecycle: at most one run at a time per server ([`Runs`]). The claim is taken before the
//! job row is written and released when the run ends, a panic included (the claim's `Drop`).
//! The job goes `pending` → `running` → `completed` (a failed step is reported inside the
//! result, as before; the others still run). A run cut short by a stop or a crash leaves its
//! job `running`; the next start marks it failed ([`fail_interrupted`]), so no client polls
//! a job forever.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::json;

use crate::api::SharedState;
use crate::error::{AppError, AppResult};
use crate::jobs::model::{Job, JobPatch, NewJob};
use crate::jobs::service as jobs;
use crate::storage::connection::Pragmas;
use crate::storage::pools::with_conn;
use crate::storage::Storage;

/// `metadata.runner` of the jobs the server itself runs (maintenance, backups): only those
/// are failed at start-up when they were left unfinished. Jobs that clients drive through
/// `PATCH /jobs/{id}` are theirs to finish.
pub const RUNNER: &str = "planbase";

/// The maintenance run under way, if any. Cloned into the server state and the schedule.
#[derive(Clone, Default)]
pub struct Runs(Arc<Inner>);

#[derive(Default)]
struct Inner {
    busy: AtomicBool,
    job: parking_lot::Mutex<Option<String>>,
}

/// The right to run maintenance; released on drop.
pub struct Claim(Arc<Inner>);

impl Runs {
    /// Claims the run; `Err` (with the running job's id, once it has one) while one runs.
    pub fn claim(&self) -> Result<Claim, Option<String>> {
        match self.0.busy.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => Ok(Claim(self.0.clone())),
            Err(_) => Err(self.0.job.lock().clone()),
        }
    }
}

impl Claim {
    fn set_job(&self, id: &str) {
        *self.0.job.lock() = Some(id.to_string());
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        *self.0.job.lock() = None;
        self.0.busy.store(false, Ordering::Release);
    }
}

/// 409 `maintenance_running`, naming the job to follow instead.
fn already_running(job: Option<String>) -> AppError {
    let msg = match &job {
        Some(id) => format!("a maintenance run is under way (job {id}); follow it at /api/v1/jobs/{id}"),
        None => "a maintenance run is starting; retry shortly".to_string(),
    };
    AppError::new(409, "maintenance_running", "request", msg).retryable().with_details(json!({ "job_id": job }))
}

/// Creates the job (`pending`) and runs it in the background. The handle ends with the run.
pub async fn start(state: &SharedState, scheduled: bool) -> AppResult<(Job, tokio::task::JoinHandle<()>)> {
    let claim = state.maintenance.claim().map_err(already_running)?;
    let input = NewJob {
        job_type: "maintenance".into(),
        mode: None,
        target_task_id: None,
        params: json!({}),
        metadata: json!({"scheduled": scheduled, "runner": RUNNER}),
    };
    let job = jobs::create(&state.storage, None, input).await?;
    claim.set_job(&job.job_id);
    let (st, id) = (state.clone(), job.job_id.clone());
    let run = tokio::spawn(async move {
        let _claim = claim;
        run_job(&st, &id).await;
    });
    Ok((job, run))
}

async fn run_job(state: &SharedState, id: &str) {
    let (st, events) = (&state.storage, &state.jobs);
    let patch = |status: &str, result| JobPatch { status: status.into(), error: None, result, stats: None };
    // Cancelled while pending: the transition is refused and nothing runs.
    if let Err(e) = jobs::patch(st, events, id, patch("running", None)).await {
        return tracing::info!(job = %id, cause = %e.operator_message(), "maintenance not started");
    }
    let pragmas = Pragmas::from_config(&state.config.storage);
    let report = super::run(st, &state.summaries, &state.config.maintenance, &pragmas).await;
    tracing::info!(job = %id, report = %serde_json::to_string(&report).unwrap_or_default(), "maintenance done");
    let result = serde_json::to_value(&report).ok();
    if let Err(e) = jobs::patch(st, events, id, patch("completed", result)).await {
        tracing::warn!(job = %id, cause = %e.operator_message(), "maintenance result not recorded");
    }
}

/// At start-up, before anything runs: the server's own jobs still `pending` or `running`
/// were cut short by the previous stop; they become `failed`. Returns how many.
pub async fn fail_interrupted(st: &Storage) -> AppResult<usize> {
    let now = crate::clock::now();
    with_conn(&st.shared.system_jobs, move |c| {
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let n = crate::jobs::store::fail_unfinished_of_runner(&tx, RUNNER, &now)?;
        tx.commit()?;
        Ok(n)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_claim_at_a_time_released_on_drop() {
        let runs = Runs::default();
        let first = runs.claim().expect("free");
        assert_eq!(runs.claim().err(), Some(None), "claimed, no job yet");
        first.set_job("j1");
        assert_eq!(runs.clone().claim().err(), Some(Some("j1".to_string())), "clones share the claim");
        drop(first);
        let again = runs.claim().expect("free after the drop");
        assert_eq!(again.0.job.lock().as_deref(), None, "a new claim starts without a job");
    }

    #[test]
    fn a_panicking_run_releases_its_claim() {
        let runs = Runs::default();
        let claim = runs.claim().ok().unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _held = claim;
            panic!("a step panicked");
        }));
        assert!(r.is_err());
        assert!(runs.claim().is_ok());
    }
}
