//! What a turn reads before the model runs: the pinned script, the state, recent history and
//! the last turn (for regeneration and retries).

use rusqlite::{Connection, OptionalExtension};
use serde_json::Value;

use super::super::model::Message;
use super::super::store;
use crate::error::AppResult;
use crate::llm::chat::ChatMessage;
use crate::script::runtime::model::{self as script_model, Script};
use crate::script::Limits;

/// Everything a turn reads before the model runs.
pub(super) struct Loaded {
    pub snapshot: Option<Value>,
    /// `metadata.script` of the session: which session file of a pinned version to run.
    pub script_name: Option<String>,
    /// For the search entries of the turn.
    pub owner: (Option<String>, Option<String>),
    pub variable_store: Value,
    pub position: Value,
    pub updated_at: String,
    /// The last messages, oldest first, with their ids.
    pub history: Vec<(String, ChatMessage)>,
}

pub(super) fn load(c: &Connection) -> AppResult<Loaded> {
    let snap: Option<String> = c
        .prepare_cached("SELECT value FROM meta WHERE key = 'version_snapshot'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    let meta: Option<String> =
        c.prepare_cached("SELECT value FROM meta WHERE key = 'metadata'")?.query_row([], |r| r.get(0)).optional()?;
    let script_name = meta
        .and_then(|m| serde_json::from_str::<Value>(&m).ok())
        .and_then(|m| m["script"].as_str().map(str::to_string));
    let owner = store::owner(c)?;
    let (position, store_json, updated_at): (String, String, String) = c
        .prepare_cached("SELECT position, variable_store, updated_at FROM state WHERE id = 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let mut stmt = c.prepare_cached("SELECT id, role, content FROM messages ORDER BY seq DESC LIMIT 20")?;
    let mut history: Vec<(String, ChatMessage)> = stmt
        .query_map([], |r| Ok((r.get(0)?, ChatMessage::new(&r.get::<_, String>(1)?, r.get::<_, String>(2)?))))?
        .collect::<Result<_, _>>()?;
    history.reverse();
    let parse = |s: &str| serde_json::from_str(s).unwrap_or(Value::Null);
    Ok(Loaded {
        snapshot: snap.as_deref().map(parse),
        script_name,
        owner,
        variable_store: parse(&store_json),
        position: parse(&position),
        updated_at,
        history,
    })
}

/// The last finished turn, completed or failed.
pub(super) struct LastTurn {
    /// None: the session's opening, which no user message started.
    pub user: Option<Message>,
    /// A completed turn's assistant message; for a failed turn, the one it was replacing.
    pub assistant: Option<String>,
    pub before: Value,
    pub failed: bool,
}

/// Whether the last finished turn failed (a cheap probe before [`last_turn`]).
pub(super) fn last_turn_failed(c: &Connection) -> AppResult<bool> {
    let status: Option<String> = c
        .prepare_cached("SELECT status FROM turns WHERE status IN ('completed', 'failed') ORDER BY id DESC LIMIT 1")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(status.as_deref() == Some("failed"))
}

pub(super) fn last_turn(c: &Connection) -> AppResult<Option<LastTurn>> {
    let row: Option<(Option<String>, Option<String>, String, String)> = c
        .prepare_cached(
            "SELECT user_message_id, assistant_message_id, state_before, status FROM turns
             WHERE status IN ('completed', 'failed') ORDER BY id DESC LIMIT 1",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    let Some((uid, assistant, before, status)) = row else { return Ok(None) };
    let user = match uid {
        Some(id) => match store::get_message(c, &id)? {
            Some(m) => Some(m),
            None => return Ok(None),
        },
        None => None,
    };
    let before = serde_json::from_str(&before).unwrap_or(Value::Null);
    Ok(Some(LastTurn { user, assistant, before, failed: status == "failed" }))
}

/// Whether the session's opening is due: it has a script that loads and has not started
/// (no engine state, no turn at all). A script that does not load is refused by the first
/// user turn instead, with its error.
pub(super) fn opening_due(c: &Connection, loaded: &Loaded, limits: &Limits) -> AppResult<bool> {
    let Some(snapshot) = &loaded.snapshot else { return Ok(false) };
    let any_turn: bool = c.prepare_cached("SELECT EXISTS (SELECT 1 FROM turns)")?.query_row([], |r| r.get(0))?;
    if any_turn || loaded.position.get("engine").is_some() {
        return Ok(false);
    }
    Ok(matches!(program(snapshot, loaded.script_name.as_deref(), limits), Ok(Some(_))))
}

/// The session script, its techniques and the project's global variables, from the pinned
/// snapshot. None: no script (free chat).
pub(super) struct Program {
    pub script: Script,
    pub techniques: Vec<Script>,
    pub globals: serde_json::Map<String, Value>,
}

/// `wanted` names the session file to run (`metadata.script`); by default the first.
pub(super) fn program(snapshot: &Value, wanted: Option<&str>, limits: &Limits) -> AppResult<Option<Program>> {
    let text = |v: &Value, k: &str| v[k].as_str().unwrap_or("").to_string();
    let mut files: Vec<(String, String, String)> = match snapshot["kind"].as_str() {
        Some("script_file") => {
            vec![(text(snapshot, "file_type"), text(snapshot, "file_name"), text(snapshot, "yaml_content"))]
        }
        Some("version") => snapshot["files"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| (text(f, "file_type"), text(f, "file_name"), text(f, "yaml_content")))
            .collect(),
        _ => return Ok(None),
    };
    if let Some(w) = wanted {
        // The named file first, so that it is the session script that runs.
        files.sort_by_key(|f| f.1 != w);
    }
    let (mut script, mut techniques, mut globals) = (None, Vec::new(), serde_json::Map::new());
    for (kind, _, yaml) in &files {
        if kind == "global" {
            globals.extend(global_variables(yaml, limits));
            continue;
        }
        match script_model::parse_cached(yaml, limits).map(|s| (*s).clone()) {
            Ok(s) if s.technique => techniques.push(s),
            Ok(s) if script.is_none() => script = Some(s),
            Ok(_) => {}
            Err(e) if kind == "session" => return Err(e),
            Err(_) => {}
        }
    }
    Ok(script.map(|script| Program { script, techniques, globals }))
}

/// `variables: [{name, value}]` of a project's global.yaml (entries without both skipped).
fn global_variables(yaml: &str, limits: &Limits) -> serde_json::Map<String, Value> {
    let doc = crate::script::parse_yaml(yaml, limits).unwrap_or(Value::Null);
    doc["variables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| Some((v["name"].as_str()?.to_string(), v.get("value").filter(|x| !x.is_null())?.clone())))
        .collect()
}
