//! Job, job log and action log types as the API sees them, the job state machine, and input
//! checks (pure).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{AppError, AppResult};

pub const STATUSES: [&str; 5] = ["pending", "running", "completed", "failed", "cancelled"];
pub const LEVELS: [&str; 4] = ["debug", "info", "warning", "error"];
/// Largest job log message accepted; longer ones are refused, not cut (a client bug).
pub const MAX_LOG_MESSAGE_BYTES: usize = 8 * 1024;

/// A job row plus the project whose shard holds it (`None`: jobs/system_jobs.sqlite).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Job {
    pub job_id: String,
    pub project_id: Option<String>,
    pub job_type: String,
    pub mode: Option<String>,
    pub target_task_id: Option<i64>,
    pub status: String,
    pub error: Option<String>,
    pub params: Value,
    pub stats: Value,
    pub result: Option<Value>,
    pub metadata: Value,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

impl Job {
    pub fn is_terminal(&self) -> bool {
        is_terminal(&self.status)
    }
}

pub fn is_terminal(status: &str) -> bool {
    matches!(status, "completed" | "failed" | "cancelled")
}

/// `POST /projects/{id}/jobs` and `POST /jobs`.
#[derive(Debug, Clone, Deserialize)]
pub struct NewJob {
    pub job_type: String,
    pub mode: Option<String>,
    pub target_task_id: Option<i64>,
    #[serde(default = "empty_object")]
    pub params: Value,
    #[serde(default = "empty_object")]
    pub metadata: Value,
}

/// `PATCH /jobs/{job_id}`: a status change, with what the job reports alongside it.
#[derive(Debug, Clone, Deserialize)]
pub struct JobPatch {
    pub status: String,
    pub error: Option<String>,
    pub result: Option<Value>,
    pub stats: Option<Value>,
}

/// `GET /projects/{id}/jobs` query.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct JobFilter {
    pub status: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobLog {
    pub id: i64,
    pub job_id: String,
    pub ts: String,
    pub level: String,
    pub message: String,
    pub metadata: Option<Value>,
}

/// `POST /jobs/{job_id}/logs`.
#[derive(Debug, Clone, Deserialize)]
pub struct NewJobLog {
    #[serde(default = "info")]
    pub level: String,
    pub message: String,
    pub metadata: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ActionLog {
    pub id: i64,
    pub job_id: String,
    pub job_type: Option<String>,
    pub sequence: i64,
    pub session_id: Option<String>,
    pub user_message: Option<String>,
    pub action_kind: String,
    pub action_name: String,
    pub status: String,
    pub success: bool,
    pub message: Option<String>,
    pub details: Option<Value>,
    pub created_at: String,
    pub updated_at: String,
}

/// `POST /projects/{id}/action-logs`.
#[derive(Debug, Clone, Deserialize)]
pub struct NewActionLog {
    pub job_id: String,
    pub job_type: Option<String>,
    pub session_id: Option<String>,
    pub user_message: Option<String>,
    pub action_kind: String,
    pub action_name: String,
    pub status: String,
    pub success: bool,
    pub message: Option<String>,
    pub details: Option<Value>,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

fn info() -> String {
    "info".into()
}

/// The guarded state machine: pending → running → completed|failed|cancelled, and
/// pending → cancelled. `running → running` is allowed too: it is how a job reports progress
/// (`stats`) without ending. Anything else is 409 `conflict` naming both states.
pub fn check_transition(from: &str, to: &str) -> AppResult<()> {
    let ok = matches!(
        (from, to),
        ("pending", "running" | "cancelled") | ("running", "running" | "completed" | "failed" | "cancelled")
    );
    if ok {
        return Ok(());
    }
    Err(AppError::conflict(format!("a {from} job cannot become {to}"))
        .with_details(json!({"from": from, "to": to}))
        .with_suggestion("jobs go pending → running → completed, failed or cancelled; pending → cancelled"))
}

pub fn check_text(field: &str, value: &str, min: usize, max: usize) -> AppResult<()> {
    let n = value.chars().count();
    if n < min || (min > 0 && value.trim().is_empty()) {
        return Err(AppError::validation(field, format!("{field} must not be empty")));
    }
    if n > max {
        return Err(AppError::validation(field, format!("{field} is longer than {max} characters")));
    }
    Ok(())
}

fn check_opt_text(field: &str, value: Option<&str>, max: usize) -> AppResult<()> {
    value.map_or(Ok(()), |v| check_text(field, v, 0, max))
}

pub fn check_object(field: &str, v: &Value) -> AppResult<()> {
    if !v.is_object() {
        return Err(AppError::validation(field, format!("{field} must be a JSON object")));
    }
    Ok(())
}

fn check_status(field: &str, s: &str, allowed: &[&str]) -> AppResult<()> {
    if allowed.contains(&s) {
        return Ok(());
    }
    Err(AppError::validation(field, format!("unknown {field} {s:?}; one of {allowed:?}")))
}

pub fn check_job_status(s: &str) -> AppResult<()> {
    check_status("status", s, &STATUSES)
}

pub fn check_new_job(j: &NewJob) -> AppResult<()> {
    check_text("job_type", &j.job_type, 1, 100)?;
    check_opt_text("mode", j.mode.as_deref(), 100)?;
    if j.target_task_id.is_some_and(|t| t < 1) {
        return Err(AppError::validation("target_task_id", "target_task_id must be a task id (≥ 1)"));
    }
    check_object("params", &j.params)?;
    check_object("metadata", &j.metadata)
}

pub fn check_patch(p: &JobPatch) -> AppResult<()> {
    check_job_status(&p.status)?;
    check_opt_text("error", p.error.as_deref(), 8 * 1024)?;
    p.stats.as_ref().map_or(Ok(()), |s| check_object("stats", s))
}

pub fn check_new_log(l: &NewJobLog) -> AppResult<()> {
    check_status("level", &l.level, &LEVELS)?;
    if l.message.len() > MAX_LOG_MESSAGE_BYTES {
        return Err(AppError::validation("message", "message is larger than 8 KiB"));
    }
    l.metadata.as_ref().map_or(Ok(()), |m| check_object("metadata", m))
}

pub fn check_new_action_log(a: &NewActionLog) -> AppResult<()> {
    check_text("job_id", &a.job_id, 1, 200)?;
    check_opt_text("job_type", a.job_type.as_deref(), 100)?;
    check_opt_text("session_id", a.session_id.as_deref(), 200)?;
    check_text("action_kind", &a.action_kind, 1, 100)?;
    check_text("action_name", &a.action_name, 1, 200)?;
    check_text("status", &a.status, 1, 50)?;
    a.details.as_ref().map_or(Ok(()), |d| check_object("details", d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_documented_transitions_pass() {
        let legal = [
            ("pending", "running"),
            ("pending", "cancelled"),
            ("running", "running"),
            ("running", "completed"),
            ("running", "failed"),
            ("running", "cancelled"),
        ];
        for from in STATUSES {
            for to in STATUSES {
                let r = check_transition(from, to);
                assert_eq!(r.is_ok(), legal.contains(&(from, to)), "{from} → {to}");
                if let Err(e) = r {
                    assert_eq!((e.status, e.code), (409, "conflict"));
                    assert!(e.message.contains(from) && e.message.contains(to), "{}", e.message);
                }
            }
        }
    }

    #[test]
    fn inputs_are_checked() {
        let job = |t: &str| NewJob {
            job_type: t.into(),
            mode: None,
            target_task_id: None,
            params: json!({}),
            metadata: json!({}),
        };
        assert!(check_new_job(&job("decompose")).is_ok());
        for bad in ["", "  ", &"x".repeat(101)] {
            assert_eq!(check_new_job(&job(bad)).unwrap_err().details["field"], "job_type");
        }
        let mut j = job("x");
        j.params = json!([1]);
        assert_eq!(check_new_job(&j).unwrap_err().details["field"], "params");
        let log = |level: &str, len: usize| NewJobLog { level: level.into(), message: "m".repeat(len), metadata: None };
        assert!(check_new_log(&log("warning", 8192)).is_ok());
        assert_eq!(check_new_log(&log("fatal", 1)).unwrap_err().details["field"], "level");
        assert_eq!(check_new_log(&log("info", 8193)).unwrap_err().details["field"], "message");
    }
}
