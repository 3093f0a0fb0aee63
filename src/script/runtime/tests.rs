//! Executor tests with a deterministic fake model; every HeartRule fixture whose action
//! types exist is run to completion.

use serde_json::{json, Map, Value};

use super::engine::{self, Ctx, EngineState, Model, Output};
use super::model::{self, Action, Script};
use super::vars::VarStore;
use crate::error::AppResult;
use crate::script::Limits;

struct Fake;

impl Model for Fake {
    fn say(&self, _: &Action, content: &str) -> AppResult<String> {
        Ok(format!("[say] {content}"))
    }
    fn extract(&self, _: &str, user: &str, names: &[String]) -> AppResult<Map<String, Value>> {
        Ok(names.iter().filter(|_| !user.contains("dunno")).map(|n| (n.clone(), json!(user))).collect())
    }
    fn think(&self, _: &str, names: &[String]) -> AppResult<Map<String, Value>> {
        Ok(names.iter().map(|n| (n.clone(), json!(format!("thought about {n}")))).collect())
    }
}

fn parse(y: &str) -> Script {
    model::parse(y, &Limits::default()).unwrap()
}

fn says(out: &[Output]) -> Vec<String> {
    out.iter().filter_map(|o| if let Output::Say { text, .. } = o { Some(text.clone()) } else { None }).collect()
}

fn ctx<'a>(script: &'a Script, skills: &'a dyn Fn(&str) -> Option<Script>) -> Ctx<'a> {
    Ctx { script, skills, model: &Fake, trace: &() }
}

const ASK: &str = r#"
session:
  session_id: s
  phases:
    - phase_id: p
      topics:
        - topic_id: t
          actions:
            - action_type: ai_say
              action_id: hi
              config: {content: "Hello ${name}"}
            - action_type: ai_ask
              action_id: age
              config:
                content: "How old are you?"
                max_rounds: 2
                output: [{get: age, extract: pattern, pattern: '(\d+)'}]
            - action_type: ai_say
              action_id: bye
              condition: "{age}"
              config: {content: "You are {age}"}
"#;

#[test]
fn start_runs_until_input_and_ask_extracts_by_pattern() {
    let s = parse(ASK);
    let none = |_: &str| None;
    let mut vars = VarStore::default();
    vars.global.insert("name".into(), json!("Ann"));
    let (st, out) = engine::start(&ctx(&s, &none), vars).unwrap();
    assert_eq!(says(&out), ["[say] Hello Ann", "[say] How old are you?"]);
    let (st, out) = engine::input(&ctx(&s, &none), st, "I am 42").unwrap();
    assert!(st.completed);
    assert_eq!(says(&out), ["[say] You are 42"]);
    assert_eq!(st.vars.session["age"], json!("42"));
}

#[test]
fn ask_retries_then_moves_on_unset() {
    let s = parse(ASK);
    let none = |_: &str| None;
    let (st, _) = engine::start(&ctx(&s, &none), VarStore::default()).unwrap();
    let (st, out) = engine::input(&ctx(&s, &none), st, "no idea").unwrap();
    assert_eq!(says(&out), ["[say] How old are you?"], "asked again");
    assert!(!st.completed);
    let (st, out) = engine::input(&ctx(&s, &none), st, "still no").unwrap();
    assert!(st.completed, "max_rounds reached: moves on, never an error");
    assert!(says(&out).is_empty(), "the condition on the unset variable skipped the last say");
    assert!(!st.vars.session.contains_key("age"));
}

#[test]
fn acknowledgment_waits_and_unknown_types_are_refused() {
    let y = ASK.replace("config: {content: \"Hello ${name}\"}", "config: {content: hi, require_acknowledgment: true}");
    let s = parse(&y);
    let none = |_: &str| None;
    let (st, out) = engine::start(&ctx(&s, &none), VarStore::default()).unwrap();
    assert_eq!(says(&out), ["[say] hi"]);
    let (_, out) = engine::input(&ctx(&s, &none), st, "ok").unwrap();
    assert_eq!(says(&out), ["[say] How old are you?"]);
    let e = model::parse(
        &ASK.replace("ai_say\n              action_id: hi", "log_event\n              action_id: hi"),
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!((e.status, e.code), (422, "script_validation_error"));
    assert!(e.message.contains("log_event"));
    assert_eq!(model::parse("a: 1", &Limits::default()).unwrap_err().code, "script_validation_error");
    assert_eq!(model::parse("a: [1", &Limits::default()).unwrap_err().code, "script_parse_error");
}

#[test]
fn use_skill_runs_a_technique_with_input_and_output_mapping() {
    let main = parse(
        r#"
session:
  session_id: s
  phases:
    - phase_id: p
      topics:
        - topic_id: t
          actions:
            - action_type: use_skill
              action_id: sk
              config:
                skill: reflect
                input: [{get: feeling, set: f}]
                output: [{get: insight, set: result}]
            - action_type: ai_say
              action_id: done
              config: {content: "Result: {result}"}
"#,
    );
    let technique = r#"
topic:
  topic_id: reflect
  actions:
    - action_type: ai_ask
      action_id: q
      config: {content: "Why do you feel {f}?", output: [{get: insight}]}
"#;
    let skills = move |n: &str| (n == "reflect").then(|| parse(technique));
    let mut vars = VarStore::default();
    vars.session.insert("feeling".into(), json!("tired"));
    let (st, out) = engine::start(&ctx(&main, &skills), vars).unwrap();
    assert_eq!(says(&out), ["[say] Why do you feel tired?"]);
    assert_eq!(st.frames.len(), 2);
    let (st, out) = engine::input(&ctx(&main, &skills), st, "work").unwrap();
    assert_eq!(says(&out), ["[say] Result: work"]);
    assert!(st.completed);
}

fn fixtures() -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/heartrule")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("../shared beside the repo") {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                out.push(p);
            }
        }
    }
    out
}

/// Every fixture either runs to completion on made-up answers or is refused with 422 for
/// the reasons NOTES.md gives (no session.phases, unknown action types).
#[test]
fn every_runnable_fixture_runs_to_completion() {
    let (mut ran, mut refused) = (0, 0);
    let techniques: Vec<Script> = fixtures()
        .iter()
        .filter_map(|p| model::parse(&std::fs::read_to_string(p).unwrap(), &Limits::default()).ok())
        .filter(|s| s.technique)
        .collect();
    let skills = move |n: &str| techniques.iter().find(|s| s.id == n).cloned();
    for path in fixtures() {
        let yaml = std::fs::read_to_string(&path).unwrap();
        let script = match model::parse(&yaml, &Limits::default()) {
            Ok(s) => s,
            Err(e) => {
                assert_eq!(e.status, 422, "{}: {e}", path.display());
                refused += 1;
                continue;
            }
        };
        let c = ctx(&script, &skills);
        let (mut st, out): (EngineState, _) = engine::start(&c, VarStore::default()).unwrap();
        assert!(!says(&out).is_empty() || st.completed, "{} said nothing", path.display());
        for turn in 0..200 {
            if st.completed {
                break;
            }
            st = engine::input(&c, st, &format!("answer {turn}: 25 years, feeling ok")).unwrap().0;
        }
        assert!(st.completed, "{} did not complete", path.display());
        ran += 1;
    }
    assert!(ran >= 10 && refused >= 4, "ran {ran}, refused {refused}");
}

#[test]
fn llm_extraction_uses_the_model_and_a_failed_one_is_not_an_error() {
    let s = parse(
        r#"
session:
  session_id: s
  phases:
    - phase_id: p
      topics:
        - topic_id: t
          actions:
            - action_type: ai_ask
              action_id: q
              config:
                content: "Where do you live?"
                max_rounds: 1
                output: [{get: city, define: "the user's city"}]
"#,
    );
    let none = |_: &str| None;
    let (st, _) = engine::start(&ctx(&s, &none), VarStore::default()).unwrap();
    let (st2, _) = engine::input(&ctx(&s, &none), st.clone(), "Lyon").unwrap();
    assert_eq!(st2.vars.session["city"], json!("Lyon"));
    let (st3, _) = engine::input(&ctx(&s, &none), st, "dunno").unwrap();
    assert!(st3.completed && !st3.vars.session.contains_key("city"), "the fake model found nothing: moved on unset");
}

#[test]
fn parse_cached_returns_the_same_script() {
    let a = model::parse_cached(ASK, &Limits::default()).unwrap();
    let b = model::parse_cached(ASK, &Limits::default()).unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b));
}
