//! Chat turns: the user's message in, the script engine (or free chat) run, and the whole
//! turn written in one transaction on the session shard — the user message, exactly one
//! assistant message, the variable history, the state and the `turns` row.
//!
//! The model runs outside the transaction (it may take seconds); the write then checks that
//! the state it started from is still current, so two concurrent turns on one session never
//! interleave (the loser gets 409 `conflict`, retryable).

use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};
use uuid::Uuid;

use super::messages::plain_text;
use super::model::{Message, NewMessage};
use super::{store, summary::Summaries};
use crate::error::{AppError, AppResult};
use crate::llm::chat::{ChatMessage, ChatRequest, LlmProvider, Purpose};
use crate::script::runtime::engine::{self, Ctx, EngineState, Output};
use crate::script::runtime::llm_model::LlmModel;
use crate::script::runtime::model::{self as script_model, Script};
use crate::script::runtime::{turn, vars::VarStore};
use crate::script::Limits;
use crate::storage::{ShardKind, Storage};

const S: ShardKind = ShardKind::Session;

/// What a turn answers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TurnResult {
    pub user_message: Message,
    pub assistant_message: Message,
    pub status: String,
    pub execution_status: String,
    pub position: Value,
    pub variables: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debug: Option<Value>,
}

/// Everything a turn reads before the model runs.
struct Loaded {
    snapshot: Option<Value>,
    /// `metadata.script` of the session: which session file of a pinned version to run.
    script_name: Option<String>,
    /// For the search entries of the turn.
    owner: (Option<String>, Option<String>),
    variable_store: Value,
    position: Value,
    updated_at: String,
    history: Vec<ChatMessage>,
}

fn load(c: &Connection) -> AppResult<Loaded> {
    let snap: Option<String> =
        c.query_row("SELECT value FROM meta WHERE key = 'version_snapshot'", [], |r| r.get(0)).optional()?;
    let meta: Option<String> =
        c.query_row("SELECT value FROM meta WHERE key = 'metadata'", [], |r| r.get(0)).optional()?;
    let script_name = meta
        .and_then(|m| serde_json::from_str::<Value>(&m).ok())
        .and_then(|m| m["script"].as_str().map(str::to_string));
    let m = store::read_meta(c)?;
    let owner = (m.user_id, m.project_id);
    let (position, store_json, updated_at): (String, String, String) =
        c.query_row("SELECT position, variable_store, updated_at FROM state WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    let mut stmt = c.prepare_cached("SELECT role, content FROM messages ORDER BY seq DESC LIMIT 20")?;
    let mut history: Vec<ChatMessage> = stmt
        .query_map([], |r| Ok(ChatMessage::new(&r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
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

/// The session script, its techniques and the project's global variables, from the pinned
/// snapshot. None: no script (free chat).
struct Program {
    script: Script,
    techniques: Vec<Script>,
    globals: serde_json::Map<String, Value>,
}

/// `wanted` names the session file to run (`metadata.script`); by default the first.
fn program(snapshot: &Value, wanted: Option<&str>, limits: &Limits) -> AppResult<Option<Program>> {
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

/// Runs the model side of a turn (blocking: the engine and the provider block).
fn think(loaded: &Loaded, user_text: &str, provider: Arc<dyn LlmProvider>, limits: &Limits) -> AppResult<Thought> {
    let model = LlmModel::new(provider.clone());
    let prog = match &loaded.snapshot {
        Some(s) => program(s, loaded.script_name.as_deref(), limits)?,
        None => None,
    };
    let engine_state: Option<EngineState> = serde_json::from_value(loaded.position["engine"].clone()).ok();
    let Some(prog) = prog.filter(|_| !engine_state.as_ref().is_some_and(|e| e.completed)) else {
        return free_chat(loaded, user_text, provider);
    };
    let techniques = prog.techniques.clone();
    let skills = move |n: &str| techniques.iter().find(|t| t.id == n).cloned();
    let ctx = Ctx { script: &prog.script, skills: &skills, model: &model };
    let (st, mut out) = match engine_state {
        Some(st) => engine::input(&ctx, st, user_text)?,
        // The first turn starts the script: its opening message (often a greeting) is
        // answered by the script's first actions, up to the first that needs input.
        None => {
            let mut vars: VarStore = serde_json::from_value(loaded.variable_store.clone()).unwrap_or_default();
            vars.global.extend(prog.globals.clone());
            engine::start(&ctx, vars)?
        }
    };
    if out.iter().all(|o| !matches!(o, Output::Say { .. })) && st.completed {
        // The script ended without a word for this turn: answer freely rather than say nothing.
        let free = free_chat(loaded, user_text, provider)?;
        out.extend(free.sets);
    }
    let mut position = turn::position(&prog.script, &st);
    position["engine"] = serde_json::to_value(&st).map_err(AppError::internal)?;
    let calls = serde_json::to_value(&*model.calls.lock()).unwrap_or_default();
    Ok(Thought {
        parts: turn::assistant_parts(&out),
        text: turn::assistant_text(&out),
        sets: out,
        vars: serde_json::to_value(&st.vars).map_err(AppError::internal)?,
        position,
        execution_status: turn::execution_status(&st).into(),
        calls,
    })
}

struct Thought {
    parts: Vec<Value>,
    text: String,
    sets: Vec<Output>,
    vars: Value,
    position: Value,
    execution_status: String,
    calls: Value,
}

fn free_chat(loaded: &Loaded, user_text: &str, provider: Arc<dyn LlmProvider>) -> AppResult<Thought> {
    let mut messages = vec![ChatMessage::new("system", "You are a helpful assistant.")];
    messages.extend(loaded.history.iter().filter(|m| m.role == "user" || m.role == "assistant").cloned());
    messages.push(ChatMessage::new("user", user_text));
    let req = ChatRequest { purpose: Purpose::Chat, messages, temperature: None, max_tokens: None, force_cache: false };
    let r = provider.complete(&req)?;
    let out = vec![Output::Say { action_id: "chat".into(), text: r.text.clone() }];
    let mut position = loaded.position.clone();
    if position.is_null() {
        position = json!({});
    }
    let calls = json!([{"request": req, "model": r.model, "prompt_tokens": r.prompt_tokens, "completion_tokens": r.completion_tokens, "cached": r.cached}]);
    Ok(Thought {
        parts: turn::assistant_parts(&out),
        text: r.text,
        sets: out,
        vars: loaded.variable_store.clone(),
        position,
        execution_status: "waiting_input".into(),
        calls,
    })
}

fn new_message(id: String, role: &str, parts: Vec<Value>, metadata: Option<Value>, now: &str) -> Message {
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

/// The turn's one transaction. `replace` names the assistant message a regeneration
/// replaces (the user message is then already stored).
fn write_turn(
    c: &Connection,
    expect: &str,
    user: &Message,
    replace: Option<&str>,
    th: &Thought,
    before: &Value,
) -> AppResult<(Message, Message, Option<String>)> {
    let current: String = c.query_row("SELECT updated_at FROM state WHERE id = 1", [], |r| r.get(0))?;
    if current != expect {
        return Err(AppError::conflict("another turn of this session finished first; retry").retryable());
    }
    let now = crate::clock::now();
    let mut title = None;
    let mut u = user.clone();
    if replace.is_none() {
        if store::get_message(c, &u.id)?.is_some() {
            return Err(AppError::conflict(format!("a message with id {:?} already exists in this session", u.id)));
        }
        u.seq = store::insert_message(c, &u)?;
        if !u.content.trim().is_empty() {
            title = store::set_auto_title(c, &u.content)?;
        }
    } else if let Some(old) = replace {
        c.execute("DELETE FROM messages WHERE id = ?1", [old])?;
    }
    let mut a = new_message(Uuid::now_v7().to_string(), "assistant", th.parts.clone(), None, &now);
    a.seq = store::insert_message(c, &a)?;
    for o in &th.sets {
        if let Output::Set { name, value, scope, source, .. } = o {
            c.prepare_cached("INSERT INTO variable_history(message_seq, name, value, scope, value_type, source, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?
                .execute(params![u.seq, name, value.to_string(), serde_json::to_value(scope).ok().and_then(|v| v.as_str().map(str::to_string)), value_type(value), source, now])?;
        }
    }
    c.prepare_cached(
        "UPDATE state SET execution_status = ?1, position = ?2, variable_store = ?3, updated_at = ?4 WHERE id = 1",
    )?
    .execute(params![th.execution_status, th.position.to_string(), th.vars.to_string(), now])?;
    c.prepare_cached("INSERT INTO turns(user_message_id, assistant_message_id, state_before, status, created_at, finished_at) VALUES (?1, ?2, ?3, 'completed', ?4, ?4)")?
        .execute(params![u.id, a.id, before.to_string(), now])?;
    Ok((u, a, title))
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

/// Shared services a turn needs besides storage.
pub struct TurnEnv<'a> {
    pub st: &'a Storage,
    pub sums: &'a Summaries,
    pub search: &'a crate::search::SearchFeed,
    pub provider: Arc<dyn LlmProvider>,
    pub limits: Limits,
}

/// One chat turn: `user` is a validated user message. `regenerate` re-runs the last turn
/// from its `state_before` and replaces that turn's assistant message instead.
pub async fn run_turn(env: &TurnEnv<'_>, sid: Uuid, user: Option<NewMessage>, debug: bool) -> AppResult<TurnResult> {
    let loaded_last =
        env.st.shards.read(S, sid, |c| Ok((load(c)?, last_turn(c)?))).await.map_err(super::service::shard_err)?;
    let (mut loaded, last) = loaded_last;
    let now = crate::clock::now();
    let (user_msg, replace) = match (user, last) {
        (Some(u), _) => (new_message(u.id, "user", u.parts, u.metadata, &now), None),
        (None, Some((um, am, before))) => {
            loaded.position = before["position"].clone();
            loaded.variable_store = before["variable_store"].clone();
            (um, Some(am))
        }
        (None, None) => return Err(AppError::bad_request("there is no turn to regenerate yet")),
    };
    let before = json!({"position": loaded.position, "variable_store": loaded.variable_store});
    let (provider, limits, text) = (env.provider.clone(), env.limits.clone(), user_msg.content.clone());
    let expect = loaded.updated_at.clone();
    let th = tokio::task::spawn_blocking(move || think(&loaded, &text, provider, &limits).map(|t| (t, loaded)))
        .await
        .map_err(AppError::internal)??;
    let (th, loaded) = th;
    let th = Arc::new(th);
    let (t2, u2) = (th.clone(), user_msg.clone());
    let (u, a, title) =
        env.st.shards.write(S, sid, move |c| write_turn(c, &expect, &u2, replace.as_deref(), &t2, &before)).await?;
    env.sums.record(sid, a.seq, &a.created_at, title);
    index(env, sid, &loaded.owner, &u, &a);
    Ok(TurnResult {
        user_message: u,
        assistant_message: a,
        status: "active".into(),
        execution_status: th.execution_status.clone(),
        position: strip_engine(&th.position),
        variables: crate::session::variables::resolve(&th.vars),
        debug: debug.then(|| json!({"calls": th.calls, "text": th.text})),
    })
}

/// The search entries of a committed turn.
fn index(env: &TurnEnv<'_>, sid: Uuid, owner: &(Option<String>, Option<String>), u: &Message, a: &Message) {
    for m in [u, a] {
        env.search.enqueue(crate::search::Entry {
            session_id: sid.to_string(),
            user_id: owner.0.clone(),
            project_id: owner.1.clone(),
            seq: m.seq,
            text: m.content.clone(),
        });
    }
}

/// The engine's internals stay in the shard; clients see DESIGN.md's position fields.
fn strip_engine(p: &Value) -> Value {
    let mut p = p.clone();
    if let Some(o) = p.as_object_mut() {
        o.remove("engine");
    }
    p
}

/// The last turn: its user message, its assistant message id and the state before it.
fn last_turn(c: &Connection) -> AppResult<Option<(Message, String, Value)>> {
    let row: Option<(String, String, String)> = c
        .query_row("SELECT user_message_id, assistant_message_id, state_before FROM turns WHERE status = 'completed' ORDER BY id DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((uid, aid, before)) = row else { return Ok(None) };
    let Some(user) = store::get_message(c, &uid)? else { return Ok(None) };
    Ok(Some((user, aid, serde_json::from_str(&before).unwrap_or(Value::Null))))
}
