//! A turn's one transaction on the session shard: the user message, exactly one assistant
//! message, the variable history, the state, the `turns` row and the action runs — or, for a
//! failed turn, the user message, a failed `turns` row and the runs with their error.
//! The session's opening is a turn without a user message (`turns.user_message_id` NULL).
//!
//! Both run on the shard's writer and may run more than once (a failed group commit is
//! retried): they only touch the connection.

use rusqlite::{params, Connection};
use serde_json::Value;

use super::super::messages::plain_text;
use super::super::model::Message;
use super::super::{action_runs, store};
use super::think::Thought;
use crate::error::{AppError, AppResult};
use crate::script::runtime::engine::Output;
use crate::script::runtime::runs::RunRecord;

/// What a turn stores besides what the model produced.
pub(super) struct Plan {
    /// `state.updated_at` when the turn read the state: the write checks it is still current.
    pub expect: String,
    /// None: the session's opening, which answers no user message.
    pub user: Option<Message>,
    /// Insert the user message (false: it is stored already — a regeneration or a retry).
    pub user_is_new: bool,
    /// The assistant message this turn replaces (regeneration).
    pub replace: Option<String>,
    /// Chosen up front: the stream's `start` names it before the turn is stored.
    pub assistant_id: String,
    pub before: Value,
    pub started_at: String,
}

pub(super) fn new_message(id: String, role: &str, parts: Vec<Value>, metadata: Option<Value>, now: &str) -> Message {
    let content = plain_text(&parts);
    Message {
        id,
        seq: 0,
        role: role.into(),
        parts,
        metadata,
        attachments: None,
        content,
        created_at: now.into(),
        updated_at: now.into(),
    }
}

/// What a turn wrote: the user message, the assistant message, the session's new auto title.
pub(super) type Written = (Option<Message>, Option<Message>, Option<String>);

/// The text the turn answers (empty for the opening).
fn user_text(plan: &Plan) -> &str {
    plan.user.as_ref().map_or("", |u| u.content.as_str())
}

/// The user message of the turn, inserted when it is new; with the session's auto title
/// when that changed.
fn user_row(c: &Connection, plan: &Plan) -> AppResult<(Option<Message>, Option<String>)> {
    let Some(mut u) = plan.user.clone() else { return Ok((None, None)) };
    if !plan.user_is_new {
        return Ok((Some(u), None));
    }
    if store::get_message(c, &u.id)?.is_some() {
        return Err(AppError::conflict(format!("a message with id {:?} already exists in this session", u.id)));
    }
    u.seq = store::insert_message(c, &u)?;
    let title = if u.content.trim().is_empty() { None } else { store::set_auto_title(c, &u.content)? };
    Ok((Some(u), title))
}

/// A completed turn. The assistant message is always there for a user turn; an opening whose
/// actions are all silent (ai_think only) leaves no empty message behind.
pub(super) fn turn(c: &Connection, plan: &Plan, th: &Thought) -> AppResult<Written> {
    let current: String = c.prepare_cached("SELECT updated_at FROM state WHERE id = 1")?.query_row([], |r| r.get(0))?;
    if current != plan.expect {
        return Err(AppError::conflict("another turn of this session finished first; retry").retryable());
    }
    let now = crate::clock::now();
    let (u, title) = user_row(c, plan)?;
    if let Some(old) = &plan.replace {
        c.prepare_cached("DELETE FROM messages WHERE id = ?1")?.execute([old])?;
    }
    let a = if u.is_none() && th.parts.is_empty() {
        None
    } else {
        let mut a = new_message(plan.assistant_id.clone(), "assistant", th.parts.clone(), None, &now);
        a.seq = store::insert_message(c, &a)?;
        Some(a)
    };
    // Variables hang off the message that caused them: the user's, or the opening's.
    variables(c, u.as_ref().or(a.as_ref()).map(|m| m.seq), &th.sets, &now)?;
    c.prepare_cached(
        "UPDATE state SET execution_status = ?1, position = ?2, variable_store = ?3, updated_at = ?4 WHERE id = 1",
    )?
    .execute(params![th.execution_status, th.position.to_string(), th.vars.to_string(), now])?;
    let turn_id = turn_row(c, plan, a.as_ref().map(|m| m.id.as_str()), "completed", None, &now)?;
    action_runs::insert_for_turn(c, turn_id, user_text(plan), &th.runs)?;
    Ok((u, a, title))
}

/// A failed turn: the user message (when new and not stored meanwhile), a failed `turns`
/// row with `error` (`{code, message}`) and the runs. The state is left as it was.
pub(super) fn failed(
    c: &Connection,
    plan: &Plan,
    error: &Value,
    runs: &[RunRecord],
) -> AppResult<(Option<Message>, Option<String>)> {
    let now = crate::clock::now();
    let fresh = match &plan.user {
        Some(u) if plan.user_is_new => store::get_message(c, &u.id)?.is_none(),
        _ => false,
    };
    let (user, title) = if fresh { user_row(c, plan)? } else { (None, None) };
    let turn_id = turn_row(c, plan, plan.replace.as_deref(), "failed", Some(error), &now)?;
    action_runs::insert_for_turn(c, turn_id, user_text(plan), runs)?;
    Ok((user, title))
}

fn turn_row(
    c: &Connection,
    plan: &Plan,
    assistant: Option<&str>,
    status: &str,
    error: Option<&Value>,
    now: &str,
) -> AppResult<i64> {
    c.prepare_cached(
        "INSERT INTO turns(user_message_id, assistant_message_id, state_before, status, error, created_at, finished_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        plan.user.as_ref().map(|u| &u.id),
        assistant,
        plan.before.to_string(),
        status,
        error.map(Value::to_string),
        plan.started_at,
        now
    ])?;
    Ok(c.last_insert_rowid())
}

fn variables(c: &Connection, seq: Option<i64>, sets: &[Output], now: &str) -> AppResult<()> {
    let mut stmt = c.prepare_cached(
        "INSERT INTO variable_history(message_seq, name, value, scope, value_type, source, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for o in sets {
        if let Output::Set { name, value, scope, source, .. } = o {
            let scope = serde_json::to_value(scope).ok().and_then(|v| v.as_str().map(str::to_string));
            stmt.execute(params![seq, name, value.to_string(), scope, value_type(value), source, now])?;
        }
    }
    Ok(())
}

fn value_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
