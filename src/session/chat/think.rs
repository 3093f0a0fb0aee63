//! The model side of a turn (blocking: the engine and the provider block): the script
//! engine, or free chat over the history, with every action recorded as a run.

use std::sync::Arc;

use serde_json::{json, Value};

use super::load::{program, Loaded, Program};
use crate::error::{AppError, AppResult};
use crate::llm::chat::{ChatMessage, LlmProvider};
use crate::script::runtime::engine::{self, Ctx, EngineState, Output};
use crate::script::runtime::llm_model::{LlmModel, Sink};
use crate::script::runtime::runs::{RunLog, RunRecord};
use crate::script::runtime::{turn, vars::VarStore};
use crate::script::Limits;

/// What the model produced for a turn.
pub(super) struct Thought {
    pub parts: Vec<Value>,
    pub text: String,
    pub sets: Vec<Output>,
    pub vars: Value,
    pub position: Value,
    pub execution_status: String,
    pub calls: Value,
    pub runs: Vec<RunRecord>,
}

/// Why a turn produced nothing.
pub(super) enum Failure {
    /// Before anything ran (the script cannot be loaded): nothing is recorded.
    Refused(AppError),
    /// An action (a model call) failed: the turn is recorded as failed, with its runs.
    Failed { error: AppError, runs: Vec<RunRecord> },
}

/// Runs the turn; `user_text` None is the session's opening. With a sink, spoken text
/// streams to it as the model produces it.
pub(super) fn think(
    loaded: &Loaded,
    user_text: Option<&str>,
    provider: Arc<dyn LlmProvider>,
    limits: &Limits,
    sink: Option<Sink>,
) -> Result<Thought, Failure> {
    let prog = match &loaded.snapshot {
        Some(s) => program(s, loaded.script_name.as_deref(), limits).map_err(Failure::Refused)?,
        None => None,
    };
    let model = match sink {
        Some(s) => LlmModel::streaming(provider, s),
        None => LlmModel::new(provider),
    };
    let log = RunLog::default();
    let engine_state: Option<EngineState> = serde_json::from_value(loaded.position["engine"].clone()).ok();
    let r = match prog.filter(|_| !engine_state.as_ref().is_some_and(|e| e.completed)) {
        Some(prog) => scripted(loaded, &prog, engine_state, user_text, &model, &log),
        None => free_chat(loaded, user_text, &model, &log),
    };
    match r {
        Ok(mut th) => {
            th.calls = serde_json::to_value(&*model.calls.lock()).unwrap_or_default();
            th.runs = log.finish(None);
            Ok(th)
        }
        Err(error) => Err(Failure::Failed { runs: log.finish(Some(&error)), error }),
    }
}

fn scripted(
    loaded: &Loaded,
    prog: &Program,
    engine_state: Option<EngineState>,
    user_text: Option<&str>,
    model: &LlmModel,
    log: &RunLog,
) -> AppResult<Thought> {
    let skills = |n: &str| prog.techniques.iter().find(|t| t.id == n).cloned();
    let ctx = Ctx { script: &prog.script, skills: &skills, model, trace: log };
    let (st, mut out) = match engine_state {
        Some(st) => engine::input(&ctx, st, user_text.unwrap_or_default())?,
        // Not started: the opening runs first (at session create, or here when it could not
        // run then), and a user's text then answers the action it waits at.
        None => {
            let mut vars: VarStore = serde_json::from_value(loaded.variable_store.clone()).unwrap_or_default();
            vars.global.extend(prog.globals.clone());
            let (st, mut out) = engine::start(&ctx, vars)?;
            let Some(text) = user_text else { return thought(prog, st, out) };
            let (st, more) = engine::input(&ctx, st, text)?;
            out.extend(more);
            (st, out)
        }
    };
    if out.iter().all(|o| !matches!(o, Output::Say { .. })) && st.completed {
        // The script ended without a word for this turn: answer freely rather than say nothing.
        out.extend(free_chat(loaded, user_text, model, log)?.sets);
    }
    thought(prog, st, out)
}

/// What a script step stored and answers; the engine state rides in `position.engine`.
fn thought(prog: &Program, st: EngineState, out: Vec<Output>) -> AppResult<Thought> {
    let mut position = turn::position(&prog.script, &st);
    position["engine"] = serde_json::to_value(&st).map_err(AppError::internal)?;
    Ok(Thought {
        parts: turn::assistant_parts(&out),
        text: turn::assistant_text(&out),
        sets: out,
        vars: serde_json::to_value(&st.vars).map_err(AppError::internal)?,
        position,
        execution_status: turn::execution_status(&st).into(),
        calls: Value::Null,
        runs: Vec::new(),
    })
}

/// A reply over the history (and the user's text, if any), recorded as a run of type `chat`.
fn free_chat(loaded: &Loaded, user_text: Option<&str>, model: &LlmModel, log: &RunLog) -> AppResult<Thought> {
    let mut messages = vec![ChatMessage::new("system", "You are a helpful assistant.")];
    let said = loaded.history.iter().map(|(_, m)| m).filter(|m| m.role == "user" || m.role == "assistant");
    messages.extend(said.cloned());
    messages.extend(user_text.map(|t| ChatMessage::new("user", t)));
    log.begin_named("chat", "chat", json!({}));
    let out = match model.chat("chat", messages) {
        Ok(r) => vec![Output::Say { action_id: "chat".into(), text: r.text }],
        Err(e) => {
            log.end_last(&[], false, Some(&e));
            return Err(e);
        }
    };
    log.end_last(&out, false, None);
    let mut position = loaded.position.clone();
    if position.is_null() {
        position = json!({});
    }
    Ok(Thought {
        parts: turn::assistant_parts(&out),
        text: turn::assistant_text(&out),
        sets: out,
        vars: loaded.variable_store.clone(),
        position,
        execution_status: "waiting_input".into(),
        calls: Value::Null,
        runs: Vec::new(),
    })
}
