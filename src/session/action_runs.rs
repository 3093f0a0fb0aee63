//! Action runs (GAgent's `chat_action_runs`): structured work a client or an agent carries
//! out for a message, kept in the session shard so a turn touches one file. Status moves
//! pending → running → completed | failed (pending may also finish directly), each step
//! stamped.
//!
//! A chat turn writes one run per script action it performed (and one of type `chat` for a
//! free reply) in its own transaction, already finished: `turn_id`, `action_id` and
//! `action_type` say which; the stamps say when it started and ended.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::service::shard_err;
use crate::error::{AppError, AppResult};
use crate::paging;
use crate::script::runtime::runs::RunRecord;
use crate::storage::{ShardKind, Storage};

const S: ShardKind = ShardKind::Session;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ActionRun {
    pub id: String,
    pub user_message: Option<String>,
    pub mode: Option<String>,
    pub status: String,
    pub context: Option<Value>,
    pub history: Option<Value>,
    pub structured: Option<Value>,
    pub result: Option<Value>,
    pub errors: Option<Value>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The chat turn (`turns.id`) that ran it; None for runs created over the API.
    pub turn_id: Option<i64>,
    pub action_id: Option<String>,
    /// `ai_say`, `ai_ask`, `ai_think`, `use_skill`, or `chat` for a free reply.
    pub action_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NewRun {
    pub user_message: Option<String>,
    pub mode: Option<String>,
    pub context: Option<Value>,
    pub history: Option<Value>,
    pub structured: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RunUpdate {
    pub status: String,
    pub result: Option<Value>,
    pub errors: Option<Value>,
    pub structured: Option<Value>,
}

const COLS: &str = "id, user_message, mode, status, context, history, structured, result, errors, created_at, \
                    started_at, finished_at, turn_id, action_id, action_type";

fn run_of(r: &Row) -> rusqlite::Result<ActionRun> {
    let j = |i: usize| -> rusqlite::Result<Option<Value>> {
        Ok(r.get::<_, Option<String>>(i)?.and_then(|s| serde_json::from_str(&s).ok()))
    };
    Ok(ActionRun {
        id: r.get(0)?,
        user_message: r.get(1)?,
        mode: r.get(2)?,
        status: r.get(3)?,
        context: j(4)?,
        history: j(5)?,
        structured: j(6)?,
        result: j(7)?,
        errors: j(8)?,
        created_at: r.get(9)?,
        started_at: r.get(10)?,
        finished_at: r.get(11)?,
        turn_id: r.get(12)?,
        action_id: r.get(13)?,
        action_type: r.get(14)?,
    })
}

fn get_tx(c: &Connection, id: &str) -> AppResult<ActionRun> {
    c.prepare_cached(&format!("SELECT {COLS} FROM action_runs WHERE id = ?1"))?
        .query_row([id], run_of)
        .optional()?
        .ok_or_else(|| {
            AppError::not_found("action_run_not_found", "action_run", "no action run with this id in this session")
        })
}

/// Whether `from → to` is allowed.
pub fn legal(from: &str, to: &str) -> bool {
    matches!((from, to), ("pending", "running") | ("pending" | "running", "completed" | "failed"))
}

/// The runs of chat turn `turn_id`, inside the turn's transaction. `user_message` is cut to
/// 1,024 characters.
pub fn insert_for_turn(c: &Connection, turn_id: i64, user_message: &str, runs: &[RunRecord]) -> AppResult<()> {
    let user: String = user_message.chars().take(1024).collect();
    let mut stmt = c.prepare_cached(
        "INSERT INTO action_runs(id, user_message, mode, status, context, result, errors, created_at, started_at,
                                 finished_at, turn_id, action_id, action_type)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11, ?12)",
    )?;
    let j = |v: &Option<Value>| v.as_ref().map(Value::to_string);
    for r in runs {
        let mode = if r.action_type == "chat" { "chat" } else { "script" };
        stmt.execute(params![
            r.id,
            user,
            mode,
            r.status,
            r.context.to_string(),
            j(&r.result),
            j(&r.error),
            r.started_at,
            r.finished_at,
            turn_id,
            r.action_id,
            r.action_type
        ])?;
    }
    Ok(())
}

pub async fn create(st: &Storage, sid: Uuid, n: NewRun) -> AppResult<ActionRun> {
    let id = Uuid::now_v7().to_string();
    let j = |v: &Option<Value>| v.as_ref().map(Value::to_string);
    st.shards
        .write(S, sid, move |c| {
            c.execute(
                "INSERT INTO action_runs(id, user_message, mode, status, context, history, structured, created_at)
                 VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?7)",
                params![
                    id,
                    n.user_message,
                    n.mode,
                    j(&n.context),
                    j(&n.history),
                    j(&n.structured),
                    crate::clock::now()
                ],
            )?;
            get_tx(c, &id)
        })
        .await
        .map_err(shard_err)
}

pub async fn update(st: &Storage, sid: Uuid, run_id: String, u: RunUpdate) -> AppResult<ActionRun> {
    st.shards
        .write(S, sid, move |c| {
            let run = get_tx(c, &run_id)?;
            if !legal(&run.status, &u.status) {
                return Err(AppError::conflict(format!("an action run cannot go from {} to {}", run.status, u.status))
                    .with_details(serde_json::json!({"from": run.status, "to": u.status})));
            }
            let now = crate::clock::now();
            let finished = matches!(u.status.as_str(), "completed" | "failed").then(|| now.clone());
            let started = run.started_at.clone().or_else(|| Some(now.clone()));
            let j = |v: &Option<Value>| v.as_ref().map(Value::to_string);
            c.execute(
                "UPDATE action_runs SET status = ?2, result = coalesce(?3, result), errors = coalesce(?4, errors),
                   structured = coalesce(?5, structured), started_at = ?6, finished_at = ?7 WHERE id = ?1",
                params![run_id, u.status, j(&u.result), j(&u.errors), j(&u.structured), started, finished],
            )?;
            get_tx(c, &run_id)
        })
        .await
        .map_err(shard_err)
}

pub async fn get(st: &Storage, sid: Uuid, run_id: String) -> AppResult<ActionRun> {
    st.shards.read(S, sid, move |c| get_tx(c, &run_id)).await.map_err(shard_err)
}

/// Oldest first by id (UUIDv7), after `cursor`.
pub async fn list(
    st: &Storage,
    sid: Uuid,
    cursor: Option<String>,
    limit: Option<i64>,
    max: usize,
) -> AppResult<(Vec<ActionRun>, Option<String>)> {
    let limit = paging::check_limit(limit, max)?;
    let after = cursor.as_deref().map(paging::decode::<String>).transpose()?.unwrap_or_default();
    let rows = st
        .shards
        .read(S, sid, move |c| {
            let mut stmt =
                c.prepare_cached(&format!("SELECT {COLS} FROM action_runs WHERE id > ?1 ORDER BY id LIMIT ?2"))?;
            let rows = stmt.query_map(params![after, limit as i64 + 1], run_of)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
        .map_err(shard_err)?;
    Ok(paging::page(rows, limit, |r| paging::encode(&r.id)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn transitions() {
        use super::legal;
        assert!(legal("pending", "running") && legal("running", "completed") && legal("pending", "failed"));
        assert!(!legal("completed", "running") && !legal("running", "pending") && !legal("failed", "completed"));
    }
}
