//! From engine outputs to what a chat turn stores and answers: the assistant message's AI
//! SDK parts, the variable changes, and the position a client sees.

use serde_json::{json, Value};

use super::engine::{EngineState, Output};
use super::model::Script;

/// The assistant message of a turn: one text part per action that spoke, a `step-start`
/// between them, so one stream (one `start`) carries the whole turn.
pub fn assistant_parts(outputs: &[Output]) -> Vec<Value> {
    let mut parts = Vec::new();
    for o in outputs {
        if let Output::Say { text, action_id } = o {
            if !parts.is_empty() {
                parts.push(json!({"type": "step-start"}));
            }
            parts
                .push(json!({"type": "text", "text": text, "providerMetadata": {"planbase": {"actionId": action_id}}}));
        }
    }
    parts
}

/// The plain text of a turn's assistant message (for search and summaries).
pub fn assistant_text(outputs: &[Output]) -> String {
    let says: Vec<&str> = outputs
        .iter()
        .filter_map(|o| if let Output::Say { text, .. } = o { Some(text.as_str()) } else { None })
        .collect();
    says.join("\n\n")
}

/// DESIGN.md §4's position object for the session script's frame (a nested skill shows as
/// `skill`). A finished script has no frame left: only `completed` remains to say.
pub fn position(script: &Script, st: &EngineState) -> Value {
    let Some(f) = st.frames.first() else { return json!({"completed": st.completed}) };
    let phase = script.phases.get(f.phase);
    let topic = phase.and_then(|p| p.topics.get(f.topic));
    let action = topic.and_then(|t| t.actions.get(f.action));
    json!({
        "phaseIndex": f.phase,
        "topicIndex": f.topic,
        "actionIndex": f.action,
        "phaseId": phase.map(|p| p.id.clone()),
        "topicId": topic.map(|t| t.id.clone()),
        "actionId": action.map(|a| a.id.clone()),
        "actionType": action.map(|a| a.kind.name()),
        "currentRound": st.frames.last().map(|f| f.round).unwrap_or(0),
        "maxRounds": action.map(|a| a.max_rounds(3)),
        "skill": st.frames.last().and_then(|f| f.skill.clone()),
        "completed": st.completed,
    })
}

/// The position as clients see it: the engine's internals (`position.engine`, the frame
/// stack and variables the next turn resumes from) stay in the shard.
pub fn client_position(p: &Value) -> Value {
    let mut p = p.clone();
    if let Some(o) = p.as_object_mut() {
        o.remove("engine");
    }
    p
}

/// `completed` once the script is done, else `waiting_input` (a step always ends waiting).
pub fn execution_status(st: &EngineState) -> &'static str {
    if st.completed {
        "completed"
    } else {
        "waiting_input"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_have_a_step_start_between_speakers() {
        let out = vec![
            Output::Say { action_id: "a".into(), text: "one".into() },
            Output::Set {
                action_id: "b".into(),
                name: "x".into(),
                value: json!(1),
                scope: super::super::vars::Scope::Session,
                source: "direct".into(),
            },
            Output::Say { action_id: "c".into(), text: "two".into() },
        ];
        let parts = assistant_parts(&out);
        let types: Vec<&str> = parts.iter().map(|p| p["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["text", "step-start", "text"]);
        assert_eq!(assistant_text(&out), "one\n\ntwo");
    }

    #[test]
    fn clients_never_see_the_engine_state() {
        let p = json!({"phaseId": "p", "actionId": "a", "engine": {"frames": [], "completed": false}});
        assert_eq!(client_position(&p), json!({"phaseId": "p", "actionId": "a"}));
        assert_eq!(client_position(&json!({})), json!({}));
    }
}
