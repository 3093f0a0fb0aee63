//! Chat turns record their action runs: one per script action performed, in order, in the
//! turn's own transaction, listed by `GET /sessions/{id}/action-runs`; a failing model
//! records failed runs with the error. The session's opening is the first such turn.

use axum::Router;
use serde_json::{json, Value};

use crate::helpers::{assert_error_shape, TestApp};
use crate::llm_mock::{Mock, Reply};
use crate::projects::post;

async fn runs(app: &TestApp, sid: &str) -> Vec<Value> {
    let (s, page) = app.get(&format!("/api/v1/sessions/{sid}/action-runs")).await;
    assert_eq!(s, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

fn summary(runs: &[Value]) -> Vec<(String, String, String, i64)> {
    let s = |r: &Value, k: &str| r[k].as_str().unwrap_or_default().to_string();
    runs.iter()
        .map(|r| (s(r, "action_id"), s(r, "action_type"), s(r, "status"), r["turn_id"].as_i64().unwrap()))
        .collect()
}

#[tokio::test]
async fn a_demo_conversation_records_completed_runs_in_order() {
    let app = TestApp::spawn().await;
    let (_, sess) = post(&app, "/api/v1/sessions", crate::chat::demo(&app).await).await;
    let sid = sess["id"].as_str().unwrap().to_string();
    // Turn 1 is the opening, run when the session was created.
    for turn in ["Ann", "about 7 today"] {
        let (s, b) = post(&app, &format!("/api/v1/sessions/{sid}/chat"), json!({"content": turn})).await;
        assert_eq!(s, 200, "{b}");
    }
    let all = runs(&app, &sid).await;
    let got = summary(&all);
    let want = [
        ("greet", "ai_say", 1),
        ("ask_name", "ai_ask", 1),
        ("ask_name", "ai_ask", 2),
        ("ask_mood", "ai_ask", 2),
        ("ask_mood", "ai_ask", 3),
        ("reflect", "ai_think", 3),
        ("bye", "ai_say", 3),
    ];
    let want: Vec<_> =
        want.iter().map(|(a, t, n)| (a.to_string(), t.to_string(), "completed".to_string(), *n)).collect();
    assert_eq!(got, want, "the low_mood action's condition was false: no run");
    assert_eq!(all[2]["result"]["set"], json!({"name": "Ann"}));
    assert_eq!(all[4]["result"]["set"], json!({"mood": "7"}));
    assert_eq!(all[1]["result"]["waiting"], true);
    assert_eq!(all[2]["user_message"], "Ann");
    assert_eq!(all[0]["context"], json!({"phase_id": "opening", "topic_id": "welcome"}));
    for r in &all {
        assert!(r["started_at"].as_str() <= r["finished_at"].as_str() && r["created_at"].is_string(), "{r}");
        assert!(r["errors"].is_null() && r["mode"] == "script");
    }
    let rid = all[6]["id"].as_str().unwrap();
    let (s, one) = app.get(&format!("/api/v1/sessions/{sid}/action-runs/{rid}")).await;
    assert_eq!((s, &one), (200, &all[6]));
    let (_, page) = app.get(&format!("/api/v1/sessions/{sid}/action-runs?limit=3")).await;
    let (_, next) = app
        .get(&format!("/api/v1/sessions/{sid}/action-runs?limit=3&cursor={}", page["next_cursor"].as_str().unwrap()))
        .await;
    assert_eq!(next["items"][0]["id"], all[3]["id"], "pages keep the order");
}

#[tokio::test]
async fn a_failing_model_records_failed_runs() {
    let mock = Mock::start();
    let app = TestApp::spawn_with(mock.config(), Router::new()).await;
    let sid = crate::chat::scripted_session(&app).await;
    // The script waits at its question; the model fails the answer's turn (the finished
    // script's free reply).
    mock.push([Reply::Status(500), Reply::Status(500)]);
    let (s, b) = post(&app, &format!("/api/v1/sessions/{sid}/chat"), json!({"content": "还不错"})).await;
    assert_eq!(s, 503, "{b}");
    assert_error_shape(&b, "llm_service_error");
    let all = runs(&app, &sid).await;
    let got: Vec<(&str, &str)> =
        all.iter().map(|r| (r["action_type"].as_str().unwrap(), r["status"].as_str().unwrap())).collect();
    assert_eq!(got, [("ai_say", "completed"), ("ai_ask", "completed"), ("ai_ask", "completed"), ("chat", "failed")]);
    assert_eq!(all[3]["errors"]["code"], "llm_service_error");
    assert!(all[3]["finished_at"].is_string() && all[3]["result"].is_null());
    let (_, st) = app.get(&format!("/api/v1/sessions/{sid}/state")).await;
    assert_eq!(st["position"]["actionId"], "ask_status", "a failed turn leaves the state as it was: {st}");
    // The model is back: the next turn runs the script from where it stood.
    let (s, b) = post(&app, &format!("/api/v1/sessions/{sid}/chat"), json!({"content": "还不错"})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["variables"]["resolved"]["用户状态"], "还不错");
    let all = runs(&app, &sid).await;
    assert_eq!(all.last().unwrap()["status"], "completed");
    assert!(all[4]["turn_id"].as_i64() > all[3]["turn_id"].as_i64());
}

/// The model is down when the session is created: the create still succeeds, the opening is
/// a failed turn, and the first user turn runs the opening and then answers its question.
#[tokio::test]
async fn a_failed_opening_runs_with_the_first_user_turn() {
    let mock = Mock::start();
    let app = TestApp::spawn_with(mock.config(), Router::new()).await;
    mock.push([Reply::Status(500), Reply::Status(500)]);
    let sess = crate::chat::scripted(&app).await;
    let sid = sess["id"].as_str().unwrap();
    assert_eq!((sess["opening_message"].clone(), sess["message_count"].as_i64()), (Value::Null, Some(0)));
    let all = runs(&app, sid).await;
    assert_eq!(all.len(), 1, "the first action failed, nothing after it ran");
    assert_eq!((all[0]["action_type"].as_str(), all[0]["status"].as_str()), (Some("ai_say"), Some("failed")));
    assert_eq!(all[0]["errors"]["code"], "llm_service_error");
    let (_, st) = app.get(&format!("/api/v1/sessions/{sid}/state")).await;
    assert_eq!(st["position"], json!({}), "a failed opening leaves the state as it was: {st}");
    let (s, b) = post(&app, &format!("/api/v1/sessions/{sid}/chat"), json!({"content": "还不错"})).await;
    assert_eq!(s, 200, "{b}");
    let said = crate::chat::texts(&b["messages"][0]);
    assert_eq!(said.len(), 2, "the opening's two actions spoke: {b}");
    assert_eq!(
        (b["execution_status"].as_str(), &b["variables"]["resolved"]["用户状态"]),
        (Some("completed"), &json!("还不错"))
    );
    let status: Vec<String> = runs(&app, sid).await.iter().map(|r| r["status"].as_str().unwrap().into()).collect();
    assert_eq!(status, ["failed", "completed", "completed", "completed"]);
}
