//! Starting a session runs the script's actions until the first that needs input (DESIGN.md
//! §5): the create response carries that opening message, the shard holds it as a turn
//! without a user message, and the first user message answers the waiting action. Clients
//! never see the engine's internals (`position.engine`).

use serde_json::{json, Value};

use super::create_session;
use crate::chat::{demo, texts};
use crate::helpers::TestApp;
use crate::projects::{create_project, post};

fn shard(app: &TestApp, sid: &str) -> rusqlite::Connection {
    let path = app.root.join(format!("sessions/session_{sid}.sqlite"));
    rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

/// `(user_message_id, assistant_message_id, status)` of every turn.
fn turns(app: &TestApp, sid: &str) -> Vec<(Option<String>, Option<String>, String)> {
    let c = shard(app, sid);
    let mut stmt = c.prepare("SELECT user_message_id, assistant_message_id, status FROM turns ORDER BY id").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect()
}

/// GET /sessions/{id}/state and the state of GET /sessions/{id}, checked for engine internals.
async fn client_state(app: &TestApp, sid: &str) -> Value {
    let (_, st) = app.get(&format!("/api/v1/sessions/{sid}/state")).await;
    let (_, view) = app.get(&format!("/api/v1/sessions/{sid}")).await;
    assert_eq!(view["state"], st);
    assert!(st["position"].get("engine").is_none(), "engine internals leak: {st}");
    st
}

async fn messages(app: &TestApp, sid: &str) -> Vec<Value> {
    let (_, page) = app.get(&format!("/api/v1/sessions/{sid}/messages")).await;
    page["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn creating_a_session_stores_its_opening_as_a_turn() {
    let app = TestApp::spawn().await;
    let sess = create_session(&app, demo(&app).await).await;
    let sid = sess["id"].as_str().unwrap();
    let opening = &sess["opening_message"];
    let said = texts(opening);
    assert!(said[0].starts_with("Hello! I am Planbase's demo assistant"), "{said:?}");
    assert_eq!(said[1], "What should I call you?");
    let types: Vec<&str> = opening["parts"].as_array().unwrap().iter().map(|p| p["type"].as_str().unwrap()).collect();
    assert_eq!((types.as_slice(), opening["role"].as_str()), (&["text", "step-start", "text"][..], Some("assistant")));
    assert_eq!(messages(&app, sid).await, std::slice::from_ref(opening), "one assistant message, no user message");
    assert_eq!((sess["message_count"].as_i64(), &sess["last_message_at"]), (Some(1), &opening["created_at"]));
    assert!(sess["name"].is_null(), "no user text, no auto title: {sess}");
    let st = client_state(&app, sid).await;
    assert_eq!(
        (st["execution_status"].as_str(), st["position"]["actionId"].as_str()),
        (Some("waiting_input"), Some("ask_name"))
    );
    assert_eq!(turns(&app, sid), [(None, opening["id"].as_str().map(str::to_string), "completed".to_string())]);
    let (_, runs) = app.get(&format!("/api/v1/sessions/{sid}/action-runs")).await;
    let ids: Vec<&str> = runs["items"].as_array().unwrap().iter().map(|r| r["action_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["greet", "ask_name"]);
    // The search feed sees the opening like any turn's message.
    let (_, found) = app.get(&format!("/api/v1/sessions/{sid}/search?q=demo%20assistant")).await;
    assert_eq!(found["items"].as_array().map(Vec::len), Some(1), "{found}");
    let mut hits = Value::Null;
    for _ in 0..50 {
        hits = app.get("/api/v1/search?q=demo%20assistant").await.1;
        if hits["items"].as_array().is_some_and(|i| !i.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(hits["items"][0]["session_id"].as_str(), Some(sid), "{hits}");
}

/// `useChat`'s regenerate(); answers the streamed message's id.
async fn regenerate(app: &TestApp, sid: &str) -> String {
    let regen = json!({"id": sid, "trigger": "regenerate-message", "messages": []});
    let r = app.client.post(app.url("/api/v1/chat")).json(&regen).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let start: Value =
        serde_json::from_str(text.split("\n\n").next().unwrap().strip_prefix("data: ").unwrap()).unwrap();
    assert!(text.ends_with("data: [DONE]\n\n") && !text.contains("\"error\""), "{text}");
    start["messageId"].as_str().unwrap().to_string()
}

/// Regenerating right after the create re-runs the opening; the first user message answers
/// the question the opening asked; regenerating that turn re-runs it from the state the
/// opening left.
#[tokio::test]
async fn the_first_user_message_answers_the_opening_and_both_regenerate() {
    let app = TestApp::spawn().await;
    let sess = create_session(&app, demo(&app).await).await;
    let sid = sess["id"].as_str().unwrap().to_string();
    let id = regenerate(&app, &sid).await;
    let items = messages(&app, &sid).await;
    assert_eq!((items.len(), items[0]["id"].as_str()), (1, Some(id.as_str())), "the opening was replaced");
    assert_ne!(items[0]["id"], sess["opening_message"]["id"]);
    assert_eq!(items[0]["parts"], sess["opening_message"]["parts"], "the offline model is deterministic");
    assert_eq!(client_state(&app, &sid).await["position"]["actionId"], "ask_name");
    let (s, t) = post(&app, &format!("/api/v1/sessions/{sid}/chat"), json!({"content": "Ann"})).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["variables"]["resolved"]["name"], "Ann", "{t}");
    assert!(t["position"].get("engine").is_none(), "{t}");
    assert_eq!(texts(&t["messages"][0]), ["Nice to meet you, Ann. On a scale from 1 to 10, how is your day going?"]);
    let (_, history) = app.get(&format!("/api/v1/sessions/{sid}/variables?history=name")).await;
    assert_eq!(history["items"][0]["value"], "Ann", "{history}");
    let id = regenerate(&app, &sid).await;
    let items = messages(&app, &sid).await;
    assert_eq!(items[2]["id"].as_str(), Some(id.as_str()));
    assert_eq!(items[2]["parts"], t["messages"][0]["parts"]);
    let roles: Vec<&str> = items.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["assistant", "user", "assistant"], "the turn's answer was replaced");
    assert_ne!(items[2]["id"], t["messages"][0]["id"]);
    let st = client_state(&app, &sid).await;
    assert_eq!(
        (st["position"]["actionId"].as_str(), &st["variables"]["session"]["name"]),
        (Some("ask_mood"), &json!("Ann"))
    );
}

#[tokio::test]
async fn sessions_without_a_script_have_no_opening() {
    let app = TestApp::spawn().await;
    let pid = create_project(&app, "plain").await["id"].as_str().unwrap().to_string();
    for body in [json!({}), json!({"project_id": pid})] {
        let sess = create_session(&app, body).await;
        let sid = sess["id"].as_str().unwrap();
        assert_eq!((&sess["opening_message"], sess["message_count"].as_i64()), (&Value::Null, Some(0)), "{sess}");
        assert!(messages(&app, sid).await.is_empty() && turns(&app, sid).is_empty());
        assert_eq!(client_state(&app, sid).await["position"], json!({}));
    }
}

const NO_INPUT: &str = r#"
session:
  phases:
    - phase_id: p
      topics:
        - topic_id: t
          actions:
            - {action_type: ai_think, action_id: mull, config: {content: "the weather", output: [{get: idea}]}}
            - {action_type: ai_say, action_id: hi, config: {content: "Hi, {idea}. That is all."}}
"#;

/// A script that needs no input completes while the session is created; one whose actions
/// are all silent leaves no empty message, only its turn and variables.
#[tokio::test]
async fn a_script_without_questions_completes_at_create() {
    let app = TestApp::spawn().await;
    let pid = create_project(&app, "no input").await["id"].as_str().unwrap().to_string();
    let silent = NO_INPUT.lines().filter(|l| !l.contains("ai_say")).collect::<Vec<_>>().join("\n");
    for (name, yaml, says) in [("speaks.yaml", NO_INPUT.to_string(), true), ("silent.yaml", silent, false)] {
        let file = json!({"file_type": "session", "file_name": name, "yaml_content": yaml});
        let (s, f) = post(&app, &format!("/api/v1/projects/{pid}/files"), file).await;
        assert_eq!(s, 201, "{f}");
        let sess = create_session(&app, json!({"project_id": pid, "script_file_id": f["id"]})).await;
        let sid = sess["id"].as_str().unwrap();
        let st = client_state(&app, sid).await;
        assert_eq!((st["execution_status"].as_str(), &st["position"]["completed"]), (Some("completed"), &json!(true)));
        assert_eq!(st["variables"]["session"]["idea"], "(offline) the weather", "{st}");
        let (_, history) = app.get(&format!("/api/v1/sessions/{sid}/variables?history=idea")).await;
        let seq = history["items"][0]["message_seq"].clone();
        match says {
            true => {
                assert_eq!(texts(&sess["opening_message"]), ["Hi, (offline) the weather. That is all."]);
                assert_eq!(seq, sess["opening_message"]["seq"], "variables hang off the opening: {history}");
            }
            false => assert_eq!((&sess["opening_message"], &seq), (&Value::Null, &Value::Null), "{sess}"),
        }
        assert_eq!(turns(&app, sid).len(), 1);
        // A completed script chats freely.
        let (s, t) = post(&app, &format!("/api/v1/sessions/{sid}/chat"), json!({"content": "thanks"})).await;
        assert_eq!(s, 200, "{t}");
        assert!(texts(&t["messages"][0])[0].contains("thanks"), "{t}");
    }
}
