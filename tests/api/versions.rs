//! Drafts, validation, versions, diff and rollback over HTTP, and script validation of every
//! HeartRule fixture (read from ../shared, never copied).

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_error_shape, TestApp};
use crate::projects::{create_project, post, send};

pub const VALID: &str = "session:\n  session_id: s1\n  phases:\n    - phase_id: p1\n      topics:\n        - topic_id: t1\n          actions:\n            - action_type: ai_say\n              action_id: a1\n              config:\n                content: hello\n";

fn set(yaml: &str) -> Value {
    json!({"files": [{"file_type": "session", "file_name": "main.yaml", "yaml_content": yaml},
                     {"file_type": "global", "file_name": "global.yaml", "yaml_content": "variables: []\n"}]})
}

#[tokio::test]
async fn publish_versions_diff_and_rollback() {
    let app = TestApp::spawn().await;
    let id = create_project(&app, "v").await["id"].as_str().unwrap().to_string();
    let base = format!("/api/v1/projects/{id}");
    let (s, d) = send(&app, Method::PUT, &format!("{base}/draft"), Some(set(VALID))).await;
    assert_eq!((s, d["validation_status"].as_str()), (200, Some("unknown")), "{d}");
    let (s, v) = post(&app, &format!("{base}/draft/validate"), json!({})).await;
    assert_eq!((s, v["valid"].as_bool()), (200, Some(true)), "{v}");
    let (s, v1) = post(&app, &format!("{base}/versions"), json!({"release_note": "first"})).await;
    assert_eq!((s, v1["version_number"].as_str()), (201, Some("1.0.0")), "{v1}");
    let (_, p) = app.get(&base).await;
    assert_eq!((p["status"].as_str(), p["current_version_id"].clone()), (Some("published"), v1["id"].clone()));
    let changed = VALID.replace("hello", "hello again");
    send(&app, Method::PUT, &format!("{base}/draft"), Some(set(&changed))).await;
    let (s, v2) = post(&app, &format!("{base}/versions"), json!({})).await;
    assert_eq!((s, v2["version_number"].as_str()), (201, Some("1.0.1")));
    let (s, diff) =
        app.get(&format!("{base}/versions/{}/diff/{}", v1["id"].as_str().unwrap(), v2["id"].as_str().unwrap())).await;
    assert_eq!(s, 200);
    assert_eq!((diff["changed"].as_array().unwrap().len(), diff["unchanged"].as_u64()), (1, Some(1)));
    assert!(diff["changed"][0]["diff"].as_str().unwrap().contains("+                content: hello again"), "{diff}");
    let (s, rb) = post(&app, &format!("{base}/versions/{}/rollback", v1["id"].as_str().unwrap()), json!({})).await;
    assert_eq!(s, 201, "{rb}");
    assert_eq!((rb["version_number"].as_str(), rb["is_rollback"].as_bool()), (Some("1.0.2"), Some(true)));
    assert_eq!(rb["rollback_from_version_id"], v1["id"]);
    let (_, draft) = app.get(&format!("{base}/draft")).await;
    assert_eq!(draft["files"][1]["yaml_content"].as_str(), Some(VALID), "draft reset to v1's files");
    let (_, list) = app.get(&format!("{base}/versions?limit=2")).await;
    assert_eq!(list["items"][0]["version_number"].as_str(), Some("1.0.2"));
    let (_, rest) = app.get(&format!("{base}/versions?limit=2&cursor={}", list["next_cursor"].as_str().unwrap())).await;
    assert_eq!(rest["items"][0]["version_number"].as_str(), Some("1.0.0"));
    let (s, full) = app.get(&format!("{base}/versions/{}", v1["id"].as_str().unwrap())).await;
    assert_eq!((s, full["files"].as_array().unwrap().len()), (200, 2));
    let (s, _) = post(&app, &format!("{base}/versions"), json!({"version_number": "1.0.0"})).await;
    assert_eq!(s, 409);
}

#[tokio::test]
async fn an_invalid_draft_does_not_publish() {
    let app = TestApp::spawn().await;
    let id = create_project(&app, "v").await["id"].as_str().unwrap().to_string();
    let base = format!("/api/v1/projects/{id}");
    let (s, b) = post(&app, &format!("{base}/versions"), json!({})).await;
    assert_eq!(s, 422, "empty draft");
    assert_error_shape(&b, "draft_invalid");
    let bad = VALID.replace("session_id: s1", "session_id: \"bad id!\"");
    send(&app, Method::PUT, &format!("{base}/draft"), Some(set(&bad))).await;
    let (s, b) = post(&app, &format!("{base}/versions"), json!({})).await;
    assert_eq!(s, 422);
    let e = assert_error_shape(&b, "draft_invalid");
    let errs = e["details"]["errors"].as_array().unwrap();
    assert!(
        errs.iter().any(|p| p["path"].as_str() == Some("session.session_id") && p["line"].as_u64() == Some(2)),
        "{b}"
    );
    let (_, versions) = app.get(&format!("{base}/versions")).await;
    assert_eq!(versions["items"], json!([]));
    let (_, p) = app.get(&base).await;
    assert_eq!(p["status"].as_str(), Some("draft"));
    let (_, v) = post(&app, &format!("{base}/draft/validate"), json!({})).await;
    assert_eq!(v["valid"].as_bool(), Some(false));
    let (_, d) = app.get(&format!("{base}/draft")).await;
    assert_eq!(d["validation_status"].as_str(), Some("invalid"));
    assert!(!d["validation_errors"].as_array().unwrap().is_empty());
    let (s, b) = send(&app, Method::PUT, &format!("{base}/draft"), Some(set("a: [1\n"))).await;
    assert_eq!(s, 400);
    assert_eq!(assert_error_shape(&b, "script_parse_error")["details"]["file"].as_str(), Some("main.yaml"));
}

fn fixtures() -> Vec<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/heartrule");
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("../shared/fixtures beside the repo") {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn every_fixture_validates_over_http_without_a_5xx() {
    let app = TestApp::spawn().await;
    let valid_originals = ["hello-world.yaml", "cbt-assessment-demo.yaml", "story-2.1-verification-test.yaml"];
    let files = fixtures();
    assert!(files.len() >= 15, "found {} fixtures", files.len());
    for path in files {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let yaml = std::fs::read_to_string(&path).unwrap();
        let (s, r) = post(&app, "/api/v1/scripts/validate", json!({"yaml": yaml, "file": name})).await;
        assert_eq!(s, 200, "{name}: {r}");
        let errors = r["errors"].as_array().unwrap();
        if valid_originals.contains(&name.as_str()) {
            assert!(errors.is_empty(), "{name}: {r}");
        } else if name != "new_session_template.yaml" {
            assert!(!errors.is_empty() || !r["warnings"].as_array().unwrap().is_empty(), "{name} has no problems");
        }
        for p in errors.iter().chain(r["warnings"].as_array().unwrap()) {
            assert!(p["line"].as_u64().unwrap() >= 1 && p["message"].is_string(), "{name}: {p}");
        }
    }
    let (s, r) = post(&app, "/api/v1/scripts/validate", json!({"yaml": "a: [1\n"})).await;
    assert_eq!((s, r["valid"].as_bool()), (200, Some(false)));
    assert!(r["errors"][0]["line"].as_u64().is_some());
}
