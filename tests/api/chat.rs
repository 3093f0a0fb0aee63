//! Chat turns over HTTP with the offline model: a HeartRule script run turn by turn, the AI
//! SDK UI message stream, `POST /api/v1/chat` as `useChat` calls it, and regeneration.

use serde_json::{json, Value};

use crate::helpers::{assert_error_shape, TestApp};
use crate::projects::{create_project, post};

const HELLO: &str =
    include_str!("../../../shared/fixtures/heartrule/project-templates/scripts/examples/hello-world.yaml");

/// A session on hello-world.yaml: the create response, with its opening message.
pub async fn scripted(app: &TestApp) -> Value {
    let pid = create_project(app, "chat").await["id"].as_str().unwrap().to_string();
    let (s, f) = post(
        app,
        &format!("/api/v1/projects/{pid}/files"),
        json!({"file_type": "session", "file_name": "hello.yaml", "yaml_content": HELLO}),
    )
    .await;
    assert_eq!(s, 201, "{f}");
    let (s, sess) = post(app, "/api/v1/sessions", json!({"project_id": pid, "script_file_id": f["id"]})).await;
    assert_eq!(s, 201, "{sess}");
    sess
}

pub async fn scripted_session(app: &TestApp) -> String {
    scripted(app).await["id"].as_str().unwrap().to_string()
}

pub fn texts(msg: &Value) -> Vec<String> {
    msg["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] == "text")
        .map(|p| p["text"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_script_runs_turn_by_turn_with_the_offline_model() {
    let app = TestApp::spawn().await;
    let sess = scripted(&app).await;
    let sid = sess["id"].as_str().unwrap();
    // Creating the session ran the script up to its first question.
    let opening = &sess["opening_message"];
    assert_eq!(
        texts(opening),
        ["欢迎来到心流咨询，我是你的AI助手。\n今天我们可以聊一聊你最近的感受。", "你最近过得怎么样？"],
        "content word for word"
    );
    assert_eq!(opening["parts"][1]["type"], "step-start");
    let (_, st) = app.get(&format!("/api/v1/sessions/{sid}/state")).await;
    assert_eq!(
        (st["execution_status"].as_str(), st["position"]["actionId"].as_str()),
        (Some("waiting_input"), Some("ask_status"))
    );
    // The first user message answers that question.
    let (s, t1) = post(
        &app,
        &format!("/api/v1/sessions/{sid}/chat?debug=true"),
        json!({"message": {"id": "u-1", "role": "user", "parts": [{"type": "text", "text": "还不错"}]}}),
    )
    .await;
    assert_eq!(s, 200, "{t1}");
    assert_eq!(t1["execution_status"].as_str(), Some("completed"));
    assert_eq!(t1["variables"]["resolved"]["用户状态"].as_str(), Some("还不错"), "{t1}");
    assert_eq!(t1["user_message"]["id"], "u-1");
    // Direct extraction needs no model call; the finished script, silent, answers freely.
    assert_eq!(t1["debug"]["calls"].as_array().unwrap().len(), 1, "{t1}");
    let (s, t2) = post(&app, &format!("/api/v1/sessions/{sid}/chat"), json!({"content": "thanks"})).await;
    assert_eq!(s, 200);
    assert!(texts(&t2["messages"][0])[0].contains("thanks"), "a completed script chats freely: {t2}");
    let (_, page) = app.get(&format!("/api/v1/sessions/{sid}/messages")).await;
    let items = page["items"].as_array().unwrap();
    let roles: Vec<&str> = items.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["assistant", "user", "assistant", "user", "assistant"], "one assistant message per turn");
    assert_eq!(&items[0], opening);
    let (_, sess) = app.get(&format!("/api/v1/sessions/{sid}")).await;
    assert_eq!(sess["message_count"].as_i64(), Some(5));
}

#[tokio::test]
async fn the_ui_message_stream_and_use_chat_drop_in() {
    let app = TestApp::spawn().await;
    let (_, sess) = post(&app, "/api/v1/sessions", json!({})).await;
    let sid = sess["id"].as_str().unwrap();
    let body = json!({"id": sid, "trigger": "submit-message", "messages": [
        {"id": "old", "role": "user", "parts": [{"type": "text", "text": "ignored"}, {"type": "data-x", "data": 1}]},
        {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "hello planbase"}]}
    ], "extra": true});
    let r = app.client.post(app.url("/api/v1/chat")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    assert_eq!(r.headers()["x-vercel-ai-ui-message-stream"], "v1");
    let text = r.text().await.unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    let chunks: Vec<Value> = text
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let types: Vec<&str> = chunks.iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!((types[0], types[1], *types.last().unwrap()), ("start", "start-step", "finish"));
    let delta: String =
        chunks.iter().filter(|c| c["type"] == "text-delta").map(|c| c["delta"].as_str().unwrap()).collect();
    assert!(delta.contains("hello planbase"), "{delta}");
    let (_, page) = app.get(&format!("/api/v1/sessions/{sid}/messages")).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(
        (items.len(), items[0]["id"].as_str()),
        (2, Some("u1")),
        "only the last user message is stored, under its id"
    );
    assert_eq!(items[1]["id"], chunks[0]["messageId"], "start carries the stored assistant id");
    assert_eq!(items[1]["parts"][0]["text"].as_str(), Some(delta.as_str()), "the stored message is what was streamed");
    let opened = types.iter().filter(|t| **t == "text-start").count();
    assert_eq!(opened, types.iter().filter(|t| **t == "text-end").count(), "every part is closed");
    let end = types.iter().position(|t| *t == "text-end").unwrap();
    assert!(end < types.iter().rposition(|t| *t == "finish-step").unwrap(), "closed before finish-step");
    let regen = json!({"id": sid, "trigger": "regenerate-message", "messages": []});
    let r = app.client.post(app.url("/api/v1/chat")).json(&regen).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let (_, page) = app.get(&format!("/api/v1/sessions/{sid}/messages")).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "regenerate replaces the assistant message");
    assert!(text.contains(items[1]["id"].as_str().unwrap()));
    let r = app
        .client
        .post(app.url(&format!("/api/v1/sessions/{sid}/chat?stream=true")))
        .json(&json!({"content": "again"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-vercel-ai-ui-message-stream"], "v1");
}

#[tokio::test]
async fn unknown_sessions_and_bad_messages() {
    let app = TestApp::spawn().await;
    for id in [uuid::Uuid::now_v7().to_string(), "nope".into()] {
        let (s, b) = post(
            &app,
            "/api/v1/chat",
            json!({"id": id, "messages": [{"id": "a", "role": "user", "parts": [{"type": "text", "text": "x"}]}]}),
        )
        .await;
        assert_eq!(s, 404);
        assert!(assert_error_shape(&b, "session_not_found")["suggestion"]
            .as_str()
            .unwrap()
            .contains("POST /api/v1/sessions"));
    }
    let (_, sess) = post(&app, "/api/v1/sessions", json!({})).await;
    let sid = sess["id"].as_str().unwrap();
    for bad in [
        json!({}),
        json!({"message": {"role": "user", "parts": "x"}}),
        json!({"message": {"role": "assistant", "parts": []}}),
    ] {
        let (s, b) = post(&app, &format!("/api/v1/sessions/{sid}/chat"), bad.clone()).await;
        assert_eq!(s, 400, "{bad}: {b}");
    }
    let (_, page) = app.get(&format!("/api/v1/sessions/{sid}/messages")).await;
    assert_eq!(page["items"], json!([]));
}

/// `planbase` with no subcommand loads the demo project into an empty root; a session on
/// its published version runs the demo script.
#[tokio::test]
async fn the_default_command_serves_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let port = crate::cli::free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_planbase"))
        .env_remove("DB_ROOT")
        .env("PLANBASE_STORAGE_DB_ROOT", dir.path())
        .env("PLANBASE_CONFIG", "/dev/null")
        .env("PLANBASE_SERVER_BIND", format!("127.0.0.1:{port}"))
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    crate::cli::wait_healthy(port);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let list: Value = client.get(format!("{base}/api/v1/projects")).send().await.unwrap().json().await.unwrap();
    let demo = &list["items"][0];
    let ok = (demo["name"].as_str(), demo["status"].as_str());
    let body = json!({"project_id": demo["id"], "version_id": demo["current_version_id"]});
    let sess: Value =
        client.post(format!("{base}/api/v1/sessions")).json(&body).send().await.unwrap().json().await.unwrap();
    let turn: Value = client
        .post(format!("{base}/api/v1/sessions/{}/chat", sess["id"].as_str().unwrap_or("x")))
        .json(&json!({"content": "Ann"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(ok, (Some("Planbase demo"), Some("published")), "{list}");
    assert!(texts(&sess["opening_message"]).iter().any(|t| t.contains("What should I call you?")), "{sess}");
    assert!(texts(&turn["messages"][0]).iter().any(|t| t.contains("Nice to meet you, Ann")), "{turn}");
}

/// Runs a conversation and returns the transcript (every assistant text, the opening's
/// first) and the last turn.
async fn converse(app: &TestApp, session_body: Value, turns: &[&str]) -> (Vec<String>, Value) {
    let (s, sess) = post(app, "/api/v1/sessions", session_body).await;
    assert_eq!(s, 201, "{sess}");
    let sid = sess["id"].as_str().unwrap().to_string();
    let (mut transcript, mut last) = (texts(&sess["opening_message"]), Value::Null);
    for t in turns {
        let (s, turn) = post(app, &format!("/api/v1/sessions/{sid}/chat"), json!({"content": t})).await;
        assert_eq!(s, 200, "{turn}");
        transcript.extend(texts(&turn["messages"][0]));
        last = turn;
    }
    (transcript, last)
}

pub async fn demo(app: &TestApp) -> Value {
    let limits = planbase::script::Limits::default();
    let p = planbase::project::demo::seed(&app.state.storage, limits).await.unwrap();
    json!({"project_id": p.id, "version_id": p.current_version_id})
}

#[tokio::test]
async fn the_demo_scripts_complete_and_repeat_identically() {
    let app = TestApp::spawn().await;
    let pinned = demo(&app).await;
    let turns = ["Ann", "about 7 today"];
    let (first, last) = converse(&app, pinned.clone(), &turns).await;
    assert!(first[0].starts_with("Hello! I am Planbase's demo assistant"), "{first:?}");
    assert_eq!(first[1], "What should I call you?");
    assert_eq!(last["execution_status"].as_str(), Some("completed"), "{last}");
    let (_, listed) = app.get("/api/v1/sessions?limit=200").await;
    let statuses: Vec<&str> =
        listed["items"].as_array().unwrap().iter().map(|s| s["execution_status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["completed"], "the registry row follows the turns: {listed}");
    app.state.summaries.flush(&app.state.storage.shared.registry).await.unwrap();
    let (_, flushed) = app.get("/api/v1/sessions?limit=200").await;
    assert_eq!(flushed["items"][0]["execution_status"], "completed", "and so does the flushed row");
    let vars = &last["variables"];
    let v = |k: &str| vars["resolved"][k].as_str().or(vars[k].as_str()).map(str::to_string);
    assert_eq!((v("name"), v("mood")), (Some("Ann".into()), Some("7".into())), "{vars}");
    assert!(first.last().unwrap().contains("You rated your day 7"), "{first:?}");
    let (second, _) = converse(&app, pinned.clone(), &turns).await;
    assert_eq!(first, second, "the offline model is deterministic");
    let mut reflection = pinned.clone();
    reflection["metadata"] = json!({"script": "reflection.yaml"});
    let (said, last) = converse(&app, reflection, &["tired", "a long week"]).await;
    assert_eq!(said[0], "In one word, how are you feeling right now?");
    assert!(said.iter().any(|t| t.contains("What do you think is behind feeling tired?")), "use_skill ran: {said:?}");
    assert!(said.last().unwrap().contains("because a long week"), "output mapping: {said:?}");
    assert_eq!(last["execution_status"].as_str(), Some("completed"));
}

/// Every fixture session script whose action types exist takes three turns without a 5xx;
/// the ones the runtime cannot load are refused with 422.
#[tokio::test]
async fn every_fixture_script_takes_three_turns() {
    let app = TestApp::spawn().await;
    let pid = create_project(&app, "fixtures").await["id"].as_str().unwrap().to_string();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/heartrule/scripts/sessions");
    let (mut ran, mut refused) = (0, 0);
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let yaml = std::fs::read_to_string(&path).unwrap();
        let (s, f) = post(
            &app,
            &format!("/api/v1/projects/{pid}/files"),
            json!({"file_type": "session", "file_name": name, "yaml_content": yaml}),
        )
        .await;
        assert_eq!(s, 201, "{name}: {f}");
        let (s, sess) = post(&app, "/api/v1/sessions", json!({"project_id": pid, "script_file_id": f["id"]})).await;
        assert_eq!(s, 201, "{name}: a script the runtime refuses still makes a session: {sess}");
        let sid = sess["id"].as_str().unwrap();
        for turn in ["hello", "I am 30 and feeling low", "yes"] {
            let (s, b) = post(&app, &format!("/api/v1/sessions/{sid}/chat"), json!({"content": turn})).await;
            assert!(s < 500, "{name}: {b}");
            if s == 422 {
                assert_eq!(b["error"]["code"], "script_validation_error", "{name}: {b}");
                refused += 1;
                break;
            }
            assert_eq!(s, 200, "{name}: {b}");
        }
        ran += 1;
    }
    assert!(ran >= 8 && refused >= 1, "ran {ran}, refused {refused}");
}

#[tokio::test]
async fn action_runs_and_state() {
    let app = TestApp::spawn().await;
    let (_, sess) = post(&app, "/api/v1/sessions", json!({})).await;
    let sid = sess["id"].as_str().unwrap();
    let base = format!("/api/v1/sessions/{sid}/action-runs");
    let (s, run) =
        post(&app, &base, json!({"user_message": "plan my week", "mode": "plan", "context": {"k": 1}})).await;
    assert_eq!((s, run["status"].as_str()), (201, Some("pending")), "{run}");
    let rid = run["id"].as_str().unwrap();
    let patch = |status: &str| json!({"status": status, "result": {"ok": true}});
    let (s, r) =
        crate::projects::send(&app, reqwest::Method::PATCH, &format!("{base}/{rid}"), Some(patch("running"))).await;
    assert_eq!((s, r["status"].as_str(), r["started_at"].is_string()), (200, Some("running"), true));
    let (s, r) =
        crate::projects::send(&app, reqwest::Method::PATCH, &format!("{base}/{rid}"), Some(patch("completed"))).await;
    assert_eq!((s, r["finished_at"].is_string(), r["result"].clone()), (200, true, json!({"ok": true})));
    let (s, b) =
        crate::projects::send(&app, reqwest::Method::PATCH, &format!("{base}/{rid}"), Some(patch("running"))).await;
    assert_eq!(s, 409);
    assert_error_shape(&b, "conflict");
    let (_, list) = app.get(&base).await;
    assert_eq!(list["items"][0]["id"].as_str(), Some(rid));
    assert_eq!(app.get(&format!("{base}/{}", uuid::Uuid::now_v7())).await.0, 404);
    let (s, st) = app.get(&format!("/api/v1/sessions/{sid}/state")).await;
    assert_eq!((s, st["execution_status"].as_str()), (200, Some("waiting_input")), "{st}");
    assert_eq!(app.get(&format!("/api/v1/sessions/{}/state", uuid::Uuid::now_v7())).await.0, 404);
}

/// A client that goes away after the first bytes leaves the whole turn or the user message
/// with a failed turn (never a partial answer), and the next turn works at once.
#[tokio::test]
async fn a_disconnect_mid_stream_leaves_a_whole_turn() {
    let app = TestApp::spawn().await;
    let (_, sess) = post(&app, "/api/v1/sessions", json!({})).await;
    let sid = sess["id"].as_str().unwrap();
    let mut r = app
        .client
        .post(app.url(&format!("/api/v1/sessions/{sid}/chat?stream=true")))
        .json(&json!({"content": "a long question"}))
        .send()
        .await
        .unwrap();
    let first = r.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).starts_with("data: "));
    drop(r);
    let (s, _) = post(&app, &format!("/api/v1/sessions/{sid}/chat"), json!({"content": "next"})).await;
    assert_eq!(s, 200);
    let (_, page) = app.get(&format!("/api/v1/sessions/{sid}/messages")).await;
    let roles: Vec<&str> = page["items"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    let (_, runs) = app.get(&format!("/api/v1/sessions/{sid}/action-runs")).await;
    match runs["items"][0]["status"].as_str() {
        Some("completed") => assert_eq!(roles, ["user", "assistant", "user", "assistant"]),
        _ => assert_eq!(roles, ["user", "user", "assistant"], "{runs}"),
    }
}
