//! Session memories over HTTP: create, list, get (access count), delete, text and vector
//! search, validation and the embedding cache; the openai embedding provider against the
//! local mock in [`openai`].

mod openai;

use planbase::storage::ShardKind;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_error_shape, TestApp};

async fn send(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = app.client.request(method, app.url(path));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn post(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    send(app, Method::POST, path, Some(body)).await
}

/// A session to hang memories on: through the API when sessions are served, else straight
/// through the shard manager.
async fn new_session(app: &TestApp) -> String {
    let (status, body) = post(app, "/api/v1/sessions", json!({})).await;
    if status == 201 {
        return body["id"].as_str().unwrap().to_string();
    }
    let id = uuid::Uuid::now_v7();
    app.state.storage.shards.create(ShardKind::Session, id, |_| Ok(())).await.unwrap();
    id.to_string()
}

async fn remember(app: &TestApp, sid: &str, body: Value) -> Value {
    let (status, m) = post(app, &format!("/api/v1/sessions/{sid}/memories"), body).await;
    assert_eq!(status, 201, "{m}");
    m
}

async fn search(app: &TestApp, sid: &str, body: Value) -> Vec<Value> {
    let (status, r) = post(app, &format!("/api/v1/sessions/{sid}/memories/search"), body).await;
    assert_eq!(status, 200, "{r}");
    r["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn create_get_list_delete() {
    let app = TestApp::spawn().await;
    let sid = new_session(&app).await;
    let body = json!({"content": "User prefers dark mode", "memory_type": "preference", "importance": "high",
        "keywords": ["ui", "theme"], "tags": ["settings"], "context": "onboarding", "related_task_id": 7});
    let m = remember(&app, &sid, body).await;
    assert_eq!(m["id"].as_str().unwrap().len(), 36);
    assert_eq!((m["memory_type"].as_str(), m["importance"].as_str()), (Some("preference"), Some("high")));
    assert_eq!((m["keywords"].clone(), m["tags"].clone()), (json!(["ui", "theme"]), json!(["settings"])));
    assert_eq!((m["context"].as_str(), m["related_task_id"].as_i64()), (Some("onboarding"), Some(7)));
    assert_eq!((m["access_count"].as_i64(), m["last_accessed"].is_null()), (Some(0), true));
    assert!(m["created_at"].as_str().unwrap().ends_with('Z'));
    let d = remember(&app, &sid, json!({"content": "plain note"})).await;
    assert_eq!((d["memory_type"].as_str(), d["importance"].as_str()), (Some("note"), Some("medium")));

    let path = format!("/api/v1/sessions/{sid}/memories/{}", m["id"].as_str().unwrap());
    let (status, got) = app.get(&path).await;
    assert_eq!((status, got["access_count"].as_i64()), (200, Some(1)));
    assert!(got["last_accessed"].is_string());
    let (_, got) = app.get(&path).await;
    assert_eq!(got["access_count"], 2);
    assert_eq!(got["content"], m["content"]);

    let (status, list) = app.get(&format!("/api/v1/sessions/{sid}/memories")).await;
    assert_eq!(status, 200);
    let ids: Vec<_> = list["items"].as_array().unwrap().iter().map(|x| x["id"].clone()).collect();
    assert_eq!(ids, vec![d["id"].clone(), m["id"].clone()], "newest first");
    assert!(list["next_cursor"].is_null());

    let (status, _) = send(&app, Method::DELETE, &path, None).await;
    assert_eq!(status, 204);
    let (status, body) = app.get(&path).await;
    assert_eq!(status, 404);
    assert_error_shape(&body, "memory_not_found");
    let (status, body) = send(&app, Method::DELETE, &path, None).await;
    assert_eq!(status, 404);
    assert_error_shape(&body, "memory_not_found");
    let mid = m["id"].as_str().unwrap().to_string();
    let left: i64 = app
        .state
        .storage
        .shards
        .read(ShardKind::Session, sid.parse().unwrap(), move |c| {
            Ok(c.query_row("SELECT count(*) FROM memory_embeddings WHERE memory_id = ?1", [&mid], |r| r.get(0))?)
        })
        .await
        .unwrap();
    assert_eq!(left, 0, "the embedding goes with the memory");
}

#[tokio::test]
async fn list_pages_and_filters_by_type() {
    let app = TestApp::spawn().await;
    let sid = new_session(&app).await;
    let mut made = Vec::new();
    for i in 0..5 {
        let t = if i % 2 == 0 { "fact" } else { "note" };
        made.push(
            remember(&app, &sid, json!({"content": format!("memory {i}"), "memory_type": t})).await["id"].clone(),
        );
    }
    made.reverse();
    let (mut seen, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let q = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let (status, page) = app.get(&format!("/api/v1/sessions/{sid}/memories?limit=2{q}")).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(page["items"].as_array().unwrap().iter().map(|m| m["id"].clone()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, made);
    let (_, facts) = app.get(&format!("/api/v1/sessions/{sid}/memories?memory_type=fact")).await;
    assert_eq!(facts["items"].as_array().unwrap().len(), 3);
    for bad in ["limit=0", "limit=201", "limit=x", "cursor=garbage"] {
        let (status, body) = app.get(&format!("/api/v1/sessions/{sid}/memories?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_error_shape(&body, "validation_failed");
    }
}

#[tokio::test]
async fn unknown_session_and_memory_are_404() {
    let app = TestApp::spawn().await;
    let ghost = uuid::Uuid::now_v7();
    for path in [format!("/api/v1/sessions/{ghost}/memories"), "/api/v1/sessions/not-a-uuid/memories".to_string()] {
        let (status, body) = app.get(&path).await;
        assert_eq!(status, 404);
        assert_error_shape(&body, "session_not_found");
        let (status, body) = post(&app, &path, json!({"content": "x"})).await;
        assert_eq!(status, 404);
        assert_error_shape(&body, "session_not_found");
        let (status, body) = post(&app, &format!("{path}/search"), json!({"query": "x"})).await;
        assert_eq!(status, 404);
        assert_error_shape(&body, "session_not_found");
    }
    let (status, body) = app.get(&format!("/api/v1/sessions/{ghost}/memories/{}", uuid::Uuid::now_v7())).await;
    assert_eq!(status, 404);
    assert_error_shape(&body, "session_not_found");
    assert!(!app.state.storage.shards.exists(ShardKind::Session, ghost), "nothing created");

    let sid = new_session(&app).await;
    for mid in [uuid::Uuid::now_v7().to_string(), "nope".to_string()] {
        let path = format!("/api/v1/sessions/{sid}/memories/{mid}");
        let (status, body) = app.get(&path).await;
        assert_eq!(status, 404);
        assert_error_shape(&body, "memory_not_found");
        let (status, body) = send(&app, Method::DELETE, &path, None).await;
        assert_eq!(status, 404);
        assert_error_shape(&body, "memory_not_found");
    }
}

#[tokio::test]
async fn bad_input_is_400_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let sid = new_session(&app).await;
    let path = format!("/api/v1/sessions/{sid}/memories");
    let big = "x".repeat(16 * 1024 + 1);
    for (body, field) in [
        (json!({"content": ""}), "content"),
        (json!({"content": "   "}), "content"),
        (json!({"content": big}), "content"),
        (json!({"content": 5}), "content"),
        (json!({}), "body"),
        (json!({"content": "x", "importance": "urgent"}), "importance"),
        (json!({"content": "x", "memory_type": "t".repeat(51)}), "memory_type"),
        (json!({"content": "x", "memory_type": ""}), "memory_type"),
        (json!({"content": "x", "keywords": "ui"}), "keywords"),
        (json!({"content": "x", "tags": [1]}), "tags[0]"),
        (json!({"content": "x", "related_task_id": "seven"}), "related_task_id"),
    ] {
        let (status, resp) = post(&app, &path, body.clone()).await;
        assert_eq!(status, 400, "{body}: {resp}");
        let e = assert_error_shape(&resp, "validation_failed");
        assert_eq!(e["details"]["field"], field, "{body}: {resp}");
    }
    let (_, list) = app.get(&path).await;
    assert_eq!(list["items"], json!([]), "nothing stored");

    let search = format!("{path}/search");
    for body in [
        json!({"query": "x", "top_k": 0}),
        json!({"query": "x", "top_k": 101}),
        json!({"query": "x", "top_k": "ten"}),
        json!({"query": 5}),
        json!({"vector": "not a list"}),
        json!({"vector": [1.0, 2.0]}),
        json!({"vector": [1e40]}),
        json!({"vector": []}),
        json!({"query": "x", "mode": "fuzzy"}),
        json!({"mode": "text"}),
        json!({}),
    ] {
        let (status, resp) = post(&app, &search, body.clone()).await;
        assert_eq!(status, 400, "{body}: {resp}");
        assert_error_shape(&resp, "validation_failed");
    }
}

#[tokio::test]
async fn search_by_text_vector_and_hybrid() {
    let app = TestApp::spawn().await;
    let sid = new_session(&app).await;
    let dark = remember(&app, &sid, json!({"content": "The user prefers dark mode in the code editor"})).await;
    let pay = remember(
        &app,
        &sid,
        json!({"content": "Invoices are paid on the first Monday of each month", "memory_type": "fact"}),
    )
    .await;
    let cjk = remember(&app, &sid, json!({"content": "用户喜欢吃苹果和香蕉"})).await;
    remember(&app, &sid, json!({"content": "Deploys happen every Friday afternoon"})).await;

    let hits = search(&app, &sid, json!({"query": "invoices paid", "mode": "text"})).await;
    assert_eq!(hits[0]["memory"]["id"], pay["id"]);
    assert!(hits[0]["score"].as_f64().unwrap() > 0.0);
    assert_eq!(hits.len(), 1, "text mode returns matches only");
    let hits = search(&app, &sid, json!({"query": "苹果", "mode": "text"})).await;
    assert_eq!(hits[0]["memory"]["id"], cjk["id"], "CJK substring");

    let hits = search(&app, &sid, json!({"query": "dark editor mode", "mode": "vector", "top_k": 2})).await;
    assert_eq!((hits.len(), &hits[0]["memory"]["id"]), (2, &dark["id"]));
    let hits = search(&app, &sid, json!({"query": "prefers dark mode"})).await;
    assert_eq!(hits[0]["memory"]["id"], dark["id"], "hybrid is the default");
    let hits = search(&app, &sid, json!({"query": "invoices", "memory_type": "note"})).await;
    assert!(hits.iter().all(|h| h["memory"]["id"] != pay["id"]), "memory_type filters");

    // A client vector: the offline provider's own embedding of the dark-mode text.
    let p = planbase::llm::embedding::OfflineEmbedder::new(planbase::llm::embedding::OFFLINE_MODEL, 256);
    let v = p.embed_one("The user prefers dark mode in the code editor");
    let hits = search(&app, &sid, json!({"vector": v, "top_k": 1})).await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["memory"]["id"], dark["id"]);
    assert!(hits[0]["score"].as_f64().unwrap() > 0.99);
}

#[tokio::test]
async fn fts_syntax_in_a_query_is_searched_not_an_error() {
    let app = TestApp::spawn().await;
    let sid = new_session(&app).await;
    let m = remember(&app, &sid, json!({"content": "call NEAR(x) with star * and \"quotes"})).await;
    for q in ["\"NEAR(", "*", "\"unbalanced", "a OR", "AND", "col:x", "^", "-", "\"\"", "NEAR(x"] {
        for mode in ["text", "hybrid"] {
            let hits = search(&app, &sid, json!({"query": q, "mode": mode})).await;
            if q == "NEAR(x" {
                assert_eq!(hits[0]["memory"]["id"], m["id"], "{q}");
            }
        }
    }
}

#[tokio::test]
async fn the_embedding_cache_counts_a_hit_on_a_repeated_text() {
    let app = TestApp::spawn().await;
    let sid = new_session(&app).await;
    let text = "the same words twice";
    remember(&app, &sid, json!({"content": text})).await;
    let hits = || async {
        let pool = app.state.storage.shared.embedding_cache.clone();
        planbase::storage::pools::with_conn(&pool, move |c| {
            planbase::llm::embedding_cache::hits(c, planbase::llm::embedding::OFFLINE_MODEL, 256, text)
        })
        .await
        .unwrap()
    };
    assert_eq!(hits().await, Some(0));
    search(&app, &sid, json!({"query": text, "mode": "vector"})).await;
    assert_eq!(hits().await, Some(1));
}

#[tokio::test]
async fn concurrent_creates_of_the_same_text_all_succeed() {
    let app = TestApp::spawn().await;
    let sid = new_session(&app).await;
    let path = format!("/api/v1/sessions/{sid}/memories");
    let reqs = (0..24).map(|i| post(&app, &path, json!({"content": format!("shared text {}", i % 3)})));
    for (status, body) in futures::future::join_all(reqs).await {
        assert_eq!(status, 201, "{body}");
    }
    let (_, list) = app.get(&format!("{path}?limit=100")).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 24);
}

/// A session file from before migration 0002 (no memories_fts) is upgraded on open, and its
/// existing memories become searchable by text.
#[tokio::test]
async fn a_version_1_session_shard_is_upgraded_and_backfilled() {
    let app = TestApp::spawn().await;
    let sid = new_session(&app).await;
    let id: uuid::Uuid = sid.parse().unwrap();
    app.state.storage.shards.close(ShardKind::Session, id).await.unwrap();
    let path = app.state.storage.root.shard(ShardKind::Session, id);
    tokio::task::spawn_blocking(move || {
        let c = rusqlite::Connection::open(path).unwrap();
        c.execute_batch(&crate::helpers::session_schema_3_message_triggers()).unwrap();
        c.execute_batch(
            "DROP TRIGGER memories_fts_ai; DROP TRIGGER memories_fts_ad; DROP TRIGGER memories_fts_au;
             DROP TABLE memories_fts;
             ALTER TABLE action_runs DROP COLUMN turn_id; ALTER TABLE action_runs DROP COLUMN action_id;
             ALTER TABLE action_runs DROP COLUMN action_type; PRAGMA user_version = 1;
             INSERT INTO memories (id, content, memory_type, created_at)
             VALUES ('0190f0f0-0000-7000-8000-000000000001', 'legacy zebra memory', 'note', '2026-01-01T00:00:00.000Z');",
        )
        .unwrap();
    })
    .await
    .unwrap();
    let hits = search(&app, &sid, json!({"query": "zebra", "mode": "text"})).await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["memory"]["content"], "legacy zebra memory");
    let m = remember(&app, &sid, json!({"content": "new zebra memory"})).await;
    let hits = search(&app, &sid, json!({"query": "zebra", "mode": "vector"})).await;
    assert_eq!(hits.len(), 1, "only memories with an embedding take part in vector search");
    assert_eq!(hits[0]["memory"]["id"], m["id"]);
}
