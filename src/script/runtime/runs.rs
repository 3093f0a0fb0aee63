//! The action runs of one turn (GAgent's chat_action_runs): every action the engine
//! performs, stamped when it starts and ends, with a summary of what it said and set or the
//! error that stopped it. A chat turn writes them in its own transaction.

use parking_lot::Mutex;
use serde_json::{json, Map, Value};

use super::engine::{Ids, Output, Step, Trace};
use super::model::Action;
use crate::error::AppError;

/// Longest `said` kept in a run's result, in characters.
const SAID_MAX: usize = 280;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunRecord {
    /// UUIDv7 taken when the action starts, so runs list in the order they ran.
    pub id: String,
    pub action_id: String,
    pub action_type: String,
    /// `{phase_id, topic_id}` of the action.
    pub context: Value,
    /// `completed` or `failed`.
    pub status: &'static str,
    /// `{said?, set?, waiting}` of a completed run.
    pub result: Option<Value>,
    /// `{code, message}` of a failed one.
    pub error: Option<Value>,
    pub started_at: String,
    pub finished_at: String,
}

/// Collects the runs of a turn; the engine's [`Trace`].
#[derive(Default)]
pub struct RunLog {
    /// Started, not yet ended (the innermost last).
    open: Mutex<Vec<RunRecord>>,
    done: Mutex<Vec<RunRecord>>,
}

impl RunLog {
    /// Starts a run that is not a script action (free chat is `chat`).
    pub fn begin_named(&self, action_id: &str, action_type: &str, context: Value) {
        let now = crate::clock::now();
        self.open.lock().push(RunRecord {
            id: uuid::Uuid::now_v7().to_string(),
            action_id: action_id.into(),
            action_type: action_type.into(),
            context,
            status: "running",
            result: None,
            error: None,
            started_at: now.clone(),
            finished_at: now,
        });
    }

    /// Ends the innermost open run.
    pub fn end_last(&self, outputs: &[Output], waiting: bool, error: Option<&AppError>) {
        let Some(mut run) = self.open.lock().pop() else { return };
        run.finished_at = crate::clock::now();
        match error {
            Some(e) => (run.status, run.error) = ("failed", Some(json!({"code": e.code, "message": e.message}))),
            None => (run.status, run.result) = ("completed", Some(summary(outputs, waiting))),
        }
        self.done.lock().push(run);
    }

    /// The runs in the order they started; a run left open (its action never returned) is
    /// failed with `error`.
    pub fn finish(&self, error: Option<&AppError>) -> Vec<RunRecord> {
        let fallback = AppError::internal("the action did not finish");
        while !self.open.lock().is_empty() {
            self.end_last(&[], false, Some(error.unwrap_or(&fallback)));
        }
        let mut runs = std::mem::take(&mut *self.done.lock());
        runs.sort_by(|a, b| a.id.cmp(&b.id));
        runs
    }
}

impl Trace for RunLog {
    fn begin(&self, action: &Action, ids: &Ids) {
        self.begin_named(&action.id, action.kind.name(), json!({"phase_id": ids.0, "topic_id": ids.1}));
    }

    fn end(&self, _action: &Action, step: Step<'_>) {
        self.end_last(step.outputs, step.waiting, step.error);
    }
}

/// What a completed action did: its words (cut to [`SAID_MAX`] characters), the variables
/// it set, and whether it now waits for the user.
fn summary(outputs: &[Output], waiting: bool) -> Value {
    let mut said = String::new();
    let mut set = Map::new();
    for o in outputs {
        match o {
            Output::Say { text, .. } => said.push_str(text),
            Output::Set { name, value, .. } => {
                set.insert(name.clone(), value.clone());
            }
        }
    }
    let mut r = json!({"waiting": waiting});
    if !said.is_empty() {
        r["said"] = json!(said.chars().take(SAID_MAX).collect::<String>());
    }
    if !set.is_empty() {
        r["set"] = Value::Object(set);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::runtime::{engine, model, vars::VarStore};

    struct Failing;

    impl engine::Model for Failing {
        fn say(&self, a: &Action, content: &str) -> crate::error::AppResult<String> {
            match a.id.as_str() {
                "boom" => Err(crate::llm::chat::llm_error("down")),
                _ => Ok(content.to_string()),
            }
        }
        fn extract(&self, _: &str, _: &str, _: &[String]) -> crate::error::AppResult<Map<String, Value>> {
            Ok(Map::new())
        }
        fn think(&self, _: &str, n: &[String]) -> crate::error::AppResult<Map<String, Value>> {
            Ok(n.iter().map(|n| (n.clone(), json!("x"))).collect())
        }
    }

    const SCRIPT: &str = r#"
session:
  phases:
    - phase_id: p
      topics:
        - topic_id: t
          actions:
            - {action_type: ai_think, action_id: mull, config: {content: "hm", output: [{get: idea}]}}
            - {action_type: ai_ask, action_id: q, config: {content: "Name?", output: [{get: name}]}}
            - {action_type: ai_say, action_id: boom, config: {content: "never"}}
"#;

    #[test]
    fn runs_follow_the_actions_in_order_and_a_failure_is_recorded() {
        let script = model::parse(SCRIPT, &crate::script::Limits::default()).unwrap();
        let (log, none) = (RunLog::default(), |_: &str| None);
        let ctx = engine::Ctx { script: &script, skills: &none, model: &Failing, trace: &log };
        let (st, _) = engine::start(&ctx, VarStore::default()).unwrap();
        let runs = log.finish(None);
        let ids: Vec<(&str, &str, &str)> =
            runs.iter().map(|r| (r.action_id.as_str(), r.action_type.as_str(), r.status)).collect();
        assert_eq!(ids, [("mull", "ai_think", "completed"), ("q", "ai_ask", "completed")]);
        assert_eq!(runs[0].result, Some(json!({"waiting": false, "set": {"idea": "x"}})));
        assert_eq!(runs[1].result, Some(json!({"waiting": true, "said": "Name?"})));
        assert_eq!(runs[1].context, json!({"phase_id": "p", "topic_id": "t"}));
        let e = engine::input(&ctx, st, "Ann").unwrap_err();
        let runs = log.finish(Some(&e));
        let got: Vec<(&str, &str)> = runs.iter().map(|r| (r.action_id.as_str(), r.status)).collect();
        assert_eq!(got, [("q", "completed"), ("boom", "failed")]);
        assert_eq!(runs[1].error, Some(json!({"code": "llm_service_error", "message": "down"})));
        assert!(runs.iter().all(|r| r.started_at <= r.finished_at));
    }
}
