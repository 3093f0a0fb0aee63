//! Unit tests of the pure parts: validation, client ids, the merge rule and the overlay.

use serde_json::{json, Value};

use super::messages::{merge_parts, message_id, plain_text, validate};
use super::model::Session;
use super::summary::{apply, Delta};
use crate::config::LimitsConfig;

fn tool(state: &str, extra: Value) -> Value {
    let mut p = json!({"type": "tool-weather", "toolCallId": "c1", "state": state});
    p.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    p
}

#[test]
fn tool_parts_merge_in_place_and_tails_are_not_repeated() {
    let mut stored = vec![json!({"type": "step-start"}), tool("input-available", json!({"input": {"c": 1}}))];
    let incoming = [tool("output-available", json!({"output": 3})), json!({"type": "text", "text": "t"})];
    merge_parts(&mut stored, &incoming);
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[1], tool("output-available", json!({"input": {"c": 1}, "output": 3})));
    let snapshot = stored.clone();
    merge_parts(&mut stored, &incoming);
    assert_eq!(stored, snapshot, "re-sending is a no-op");
    merge_parts(&mut stored, &[json!({"type": "text", "text": "other"})]);
    assert_eq!(stored.len(), 4, "other parts are appended");
    merge_parts(&mut stored, &[json!({"type": "dynamic-tool", "toolCallId": "c2"})]);
    assert_eq!(stored.len(), 5, "a new tool call is appended");
}

#[test]
fn client_ids_follow_the_rule() {
    assert_eq!(message_id(Some("abc_DEF-9")), "abc_DEF-9");
    for bad in ["", "a b", "é", "a/b", &"x".repeat(129)] {
        assert_ne!(message_id(Some(bad)), bad);
    }
    assert_eq!(message_id(Some(&"x".repeat(128))).len(), 128);
}

#[test]
fn validation_names_the_field() {
    let limits = LimitsConfig::default();
    let field = |v: Value| validate(v, 10, &limits).unwrap_err().details["field"].clone();
    assert_eq!(field(json!({"role": "user", "parts": {}})), "parts");
    assert_eq!(field(json!({"role": "user", "parts": [1]})), "parts[0]");
    assert_eq!(field(json!({"role": "bot", "parts": []})), "role");
    assert_eq!(validate(json!({}), usize::MAX, &limits).unwrap_err().status, 413);
    let ok = validate(json!({"role": "tool", "parts": [{"type": "x-unknown"}]}), 10, &limits).unwrap();
    assert_eq!(ok.parts, vec![json!({"type": "x-unknown"})]);
}

#[test]
fn plain_text_takes_text_and_reasoning_only() {
    let parts = [
        json!({"type": "text", "text": "a"}),
        json!({"type": "reasoning", "text": "b"}),
        json!({"type": "tool-x", "text": "no"}),
    ];
    assert_eq!(plain_text(&parts), "a\nb");
}

#[test]
fn the_overlay_is_idempotent_and_counts_new_seqs_only() {
    let mut s: Session = serde_json::from_value(json!({
        "id": "x", "project_id": null, "user_id": null, "name": null, "name_source": "auto", "status": "active",
        "execution_status": "waiting_input", "message_count": 3, "last_message_at": null, "summary_seq": 3,
        "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z",
        "current_task_id": null, "metadata": {}, "health": "ok"}))
    .unwrap();
    let d = Delta {
        max_seq: 5,
        last_message_at: Some("2026-01-02T00:00:00.000Z".into()),
        title: Some("T".into()),
        execution_status: None,
    };
    apply(&mut s, &d);
    apply(&mut s, &d);
    assert_eq!((s.message_count, s.summary_seq, s.name.as_deref()), (5, 5, Some("T")));
    assert_eq!(s.updated_at, "2026-01-02T00:00:00.000Z");
}
