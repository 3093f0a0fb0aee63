//! HeartRule's own samples, read from ../shared at test time only (never at run time).

use std::path::{Path, PathBuf};

use super::super::*;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/heartrule");

/// HeartRule refuses this one only for `ai_say.require_acknowledgment` (NOTES.md §6), which
/// is a Planbase extension, so Planbase's gate accepts it without a word.
const VALID_BY_EXTENSION: &str = "scripts/sessions/new_session_template.yaml";

/// The three originals that pass HeartRule's schema (fixtures NOTES.md §6).
const SCHEMA_VALID: &[&str] = &[
    "project-templates/scripts/examples/hello-world.yaml",
    "project-templates/scripts/examples/cbt-assessment-demo.yaml",
    "scripts/sessions/story-2.1-verification-test.yaml",
];

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).expect("fixture dir").map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
}

/// (path relative to the fixture root, content) of every *.yaml fixture.
fn fixtures() -> Vec<(String, String)> {
    let mut paths = Vec::new();
    yaml_files(Path::new(ROOT), &mut paths);
    let relative = |p: &PathBuf| p.strip_prefix(ROOT).unwrap().to_string_lossy().into_owned();
    paths.iter().map(|p| (relative(p), std::fs::read_to_string(p).unwrap())).collect()
}

fn report_of(name: &str) -> Report {
    let text = std::fs::read_to_string(Path::new(ROOT).join(name)).unwrap();
    validate(&text, Some(name), &Limits::default())
}

#[test]
fn the_schema_valid_originals_pass_and_every_other_fixture_is_flagged() {
    let all = fixtures();
    assert!(all.len() >= 18, "found only {} fixtures", all.len());
    for (name, text) in &all {
        let report = validate(text, Some(name), &Limits::default());
        eprintln!("{name}: {} errors, {} warnings", report.errors.len(), report.warnings.len());
        for problem in report.errors.iter().chain(&report.warnings) {
            assert!(problem.line >= 1 && problem.column >= 1, "{name}: {problem:?}");
            assert_eq!(problem.file.as_deref(), Some(name.as_str()));
        }
        if SCHEMA_VALID.contains(&name.as_str()) || name == VALID_BY_EXTENSION {
            assert!(report.valid && report.errors.is_empty(), "{name}: {:#?}", report.errors);
        } else {
            assert!(!report.errors.is_empty() || !report.warnings.is_empty(), "{name} was not flagged");
        }
    }
}

/// Proof that the extension is the only thing HeartRule objected to in that file: with the
/// key removed, the text passes the same gate, and with a key outside the extensions it fails.
#[test]
fn new_session_template_differs_from_heartrule_only_by_an_extension() {
    let text = std::fs::read_to_string(Path::new(ROOT).join(VALID_BY_EXTENSION)).unwrap();
    assert!(text.contains("require_acknowledgment: true"));
    let without = text.replace("                require_acknowledgment: true\n", "");
    assert!(validate(&without, None, &Limits::default()).valid);
    let foreign = text.replace("require_acknowledgment: true", "say_goal: greet");
    let report = validate(&foreign, None, &Limits::default());
    assert_eq!((report.errors.len(), report.errors[0].line), (1, 19));
}

#[test]
fn script_kinds_follow_the_top_level_key() {
    assert_eq!(report_of("scripts/techniques/socratic_questioning.yaml").script_kind.as_deref(), Some("technique"));
    assert_eq!(report_of("scripts/sessions/test_llm_debug.yaml").script_kind.as_deref(), Some("session"));
    for name in [
        "scripts/sessions/test_ai_say_basic.yaml",
        "scripts/consciousness/emotion-detection.yaml",
        "project-templates/global.yaml",
    ] {
        let report = report_of(name);
        assert_eq!(report.script_kind, None, "{name}");
        assert_eq!(report.errors[0].message, super::UNRECOGNISED);
    }
}

/// Lines and columns checked by hand against test_deprecated_fields.yaml.
#[test]
fn test_deprecated_fields_is_flagged_at_the_right_lines() {
    let report = report_of("scripts/sessions/test_deprecated_fields.yaml");
    let at = |a: usize, key: &str| format!("session.phases[0].topics[0].actions[{a}].config.{key}");
    let warnings: Vec<(String, usize, usize, Option<&str>)> =
        report.warnings.iter().map(|w| (w.path.clone(), w.line, w.column, w.replacement.as_deref())).collect();
    let expected = vec![
        (at(0, "content_template"), 26, 17, Some("content")),
        (at(1, "question_template"), 33, 17, Some("content")),
        (at(1, "target_variable"), 35, 17, Some("output")),
        (at(1, "extraction_prompt"), 36, 17, Some("output[].define")),
        (at(1, "required"), 37, 17, None),
    ];
    assert_eq!(warnings, expected);
    let errors: Vec<(String, usize)> = report.errors.iter().map(|e| (e.path.clone(), e.line)).collect();
    let config = |a: usize| format!("session.phases[0].topics[0].actions[{a}].config");
    // Missing `content` is reported at the config's first key; ai_ask has no `content_template`.
    assert_eq!(errors, vec![(config(0), 26), (at(1, "content_template"), 32), (config(1), 32)]);
}

#[test]
fn temp_script_declare_is_an_unknown_topic_key() {
    let report = report_of("packages/api-server/temp-script.yaml");
    let declare = report.errors.iter().find(|e| e.path == "session.phases[0].topics[0].declare").expect("declare");
    assert_eq!((declare.line, declare.column), (10, 11));
}

/// Truncated fixtures exercise the reader's error paths; none may panic or lose its position.
#[test]
fn truncated_fixtures_never_panic() {
    for (name, text) in fixtures() {
        let cuts = text.char_indices().map(|(i, _)| i).filter(|i| i % 11 == 0 || text[..*i].ends_with('\n'));
        for cut in cuts {
            let report = validate(&text[..cut], Some(&name), &Limits::default());
            for problem in report.errors.iter().chain(&report.warnings) {
                assert!(problem.line >= 1 && problem.column >= 1, "{name}[..{cut}]: {problem:?}");
            }
        }
    }
}
