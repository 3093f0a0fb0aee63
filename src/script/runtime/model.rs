//! The lenient runtime gate: a script as the engine runs it.
//!
//! Like HeartRule's executor, it ignores unknown keys, merges action-level keys with
//! `config` (config wins), reads deprecated names and camelCase forms, and refuses only YAML
//! that does not parse, a session script without `session.phases`, or an unknown action type
//! (422 `script_validation_error`, naming it).

use serde_json::{json, Map, Value};

use crate::error::{AppError, AppResult};
use crate::script::Limits;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    AiSay,
    AiAsk,
    AiThink,
    UseSkill,
}

impl ActionKind {
    /// The name scripts use (`ai_say`, …).
    pub fn name(self) -> &'static str {
        match self {
            ActionKind::AiSay => "ai_say",
            ActionKind::AiAsk => "ai_ask",
            ActionKind::AiThink => "ai_think",
            ActionKind::UseSkill => "use_skill",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Action {
    pub id: String,
    pub kind: ActionKind,
    pub condition: Option<String>,
    /// Action-level keys merged with `config` (config wins).
    pub config: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub struct Topic {
    pub id: String,
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone)]
pub struct Phase {
    pub id: String,
    pub topics: Vec<Topic>,
}

/// A session script, or a technique script (one phase, one topic) that `use_skill` runs.
#[derive(Debug, Clone)]
pub struct Script {
    pub id: String,
    pub technique: bool,
    pub phases: Vec<Phase>,
}

fn invalid(msg: String) -> AppError {
    AppError::new(422, "script_validation_error", "script", msg)
}

/// Parses a script leniently. YAML errors are 400 `script_parse_error` with the position.
pub fn parse(yaml: &str, limits: &Limits) -> AppResult<Script> {
    let doc = crate::script::parse_yaml(yaml, limits).map_err(|e| {
        AppError::new(
            400,
            "script_parse_error",
            "script",
            format!("line {}, column {}: {}", e.line, e.column, e.message),
        )
        .with_details(json!({"line": e.line, "column": e.column}))
    })?;
    if let Some(session) = doc.get("session").filter(|s| s.is_object()) {
        let phases = session
            .get("phases")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("the script has no session.phases".into()))?;
        let phases = phases.iter().enumerate().map(|(i, p)| phase(p, i)).collect::<AppResult<_>>()?;
        return Ok(Script {
            id: text(session, "session_id").unwrap_or_else(|| "session".into()),
            technique: false,
            phases,
        });
    }
    if let Some(t) = doc.get("topic").filter(|t| t.is_object()) {
        let topic = topic(t, 0)?;
        let id = topic.id.clone();
        return Ok(Script { id: id.clone(), technique: true, phases: vec![Phase { id, topics: vec![topic] }] });
    }
    Err(invalid("the script has no session.phases (and no top-level `topic`)".into()))
}

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

fn phase(v: &Value, i: usize) -> AppResult<Phase> {
    let topics = list(v, "topics").iter().enumerate().map(|(j, t)| topic(t, j)).collect::<AppResult<_>>()?;
    Ok(Phase { id: text(v, "phase_id").unwrap_or_else(|| format!("phase_{i}")), topics })
}

fn topic(v: &Value, i: usize) -> AppResult<Topic> {
    let actions = list(v, "actions").iter().enumerate().map(|(j, a)| action(a, j)).collect::<AppResult<_>>()?;
    Ok(Topic { id: text(v, "topic_id").unwrap_or_else(|| format!("topic_{i}")), actions })
}

fn action(v: &Value, i: usize) -> AppResult<Action> {
    let raw = text(v, "action_type").or_else(|| text(v, "actionType")).unwrap_or_default();
    let kind = match raw.as_str() {
        "ai_say" => ActionKind::AiSay,
        "ai_ask" => ActionKind::AiAsk,
        "ai_think" => ActionKind::AiThink,
        "use_skill" => ActionKind::UseSkill,
        other => {
            return Err(invalid(format!("unknown action type {other:?} (known: ai_say, ai_ask, ai_think, use_skill)")))
        }
    };
    let mut config = v.as_object().cloned().unwrap_or_default();
    if let Some(Value::Object(c)) = config.remove("config") {
        config.extend(c);
    }
    let id = text(v, "action_id").or_else(|| text(v, "actionId")).unwrap_or_else(|| format!("action_{i}"));
    let condition = text(v, "condition").filter(|c| !c.trim().is_empty());
    Ok(Action { id, kind, condition, config })
}

fn camel(key: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for ch in key.chars() {
        if ch == '_' {
            up = true;
        } else if up {
            out.extend(ch.to_uppercase());
            up = false;
        } else {
            out.push(ch);
        }
    }
    out
}

impl Action {
    /// The first of `keys` present (each also tried in camelCase), as HeartRule's getConfig.
    pub fn get(&self, keys: &[&str]) -> Option<&Value> {
        keys.iter().find_map(|k| self.config.get(*k).or_else(|| self.config.get(&camel(k)))).filter(|v| !v.is_null())
    }

    pub fn text(&self, keys: &[&str]) -> Option<String> {
        match self.get(keys)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// What the action says: `content`, else the deprecated names the runtime still reads.
    pub fn content(&self) -> String {
        self.text(&["content", "content_template", "question_template", "prompt_template", "think_goal", "say_goal"])
            .unwrap_or_default()
    }

    pub fn max_rounds(&self, default: u32) -> u32 {
        self.get(&["max_rounds"]).and_then(Value::as_u64).map(|n| n.clamp(1, 10) as u32).unwrap_or(default)
    }

    pub fn flag(&self, key: &str) -> Option<bool> {
        self.get(&[key]).and_then(Value::as_bool)
    }
}

/// [`parse`], memoised by the SHA-256 of the YAML: a session's script is parsed once, not on
/// every turn. The cache holds at most 256 scripts and is emptied when full (cheap, and a
/// working set that large is rare).
pub fn parse_cached(yaml: &str, limits: &Limits) -> AppResult<std::sync::Arc<Script>> {
    use sha2::{Digest, Sha256};
    type Cache = parking_lot::Mutex<std::collections::HashMap<[u8; 32], std::sync::Arc<Script>>>;
    static CACHE: std::sync::OnceLock<Cache> = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key: [u8; 32] = Sha256::digest(yaml.as_bytes()).into();
    if let Some(s) = cache.lock().get(&key) {
        return Ok(s.clone());
    }
    let script = std::sync::Arc::new(parse(yaml, limits)?);
    let mut c = cache.lock();
    if c.len() >= 256 {
        c.clear();
    }
    c.insert(key, script.clone());
    Ok(script)
}
