//! Cross-session search: fed behind the appends, paged, syntax-proof, cleaned on delete, and
//! caught up from the shards after an unclean stop.

use axum::Router;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::projects::{post, send};

async fn session(app: &TestApp, body: Value) -> String {
    let (s, v) = post(app, "/api/v1/sessions", body).await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_str().unwrap().to_string()
}

async fn say(app: &TestApp, sid: &str, text: &str) {
    let (s, v) = post(
        app,
        &format!("/api/v1/sessions/{sid}/messages"),
        json!({"role": "user", "parts": [{"type": "text", "text": text}]}),
    )
    .await;
    assert!(s == 201, "{v}");
}

/// Polls until the index (at most ~1 s behind) answers `n` hits.
async fn hits(app: &TestApp, query: &str, n: usize) -> Vec<Value> {
    for _ in 0..60 {
        let (s, v) = app.get(&format!("/api/v1/search?q={query}&limit=200")).await;
        assert_eq!(s, 200, "{v}");
        let items = v["items"].as_array().unwrap().clone();
        if items.len() == n {
            return items;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("search for {query} never reached {n} hits");
}

#[tokio::test]
async fn finds_exactly_the_sessions_that_said_it_paged() {
    let app = TestApp::spawn_with(|c| c.storage.max_open_shards = 2048, Router::new()).await;
    let mut ids = Vec::new();
    for i in 0..1000 {
        let sid = session(&app, json!({"user_id": "u"})).await;
        let text = if [7, 500, 993].contains(&i) { "I saw a quokka today" } else { "nothing special here" };
        say(&app, &sid, text).await;
        ids.push(sid);
    }
    let found = hits(&app, "quokka", 3).await;
    let mut got: Vec<&str> = found.iter().map(|h| h["session_id"].as_str().unwrap()).collect();
    got.sort();
    let mut want = vec![ids[7].as_str(), ids[500].as_str(), ids[993].as_str()];
    want.sort();
    assert_eq!(got, want);
    assert!(found[0]["snippet"].as_str().unwrap().contains("<mark>quokka</mark>"));
    let (_, p1) = app.get("/api/v1/search?q=quokka&limit=2").await;
    assert_eq!(p1["items"].as_array().unwrap().len(), 2);
    let (_, p2) =
        app.get(&format!("/api/v1/search?q=quokka&limit=2&cursor={}", p1["next_cursor"].as_str().unwrap())).await;
    assert_eq!((p2["items"].as_array().unwrap().len(), p2["next_cursor"].clone()), (1, json!(null)));
    for junk in ["%22NEAR(", "*", "%22unbalanced", "a%20OR", "col:x", "(((", "^"] {
        let (s, b) = app.get(&format!("/api/v1/search?q={junk}")).await;
        assert_eq!(s, 200, "{junk}: {b}");
    }
    assert_eq!(app.get("/api/v1/search?q=").await.0, 400);
    assert_eq!(app.get("/api/v1/search?q=quokka&user_id=someone-else").await.1["items"], json!([]));
    assert_eq!(send(&app, reqwest::Method::DELETE, &format!("/api/v1/sessions/{}", ids[7]), None).await.0, 204);
    assert_eq!(hits(&app, "quokka", 2).await.len(), 2, "a deleted session leaves the index");
}

#[tokio::test]
async fn an_unclean_stop_is_caught_up_from_the_shards() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    let app = TestApp::spawn_at(root.clone(), |_| {}, Router::new()).await.unwrap();
    let sid = session(&app, json!({})).await;
    say(&app, &sid, "first words").await;
    hits(&app, "first", 1).await;
    app.stop().await;
    // Behind the server's back, as if the feeder had died before writing: messages in the
    // shard that the index never saw, and a registry that says the last stop was unclean.
    let shard = rusqlite::Connection::open(root.join(format!("sessions/session_{sid}.sqlite"))).unwrap();
    for seq in 2..=4 {
        shard
            .execute(
                "INSERT INTO messages(seq, id, role, content, parts, created_at, updated_at) VALUES (?1, ?2, 'user', 'late wombat', '[]', 't', 't')",
                rusqlite::params![seq, format!("m{seq}")],
            )
            .unwrap();
    }
    drop(shard);
    let reg = rusqlite::Connection::open(root.join("main/registry.sqlite")).unwrap();
    reg.execute("UPDATE flush_state SET clean_shutdown = 0", []).unwrap();
    drop(reg);
    let again = TestApp::spawn_at(root.clone(), |_| {}, Router::new()).await.unwrap();
    assert_eq!(hits(&again, "wombat", 3).await.len(), 3);
    assert_eq!(hits(&again, "first", 1).await.len(), 1, "nothing indexed twice");
}

/// A NUL (or any control character) in a query is a term separator, not an FTS5 syntax
/// error: found by schemathesis as a 500 on every full-text search route.
#[tokio::test]
async fn control_characters_in_queries_are_answered() {
    let app = TestApp::spawn().await;
    let sid = session(&app, json!({})).await;
    say(&app, &sid, "zebra crossing at noon").await;
    let memory = json!({"content": "zebra memory"});
    assert_eq!(post(&app, &format!("/api/v1/sessions/{sid}/memories"), memory).await.0, 201);
    for path in ["/api/v1/search?q=%00".to_string(), format!("/api/v1/sessions/{sid}/search?q=%00")] {
        let (s, body) = app.get(&path).await;
        assert!(s == 200 || s == 400, "nothing but a NUL is no word, not an error: {s} {body}");
    }
    for q in ["zebra%00crossing", "zebra%01", "%00zebra"] {
        let (s, body) = app.get(&format!("/api/v1/search?q={q}")).await;
        assert_eq!(s, 200, "{q}: {body}");
        let (s, body) = app.get(&format!("/api/v1/sessions/{sid}/search?q={q}")).await;
        assert_eq!(s, 200, "{q}: {body}");
    }
    let (s, found) = app.get(&format!("/api/v1/sessions/{sid}/search?q=zebra%00crossing")).await;
    assert_eq!((s, found["items"].as_array().map(Vec::len)), (200, Some(1)), "{found}");
    let body = json!({"query": "zebra\u{0}memory", "mode": "text"});
    let (s, hits) = post(&app, &format!("/api/v1/sessions/{sid}/memories/search"), body).await;
    assert_eq!(s, 200, "{hits}");
}
