//! The script executor as a pure state machine: `(state, input) → (state, outputs)`.
//!
//! The model is a trait object, so tests (and the offline provider) are deterministic and
//! the engine does no I/O of its own; a [`Trace`] hears where each action starts and ends.
//! A frame stack lets `use_skill` run a technique script's actions as a nested topic;
//! frame 0 is the session script.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::model::{Action, ActionKind, Script};
use super::vars::{interpolate, Scope, VarStore};
use crate::error::{AppError, AppResult};

/// What the engine asks of a language model. All calls are blocking.
pub trait Model {
    /// The words an `ai_say`/`ai_ask` speaks; `content` is already interpolated.
    fn say(&self, action: &Action, content: &str) -> AppResult<String>;
    /// Values for `names` taken from the user's text, following `instruction`.
    fn extract(&self, instruction: &str, user: &str, names: &[String]) -> AppResult<Map<String, Value>>;
    /// `ai_think`: values for `names` from silent reasoning over `content`.
    fn think(&self, content: &str, names: &[String]) -> AppResult<Map<String, Value>>;
}

/// Where one script stands. `skill` names the technique of a nested frame.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Frame {
    pub skill: Option<String>,
    pub phase: usize,
    pub topic: usize,
    pub action: usize,
    pub round: u32,
    pub waiting: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct EngineState {
    pub frames: Vec<Frame>,
    pub vars: VarStore,
    pub completed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Output {
    Say { action_id: String, text: String },
    Set { action_id: String, name: String, value: Value, scope: Scope, source: String },
}

/// Everything a step needs besides the state.
pub struct Ctx<'a> {
    pub script: &'a Script,
    /// Technique scripts by name, for `use_skill`.
    pub skills: &'a dyn Fn(&str) -> Option<Script>,
    pub model: &'a dyn Model,
    /// Told where each action starts and ends (`&()` when nobody listens).
    pub trace: &'a dyn Trace,
}

/// Where each action the engine performs starts and ends, so that a chat turn can record
/// its action runs. The engine only reports; the listener keeps what it wants.
pub trait Trace {
    /// `ids` are the phase and topic ids of the action.
    fn begin(&self, _action: &Action, _ids: &Ids) {}
    fn end(&self, _action: &Action, _step: Step<'_>) {}
}

impl Trace for () {}

/// How an action ended.
pub struct Step<'a> {
    /// What it produced (its words and variables).
    pub outputs: &'a [Output],
    /// It now waits for the user.
    pub waiting: bool,
    pub error: Option<&'a AppError>,
}

/// Most actions one step may run: a guard against scripts that never wait.
const MAX_ACTIONS_PER_STEP: usize = 10_000;

/// Starts a session: runs actions until the first that needs input.
pub fn start(ctx: &Ctx, vars: VarStore) -> AppResult<(EngineState, Vec<Output>)> {
    let mut st = EngineState { frames: vec![Frame::default()], vars, completed: false };
    let mut out = Vec::new();
    run(ctx, &mut st, &mut out)?;
    Ok((st, out))
}

/// Feeds one user turn to the waiting action, then runs on until input is needed again.
pub fn input(ctx: &Ctx, mut st: EngineState, user: &str) -> AppResult<(EngineState, Vec<Output>)> {
    let mut out = Vec::new();
    if st.completed {
        return Ok((st, out));
    }
    if let Some((_, action, ids)) = current(ctx, &mut st)? {
        if st.frames.last().is_some_and(|f| f.waiting) {
            traced(ctx, &mut st, &action, &ids, &mut out, |st, out| answer(ctx, st, &action, &ids, user, out))?;
        }
    }
    run(ctx, &mut st, &mut out)?;
    Ok((st, out))
}

/// `(phase_id, topic_id)` of the top frame's position.
pub type Ids = (String, String);

fn script_of(ctx: &Ctx, frame: &Frame) -> AppResult<Script> {
    match &frame.skill {
        None => Ok(ctx.script.clone()),
        Some(name) => (ctx.skills)(name).ok_or_else(|| {
            AppError::new(
                422,
                "script_validation_error",
                "script",
                format!("use_skill: no technique script {name:?} in the project"),
            )
        }),
    }
}

/// The action under the top frame, normalising the position past empty topics and phases;
/// pops finished frames. None when the session script has completed.
fn current(ctx: &Ctx, st: &mut EngineState) -> AppResult<Option<(Script, Action, Ids)>> {
    loop {
        let Some(frame) = st.frames.last_mut() else { return Ok(None) };
        let script = script_of(ctx, frame)?;
        if let Some(found) = locate(&script, frame) {
            return Ok(Some((script.clone(), found.0, found.1)));
        }
        let done = st.frames.pop().expect("a frame is on the stack");
        if st.frames.is_empty() {
            st.completed = true;
            return Ok(None);
        }
        finish_skill(ctx, st, &done)?;
    }
}

/// Moves `frame` forward to the next existing action (if needed) and returns it.
fn locate(script: &Script, frame: &mut Frame) -> Option<(Action, Ids)> {
    while let Some(phase) = script.phases.get(frame.phase) {
        match phase.topics.get(frame.topic) {
            Some(topic) => match topic.actions.get(frame.action) {
                Some(a) => return Some((a.clone(), (phase.id.clone(), topic.id.clone()))),
                None => (frame.topic, frame.action) = (frame.topic + 1, 0),
            },
            None => (frame.phase, frame.topic, frame.action) = (frame.phase + 1, 0, 0),
        }
    }
    None
}

fn advance(st: &mut EngineState) {
    if let Some(f) = st.frames.last_mut() {
        (f.action, f.round, f.waiting) = (f.action + 1, 0, false);
    }
}

fn run(ctx: &Ctx, st: &mut EngineState, out: &mut Vec<Output>) -> AppResult<()> {
    for _ in 0..MAX_ACTIONS_PER_STEP {
        let Some((_, action, ids)) = current(ctx, st)? else { return Ok(()) };
        if st.frames.last().is_some_and(|f| f.waiting) {
            return Ok(());
        }
        if !condition_holds(st, &action, &ids) {
            advance(st);
            continue;
        }
        traced(ctx, st, &action, &ids, out, |st, out| perform(ctx, st, &action, &ids, out))?;
    }
    Err(AppError::new(
        422,
        "script_validation_error",
        "script",
        "the script ran 10000 actions without waiting for input",
    ))
}

/// Runs `f` for `action` between the trace's begin and end.
fn traced(
    ctx: &Ctx,
    st: &mut EngineState,
    action: &Action,
    ids: &Ids,
    out: &mut Vec<Output>,
    f: impl FnOnce(&mut EngineState, &mut Vec<Output>) -> AppResult<()>,
) -> AppResult<()> {
    ctx.trace.begin(action, ids);
    let from = out.len();
    let r = f(st, out);
    let waiting = st.frames.last().is_some_and(|f| f.waiting);
    ctx.trace.end(action, Step { outputs: &out[from..], waiting, error: r.as_ref().err() });
    r
}

fn perform(ctx: &Ctx, st: &mut EngineState, action: &Action, ids: &Ids, out: &mut Vec<Output>) -> AppResult<()> {
    match action.kind {
        ActionKind::AiSay => {
            speak(ctx, st, action, ids, out)?;
            // Planbase's default is false (HeartRule's is true): see the README.
            if action.flag("require_acknowledgment").unwrap_or(false) {
                st.frames.last_mut().expect("frame").waiting = true;
            } else {
                advance(st);
            }
        }
        ActionKind::AiAsk => {
            speak(ctx, st, action, ids, out)?;
            let f = st.frames.last_mut().expect("frame");
            (f.waiting, f.round) = (true, 1);
        }
        ActionKind::AiThink => {
            let content = fill(st, &action.content(), ids);
            let names: Vec<String> = fields(action).iter().filter_map(|f| f.name.clone()).collect();
            let values = ctx.model.think(&content, &names)?;
            for (name, value) in values {
                set(st, out, action, ids, &name, value, "ai_think");
            }
            advance(st);
        }
        ActionKind::UseSkill => enter_skill(ctx, st, action, ids)?,
    }
    Ok(())
}

fn fill(st: &EngineState, text: &str, ids: &Ids) -> String {
    interpolate(text, |n| st.vars.resolve(n, &ids.0, &ids.1).cloned())
}

fn speak(ctx: &Ctx, st: &EngineState, action: &Action, ids: &Ids, out: &mut Vec<Output>) -> AppResult<()> {
    let content = fill(st, &action.content(), ids);
    let text = ctx.model.say(action, &content)?;
    out.push(Output::Say { action_id: action.id.clone(), text });
    Ok(())
}

fn set(
    st: &mut EngineState,
    out: &mut Vec<Output>,
    action: &Action,
    ids: &Ids,
    name: &str,
    value: Value,
    source: &str,
) {
    st.vars.set(Scope::Session, &ids.1, name, value.clone());
    let (action_id, name, source) = (action.id.clone(), name.to_string(), source.to_string());
    out.push(Output::Set { action_id, name, value, scope: Scope::Session, source });
}

/// A condition is interpolated, then true unless empty, `false`, `0`, `no`, `null` or still
/// an unresolved placeholder; `a == b` and `a != b` compare the two sides as text.
fn condition_holds(st: &EngineState, action: &Action, ids: &Ids) -> bool {
    let Some(cond) = &action.condition else { return true };
    let c = fill(st, cond, ids);
    let truthy = |s: &str| {
        let s = s.trim().trim_matches(['"', '\'']);
        !(s.is_empty() || s.contains('{') || ["false", "0", "no", "null"].contains(&s.to_ascii_lowercase().as_str()))
    };
    let clean = |s: &str| s.trim().trim_matches(['"', '\'']).to_string();
    if let Some((a, b)) = c.split_once("!=") {
        return clean(a) != clean(b);
    }
    if let Some((a, b)) = c.split_once("==") {
        return clean(a) == clean(b);
    }
    truthy(&c)
}

/// One OutputField, read leniently.
#[derive(Debug, Clone, Default)]
pub struct Field {
    pub name: Option<String>,
    pub value: Option<Value>,
    pub extract: String,
    pub pattern: Option<String>,
    pub instruction: String,
}

fn field_of(v: &Value) -> Field {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let name = s("get").or_else(|| s("set")).or_else(|| s("variable"));
    let pattern = s("pattern");
    let instruction = s("define").or_else(|| s("instruction")).unwrap_or_default();
    let extract = s("extract").unwrap_or_else(|| {
        if pattern.is_some() {
            "pattern".into()
        } else if instruction.is_empty() {
            "direct".into()
        } else {
            "llm".into()
        }
    });
    Field { name, value: v.get("value").filter(|x| !x.is_null()).cloned(), extract, pattern, instruction }
}

/// The action's outputs; the deprecated `target_variable` becomes one llm/direct field.
pub fn fields(action: &Action) -> Vec<Field> {
    if let Some(Value::Array(list)) = action.get(&["output", "output_variables"]) {
        return list
            .iter()
            .map(|v| {
                if let Value::String(n) = v {
                    Field { name: Some(n.clone()), extract: "llm".into(), ..Default::default() }
                } else {
                    field_of(v)
                }
            })
            .collect();
    }
    match action.text(&["target_variable", "extract_to"]) {
        Some(name) => {
            let instruction = action.text(&["extraction_prompt"]).unwrap_or_default();
            let extract = if instruction.is_empty() { "direct" } else { "llm" }.to_string();
            vec![Field { name: Some(name), instruction, extract, ..Default::default() }]
        }
        None => Vec::new(),
    }
}

/// Handles the user's turn for the waiting action.
fn answer(
    ctx: &Ctx,
    st: &mut EngineState,
    action: &Action,
    ids: &Ids,
    user: &str,
    out: &mut Vec<Output>,
) -> AppResult<()> {
    if action.kind != ActionKind::AiAsk {
        advance(st); // an acknowledged ai_say
        return Ok(());
    }
    let wanted = fields(action);
    let mut missing = 0;
    for f in &wanted {
        let Some(name) = &f.name else { continue };
        match extract(ctx, f, user)? {
            Some(v) => set(st, out, action, ids, name, v, &f.extract),
            None => missing += 1,
        }
    }
    let round = st.frames.last().map(|f| f.round).unwrap_or(1);
    if missing == 0 || round >= action.max_rounds(3) {
        advance(st); // moves on with the variable unset after max_rounds: never an error
        return Ok(());
    }
    st.frames.last_mut().expect("frame").round = round + 1;
    speak(ctx, st, action, ids, out)
}

/// A value for one field, or None when the user's text does not yield one.
fn extract(ctx: &Ctx, f: &Field, user: &str) -> AppResult<Option<Value>> {
    if let Some(v) = &f.value {
        return Ok(Some(v.clone()));
    }
    let text = user.trim();
    Ok(match f.extract.as_str() {
        "pattern" => f.pattern.as_deref().and_then(|p| regex::Regex::new(p).ok()).and_then(|re| {
            let c = re.captures(text)?;
            Some(Value::String(c.get(1).or_else(|| c.get(0))?.as_str().to_string()))
        }),
        "llm" => {
            let name = f.name.clone().unwrap_or_default();
            let got = ctx.model.extract(&f.instruction, text, std::slice::from_ref(&name))?;
            got.get(&name).filter(|v| !v.is_null() && v.as_str() != Some("")).cloned()
        }
        _ => (!text.is_empty()).then(|| Value::String(text.to_string())),
    })
}

/// Pushes a frame for the technique and maps `input` fields (`get` from the caller's scope,
/// `set` in the technique's topic scope; `set` defaults to `get`).
fn enter_skill(ctx: &Ctx, st: &mut EngineState, action: &Action, ids: &Ids) -> AppResult<()> {
    let name = action.text(&["skill"]).unwrap_or_default();
    let skill = (ctx.skills)(&name).ok_or_else(|| {
        AppError::new(
            422,
            "script_validation_error",
            "script",
            format!("use_skill: no technique script {name:?} in the project"),
        )
    })?;
    let topic_id = skill.phases.first().map(|p| p.id.clone()).unwrap_or_default();
    for f in mapping(action, "input") {
        if let Some(v) = st.vars.resolve(&f.0, &ids.0, &ids.1).cloned() {
            st.vars.set(Scope::Topic, &topic_id, &f.1, v);
        }
    }
    st.frames.push(Frame { skill: Some(name), ..Frame::default() });
    Ok(())
}

/// `(get, set)` pairs of a use_skill `input` or `output` list.
fn mapping(action: &Action, key: &str) -> Vec<(String, String)> {
    let list = action.get(&[key]).and_then(Value::as_array).cloned().unwrap_or_default();
    list.iter()
        .filter_map(|v| {
            let g = v.get("get").and_then(Value::as_str)?.to_string();
            let s = v.get("set").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| g.clone());
            Some((g, s))
        })
        .collect()
}

/// After a technique's last action: maps its `output` fields back (`get` in the technique's
/// scopes, `set` in the caller's session scope) and moves the caller past `use_skill`.
fn finish_skill(ctx: &Ctx, st: &mut EngineState, done: &Frame) -> AppResult<()> {
    let Some(parent) = st.frames.last().cloned() else { return Ok(()) };
    let script = script_of(ctx, &parent)?;
    let mut p = parent.clone();
    if let Some((action, _)) = locate(&script, &mut p) {
        let skill = done.skill.clone().and_then(|n| (ctx.skills)(&n));
        let topic_id = skill.and_then(|s| s.phases.first().map(|p| p.id.clone())).unwrap_or_default();
        for (get, set) in mapping(&action, "output") {
            if let Some(v) = st.vars.resolve(&get, &topic_id, &topic_id).cloned() {
                st.vars.set(Scope::Session, "", &set, v);
            }
        }
    }
    advance(st);
    Ok(())
}
