//! Unit tests for the strict gate and the YAML reader; `fixtures` runs HeartRule's samples.

mod fixtures;

use serde_json::json;

use super::schema::{Shape, CONFIGS, OUTPUT_FIELD};
use super::validate::UNRECOGNISED;
use super::*;

/// A valid session whose single action is `action` (indented as a list item under `actions`).
fn session_with(action: &str) -> String {
    let head = "session:\n  session_id: s1\n  phases:\n    - phase_id: p1\n      topics:\n        - topic_id: t1\n          actions:\n";
    format!("{head}{action}")
}

const SAY: &str = "            - action_type: ai_say\n              action_id: a1\n              config:\n                content: hello\n";
const ACTION0: &str = "session.phases[0].topics[0].actions[0]";

fn check(yaml: &str) -> Report {
    validate(yaml, Some("t.yaml"), &Limits::default())
}

fn only_error(report: &Report) -> &Problem {
    assert_eq!(report.errors.len(), 1, "expected one error: {:#?}", report.errors);
    assert!(!report.valid);
    &report.errors[0]
}

#[test]
fn a_minimal_session_is_valid() {
    let report = check(&session_with(SAY));
    assert!(report.valid, "{report:#?}");
    assert_eq!(report.script_kind.as_deref(), Some("session"));
    assert!(report.warnings.is_empty());
}

#[test]
fn an_unknown_key_names_itself_and_the_allowed_keys() {
    let yaml = session_with(SAY).replace("        - topic_id: t1\n", "        - topic_id: t1\n          colour: red\n");
    let report = check(&yaml);
    let e = only_error(&report);
    assert_eq!(e.path, "session.phases[0].topics[0].colour");
    assert_eq!((e.line, e.column), (7, 11));
    assert_eq!(e.file.as_deref(), Some("t.yaml"));
    assert!(e.message.contains("unknown key `colour`") && e.message.contains("topic_id, topic_name"), "{}", e.message);
}

#[test]
fn a_value_of_the_wrong_type_is_an_error() {
    let report = check(&session_with(SAY).replace("content: hello", "content: [hello]"));
    let e = only_error(&report);
    assert_eq!(e.path, format!("{ACTION0}.config.content"));
    assert_eq!(e.message, "`content` must be a string, found a list");
    let report = check(&session_with(SAY).replace("session_id: s1", "session_id: 12"));
    assert_eq!(only_error(&report).message, "`session_id` must be a string, found an integer");
}

#[test]
fn session_id_must_match_its_pattern() {
    let report = check(&session_with(SAY).replace("session_id: s1", "session_id: bad-id"));
    let e = only_error(&report);
    assert_eq!((e.path.as_str(), e.line, e.column), ("session.session_id", 2, 15));
    assert!(e.message.contains("^[a-zA-Z0-9_]+$") && e.message.contains("`bad-id`"), "{}", e.message);
}

#[test]
fn max_rounds_must_be_between_1_and_10() {
    for (value, ok) in [("0", false), ("1", true), ("10", true), ("11", false), ("2.5", true), ("\"3\"", false)] {
        let report = check(
            &session_with(SAY).replace("content: hello", &format!("content: hi\n                max_rounds: {value}")),
        );
        assert_eq!(report.valid, ok, "max_rounds: {value}: {report:#?}");
    }
    let report = check(&session_with(SAY).replace("content: hello", "content: hi\n                max_rounds: 11"));
    assert_eq!(only_error(&report).message, "`max_rounds` must be between 1 and 10, found 11");
}

#[test]
fn a_deprecated_name_is_a_warning_with_its_replacement_and_line() {
    let report = check(&session_with(SAY).replace("content: hello", "content_template: hello"));
    let w = &report.warnings[0];
    assert_eq!(report.warnings.len(), 1);
    assert_eq!(w.path, format!("{ACTION0}.config.content_template"));
    assert_eq!((w.line, w.column), (11, 17));
    assert_eq!(w.replacement.as_deref(), Some("content"));
    // As in HeartRule, the old name does not stand in for the required one.
    let e = only_error(&report);
    assert_eq!(
        (e.path.as_str(), e.message.as_str()),
        (&*format!("{ACTION0}.config"), "missing required key `content` in ai_say config")
    );
}

#[test]
fn required_is_deprecated_with_no_replacement_and_camel_case_is_a_warning() {
    let ask = SAY
        .replace("ai_say", "ai_ask")
        .replace("content: hello", "content: hi\n                required: true\n                maxRounds: 3");
    let report = check(&session_with(&ask));
    assert!(report.valid, "{report:#?}");
    let replacements: Vec<_> = report.warnings.iter().map(|w| w.replacement.as_deref()).collect();
    assert_eq!(replacements, [None, Some("max_rounds")]);
    let report = check(&session_with(&ask.replace("maxRounds: 3", "maxRounds: 30")));
    assert!(only_error(&report).message.contains("between 1 and 10"));
}

#[test]
fn a_name_deprecated_for_another_action_type_is_an_unknown_key_with_a_hint() {
    let ask =
        SAY.replace("ai_say", "ai_ask").replace("content: hello", "content: hi\n                content_template: x");
    let report = check(&session_with(&ask));
    let e = only_error(&report);
    assert!(e.message.contains("unknown key `content_template` in ai_ask config"), "{}", e.message);
    assert!(e.message.contains("deprecated ai_say config key, which is `content` now"), "{}", e.message);
}

#[test]
fn a_yaml_syntax_error_has_its_line_and_column() {
    let report = check("session:\n  a: [1, 2\n  b: 3\n");
    let e = only_error(&report);
    assert_eq!((e.path.as_str(), e.line, e.column), ("", 3, 4));
    assert_eq!(report.script_kind, None);
    let err = parse_yaml("a: 1\n  b: 2\n", &Limits::default()).unwrap_err();
    assert_eq!((err.line, err.column), (2, 4));
}

#[test]
fn aliases_are_refused() {
    let report = check("a: &x [1, 2]\nb: *x\n");
    let e = only_error(&report);
    assert_eq!((e.message.as_str(), e.line, e.column), ("YAML aliases are not supported", 2, 4));
    let laughs = "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n";
    assert_eq!(parse_yaml(laughs, &Limits::default()).unwrap_err().message, "YAML aliases are not supported");
}

#[test]
fn nesting_deeper_than_the_limit_is_refused() {
    let limits = Limits::default();
    let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
    let err = parse_yaml(&deep, &limits).unwrap_err();
    assert_eq!((err.line, err.column), (1, 65));
    assert!(err.message.contains("deeper than 64"), "{}", err.message);
    let fits = format!("{}{}", "[".repeat(64), "]".repeat(64));
    assert!(parse_yaml(&fits, &limits).is_ok());
    let block: String = (0..65).map(|i| format!("{}a:\n", "  ".repeat(i))).collect();
    let e = &check(&block).errors[0];
    assert_eq!((e.line, e.message.as_str()), (65, "the document nests deeper than 64 levels"));
    // A limit-sized bomb of brackets is refused (the scanner has its own flow-level cap).
    let huge = "[".repeat(limits.max_yaml_bytes);
    assert!(!check(&huge).valid);
}

#[test]
fn a_document_over_the_size_limit_is_refused() {
    let limits = Limits { max_yaml_bytes: 100, ..Limits::default() };
    let report = validate(&session_with(SAY), None, &limits);
    let e = only_error(&report);
    assert_eq!((e.line, e.column, e.file.as_deref()), (1, 1, None));
    assert!(e.message.contains("the limit is 100 bytes"), "{}", e.message);
    assert!(parse_yaml(&session_with(SAY), &limits).is_err());
}

#[test]
fn more_actions_than_the_limit_are_refused() {
    let two = session_with(&format!("{SAY}{}", SAY.replace("a1", "a2")));
    let limits = Limits { max_script_actions: 1, ..Limits::default() };
    let report = validate(&two, None, &limits);
    let e = only_error(&report);
    assert_eq!((e.path.as_str(), e.line, e.column), ("session.phases[0].topics[0].actions[1]", 12, 15));
    assert_eq!(e.message, "the script has 2 actions; the limit is 1");
    assert!(validate(&two, None, &Limits { max_script_actions: 2, ..Limits::default() }).valid);
}

#[test]
fn more_than_one_document_is_refused() {
    let report = check("topic: {}\n---\ntopic: {}\n");
    assert_eq!(only_error(&report).line, 2);
    assert!(parse_yaml("--- 1\n...\n", &Limits::default()).is_ok());
}

#[test]
fn a_technique_script_is_a_topic() {
    let yaml = "name: x\ntopic:\n  topic_id: t\n  strategy: go\n  actions:\n    - action_type: use_skill\n      action_id: a\n      config:\n        skill: s\n        input: [{get: a}]\n        output: [{}]\n";
    let report = check(yaml);
    assert!(report.valid, "{report:#?}");
    assert_eq!(report.script_kind.as_deref(), Some("technique"));
    let report = check(&yaml.replace("topic_id: t", "topic_id: t\n  declare: []"));
    assert_eq!(only_error(&report).path, "topic.declare");
}

#[test]
fn an_unrecognised_top_level_key_is_an_error() {
    for yaml in ["sessions:\n  - session: x\n", "", "- 1\n", "just text"] {
        let report = check(yaml);
        let e = only_error(&report);
        assert_eq!((e.message.as_str(), e.path.as_str(), e.line), (UNRECOGNISED, "", 1), "{yaml:?}");
        assert_eq!(report.script_kind, None);
    }
}

#[test]
fn action_types_and_config_are_checked() {
    let report = check(&session_with(&SAY.replace("ai_say", "log_event")));
    assert!(only_error(&report)
        .message
        .contains("must be one of ai_say, ai_ask, ai_think, use_skill; found `log_event`"));
    let report = check(&session_with("            - action_type: ai_think\n              action_id: a1\n"));
    assert_eq!(only_error(&report).message, "missing required key `config` in action (every ai_think config has one)");
    let report = check(&session_with(&SAY.replace("action_id: a1", "action_id: a1\n              max_rounds: 2")));
    assert_eq!(only_error(&report).path, format!("{ACTION0}.max_rounds"));
}

fn ask_with_output(field: &str) -> String {
    let ask = SAY.replace("ai_say", "ai_ask");
    session_with(
        &ask.replace("content: hello", &format!("content: hi\n                output:\n                  - {field}")),
    )
}

#[test]
fn extensions_are_accepted() {
    let say = SAY.replace(
        "content: hello",
        "content: hi\n                require_acknowledgment: true\n                ai_role: coach",
    );
    assert!(check(&session_with(&say)).valid);
    for field in
        ["{get: a, extract: llm, instruction: x, variable: v}", r"{get: n, extract: pattern, pattern: '(\d+)'}"]
    {
        let report = check(&ask_with_output(field));
        assert!(report.valid && report.warnings.is_empty(), "{field}: {report:#?}");
    }
    let report = check(&ask_with_output("{get: a, extract: guess}"));
    assert!(only_error(&report).message.contains("one of direct, pattern, llm"));
}

#[test]
fn a_pattern_extraction_needs_a_valid_regex() {
    let report = check(&ask_with_output("{get: a, extract: pattern, pattern: '(unclosed'}"));
    let e = only_error(&report);
    assert_eq!((e.path.as_str(), e.line), (&*format!("{ACTION0}.config.output[0].pattern"), 13));
    assert!(e.message.starts_with("`pattern` is not a valid regular expression"), "{}", e.message);
    let report = check(&ask_with_output("{get: a, extract: pattern}"));
    assert_eq!(only_error(&report).path, format!("{ACTION0}.config.output[0].extract"));
}

#[test]
fn lengths_and_min_items_are_checked() {
    let report = check(
        &session_with(SAY)
            .replace("topic_id: t1", &format!("topic_id: t1\n          topic_name: {}", "名".repeat(201))),
    );
    assert_eq!(only_error(&report).message, "`topic_name` is 201 characters long; the limit is 200");
    assert!(
        check(
            &session_with(SAY)
                .replace("topic_id: t1", &format!("topic_id: t1\n          topic_name: {}", "名".repeat(200)))
        )
        .valid
    );
    let report = check("session:\n  session_id: s\n  phases: []\n");
    assert_eq!(only_error(&report).message, "`phases` needs at least 1 item");
    let report = check(&session_with(SAY).replace("content: hello", "content: ''"));
    assert_eq!(only_error(&report).message, "`content` must not be empty");
}

#[test]
fn parse_yaml_types_scalars_by_the_core_schema() {
    let yaml = "n: ~\ne:\nb: true\nB: False\ni: -12\nh: 0x1F\no: 0o17\nf: 1.5e3\ninf: .inf\ns: yes\nq: '1'\nt: !!str 2\nk: [1, {x: null}]\n1: one\n";
    let value = parse_yaml(yaml, &Limits::default()).unwrap();
    let expected = json!({"n": null, "e": null, "b": true, "B": false, "i": -12, "h": 31, "o": 15, "f": 1500.0,
        "inf": ".inf", "s": "yes", "q": "1", "t": "2", "k": [1, {"x": null}], "1": "one"});
    assert_eq!(value, expected);
    assert_eq!(parse_yaml("", &Limits::default()).unwrap(), serde_json::Value::Null);
    assert_eq!(parse_yaml("\u{feff}a: 1", &Limits::default()).unwrap(), json!({"a": 1}));
}

#[test]
fn duplicate_and_complex_keys_do_not_parse() {
    let err = parse_yaml("a: 1\nb: 2\na: 3\n", &Limits::default()).unwrap_err();
    assert_eq!((err.line, err.column, err.message.as_str()), (3, 1, "duplicate key `a`"));
    let err = parse_yaml("? [a]\n: 1\n", &Limits::default()).unwrap_err();
    assert!(err.message.starts_with("mapping keys must be strings"));
}

/// Every extension field is listed in EXTENSIONS under its shape, and every listing is a field.
#[test]
fn the_extensions_table_matches_the_shapes() {
    let shapes: Vec<&'static Shape> = CONFIGS.iter().copied().chain([&OUTPUT_FIELD]).collect();
    let mut fields: Vec<(&str, String)> = Vec::new();
    for shape in shapes {
        for field in shape.fields.iter().filter(|f| f.extension) {
            fields.push((shape.name, format!("`{}`", field.name)));
        }
    }
    let mut listed: Vec<(&str, String)> =
        EXTENSIONS.iter().map(|(at, what)| (*at, what.split(':').next().unwrap_or_default().to_string())).collect();
    fields.sort();
    listed.sort();
    assert_eq!(fields, listed);
}

#[test]
fn a_problem_serialises_without_an_absent_replacement() {
    let report = check(&session_with(SAY).replace("content: hello", "content_template: hello"));
    let value = serde_json::to_value(&report).unwrap();
    assert_eq!(value["warnings"][0]["replacement"], "content");
    assert!(value["errors"][0].get("replacement").is_none());
    assert_eq!(serde_json::from_value::<Report>(value).unwrap(), report);
}

#[test]
fn the_report_is_cut_at_a_thousand_problems() {
    let keys: String = (0..1500).map(|i| format!("  k{i}: 1\n")).collect();
    let report = check(&format!("topic:\n{keys}"));
    assert_eq!(report.errors.len(), 1001);
    // 1,500 unknown keys plus the missing `topic_id` and `actions`.
    assert_eq!(report.errors[1000].message, "502 more errors not shown");
}
