//! Messages over HTTP: validation (nothing stored on 400/413), the tool-call merge,
//! idempotent retries, history pages (incl. 100k messages), and in-session search.

use serde_json::{json, Value};

use crate::helpers::{assert_error_shape, TestApp};
use crate::sessions::{append, create_session, user_text};

async fn new_session(app: &TestApp) -> String {
    create_session(app, json!({})).await["id"].as_str().unwrap().to_string()
}

async fn all_messages(app: &TestApp, sid: &str) -> Vec<Value> {
    let (st, page) = app.get(&format!("/api/v1/sessions/{sid}/messages?limit=200")).await;
    assert_eq!(st, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn append_returns_the_stored_message() {
    let app = TestApp::spawn().await;
    let sid = new_session(&app).await;
    let msg = json!({"id": "client_id-1", "role": "user", "metadata": {"a": 1},
                     "parts": [{"type": "text", "text": "hello world"}, {"type": "data-x", "data": {"k": [1]}},
                               {"type": "future-part", "whatever": true}]});
    let (st, m) = append(&app, &sid, msg).await;
    assert_eq!(st, 201, "{m}");
    assert_eq!((m["id"].as_str(), m["seq"].as_i64(), m["role"].as_str()), (Some("client_id-1"), Some(1), Some("user")));
    assert_eq!(m["parts"][2], json!({"type": "future-part", "whatever": true}));
    assert_eq!((m["metadata"].clone(), m["content"].as_str()), (json!({"a": 1}), Some("hello world")));
    assert!(m["created_at"].as_str().is_some());
    for bad_id in [json!("has space"), json!("x".repeat(129)), json!("ünï")] {
        let (st, m) = append(&app, &sid, json!({"id": bad_id, "role": "assistant", "parts": []})).await;
        assert_eq!(st, 201);
        assert!(uuid::Uuid::parse_str(m["id"].as_str().unwrap()).is_ok(), "{m}");
    }
    let stored = all_messages(&app, &sid).await;
    assert_eq!(stored.len(), 4);
    assert_eq!(stored[0], m, "history serves what the append answered");
}

#[tokio::test]
async fn malformed_and_oversized_messages_store_nothing() {
    let app =
        TestApp::spawn_with(|c| c.limits.max_message_bytes = planbase::config::ByteSize(4096), Default::default())
            .await;
    let sid = new_session(&app).await;
    let cases = [
        (json!({"role": "user", "parts": "text"}), "parts"),
        (json!({"role": "user"}), "parts"),
        (json!({"role": "user", "parts": ["text"]}), "parts[0]"),
        (json!({"role": "user", "parts": [{"text": "no type"}]}), "parts[0].type"),
        (json!({"role": "user", "parts": [{"type": 5}]}), "parts[0].type"),
        (json!({"role": "robot", "parts": []}), "role"),
        (json!({"parts": []}), "role"),
        (json!({"role": "user", "parts": [], "metadata": [1]}), "metadata"),
        (json!(["not", "an", "object"]), "body"),
    ];
    for (body, field) in cases {
        let (st, e) = append(&app, &sid, body.clone()).await;
        assert_eq!(st, 400, "{body}: {e}");
        let err = assert_error_shape(&e, "validation_failed");
        assert_eq!(err["details"]["field"], field, "{body}");
    }
    let big = user_text(&"x".repeat(5000));
    let (st, e) = append(&app, &sid, big).await;
    assert_eq!(st, 413, "{e}");
    assert_error_shape(&e, "payload_too_large");
    let (st, e) = crate::projects::post(&app, &format!("/api/v1/sessions/{sid}/messages"), json!(null)).await;
    assert_eq!(st, 400, "{e}");
    assert!(all_messages(&app, &sid).await.is_empty());
    let (_, s) = app.get(&format!("/api/v1/sessions/{sid}")).await;
    assert_eq!(s["message_count"], 0);
}

#[tokio::test]
async fn tool_call_merge_updates_in_place_and_resend_is_a_no_op() {
    let app = TestApp::spawn().await;
    let sid = new_session(&app).await;
    let first = json!({"id": "m1", "role": "assistant", "parts": [
        {"type": "step-start"},
        {"type": "tool-weather", "toolCallId": "c1", "state": "input-available", "input": {"city": "Oslo"}}]});
    let (st, _) = append(&app, &sid, first).await;
    assert_eq!(st, 201);
    let second = json!({"id": "m1", "role": "assistant", "parts": [
        {"type": "tool-weather", "toolCallId": "c1", "state": "output-available", "output": {"temp": 3}},
        {"type": "text", "text": "It is 3 degrees."}]});
    let (st, m) = append(&app, &sid, second.clone()).await;
    assert_eq!(st, 200, "{m}");
    let expected_parts = json!([
        {"type": "step-start"},
        {"type": "tool-weather", "toolCallId": "c1", "state": "output-available", "input": {"city": "Oslo"},
         "output": {"temp": 3}},
        {"type": "text", "text": "It is 3 degrees."}]);
    assert_eq!((m["seq"].as_i64(), m["parts"].clone()), (Some(1), expected_parts.clone()));
    let (st, again) = append(&app, &sid, second).await;
    assert_eq!(st, 200);
    assert_eq!(again, m);
    let msgs = all_messages(&app, &sid).await;
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["parts"], expected_parts);
    assert_eq!(msgs[0]["content"], "It is 3 degrees.");
    let (_, s) = app.get(&format!("/api/v1/sessions/{sid}")).await;
    assert_eq!(s["message_count"], 1, "{s}");
}

#[tokio::test]
async fn idempotency_key_replays_the_first_answer() {
    let app = TestApp::spawn().await;
    let sid = new_session(&app).await;
    let url = app.url(&format!("/api/v1/sessions/{sid}/messages"));
    let mut answers = Vec::new();
    for _ in 0..3 {
        let r = app.client.post(&url).header("Idempotency-Key", "k-1").json(&user_text("once")).send().await.unwrap();
        answers.push((r.status().as_u16(), r.json::<Value>().await.unwrap()));
    }
    assert_eq!(answers[0].0, 201);
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    assert_eq!(all_messages(&app, &sid).await.len(), 1);
}

#[tokio::test]
async fn history_pages_follow_the_contract() {
    let app = TestApp::spawn().await;
    let sid = new_session(&app).await;
    for i in 1..=7 {
        append(&app, &sid, user_text(&format!("m{i}"))).await;
    }
    let seqs =
        |v: &Value| v["items"].as_array().unwrap().iter().map(|m| m["seq"].as_i64().unwrap()).collect::<Vec<_>>();
    let base = format!("/api/v1/sessions/{sid}/messages");
    let (_, p) = app.get(&format!("{base}?limit=3")).await;
    assert_eq!((seqs(&p), p["next_cursor"].as_i64()), (vec![5, 6, 7], Some(5)));
    let (_, p) = app.get(&format!("{base}?limit=3&before=5")).await;
    assert_eq!((seqs(&p), p["next_cursor"].as_i64()), (vec![2, 3, 4], Some(2)));
    let (_, p) = app.get(&format!("{base}?limit=3&before=2")).await;
    assert_eq!((seqs(&p), p["next_cursor"].clone()), (vec![1], Value::Null));
    let (_, p) = app.get(&format!("{base}?limit=3&after=0")).await;
    assert_eq!((seqs(&p), p["next_cursor"].as_i64()), (vec![1, 2, 3], Some(3)));
    let (_, p) = app.get(&format!("{base}?limit=3&after=4")).await;
    assert_eq!((seqs(&p), p["next_cursor"].clone()), (vec![5, 6, 7], Value::Null));
    let (_, p) = app.get(&base).await;
    assert_eq!((seqs(&p).len(), p["next_cursor"].clone()), (7, Value::Null));
    for bad in ["limit=0", "limit=201", "before=3&after=1", "before=x"] {
        let (st, e) = app.get(&format!("{base}?{bad}")).await;
        assert_eq!(st, 400, "{bad}: {e}");
    }
}

#[tokio::test]
async fn a_hundred_thousand_messages_page_in_order() {
    let app = TestApp::spawn().await;
    let sid = new_session(&app).await;
    let uuid = uuid::Uuid::parse_str(&sid).unwrap();
    app.state
        .storage
        .shards
        .write(planbase::storage::ShardKind::Session, uuid, |c| {
            planbase::session::messages::bulk_insert(c, 100_000, |i| format!("message number {}", i + 1))
        })
        .await
        .unwrap();
    let base = format!("/api/v1/sessions/{sid}/messages");
    let check = |p: &Value, from: i64, to: i64| {
        let items = p["items"].as_array().unwrap();
        let seqs: Vec<i64> = items.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, (from..=to).collect::<Vec<_>>());
        assert_eq!(items[0]["content"], format!("message number {from}"));
    };
    let (_, last) = app.get(&format!("{base}?limit=200")).await;
    check(&last, 99_801, 100_000);
    assert_eq!(last["next_cursor"], 99_801);
    let (_, mid) = app.get(&format!("{base}?limit=100&before=50001")).await;
    check(&mid, 49_901, 50_000);
    let (_, mid) = app.get(&format!("{base}?limit=100&after=50000")).await;
    check(&mid, 50_001, 50_100);
    let (_, first) = app.get(&format!("{base}?limit=50&after=0")).await;
    check(&first, 1, 50);
    let (_, oldest) = app.get(&format!("{base}?limit=50&before=51")).await;
    check(&oldest, 1, 50);
    assert_eq!(oldest["next_cursor"], Value::Null);
    // Written behind the summary's back: the read reconciles from the shard.
    let (_, s) = app.get(&format!("/api/v1/sessions/{sid}")).await;
    assert_eq!(s["message_count"], 100_000, "{s}");
}

#[tokio::test]
async fn in_session_search_is_ranked_paged_and_syntax_proof() {
    let app = TestApp::spawn().await;
    let sid = new_session(&app).await;
    for text in ["the quick brown fox", "a lazy dog", "fox and fox again", "nothing here", "brown bear"] {
        append(&app, &sid, user_text(text)).await;
    }
    let base = format!("/api/v1/sessions/{sid}/search");
    let (st, r) = app.get(&format!("{base}?q=fox")).await;
    assert_eq!(st, 200, "{r}");
    let items = r["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["seq"], 3, "best first: {r}");
    assert!(items[0]["snippet"].as_str().unwrap().contains("<mark>fox</mark>"), "{r}");
    let (_, p1) = app.get(&format!("{base}?q=brown&limit=1")).await;
    let c = p1["next_cursor"].as_str().unwrap();
    let (_, p2) = app.get(&format!("{base}?q=brown&limit=1&cursor={c}")).await;
    assert_eq!(p2["next_cursor"], Value::Null);
    assert_ne!(p1["items"][0]["seq"], p2["items"][0]["seq"]);
    for junk in ["%22NEAR(", "*", "%22unbalanced", "a%20OR%20", "NEAR(a%20b)", "col:x", "^-+"] {
        let (st, r) = app.get(&format!("{base}?q={junk}")).await;
        assert_eq!(st, 200, "{junk}: {r}");
    }
    let (st, _) = app.get(&format!("{base}?q=%20")).await;
    assert_eq!(st, 400);
}

#[tokio::test]
async fn concurrent_appends_get_distinct_seqs_and_are_all_counted() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let sid = new_session(&app).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..64 {
        let (app, sid) = (app.clone(), sid.clone());
        tasks.spawn(async move { append(&app, &sid, user_text(&format!("c{i}"))).await });
    }
    let mut seqs = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let (st, m) = r.unwrap();
        assert_eq!(st, 201, "{m}");
        seqs.push(m["seq"].as_i64().unwrap());
    }
    seqs.sort();
    assert_eq!(seqs, (1..=64).collect::<Vec<_>>());
    let (_, s) = app.get(&format!("/api/v1/sessions/{sid}")).await;
    assert_eq!(s["message_count"], 64);
    let (st, e) = app.get(&format!("/api/v1/sessions/{sid}/search?q=c1&cursor=%21%21")).await;
    assert_eq!(st, 400, "{e}");
}

/// A session file at `storage.max_shard_bytes` answers 507 `storage_full` on write; reads
/// keep working, and so do other sessions.
#[tokio::test]
async fn a_full_shard_is_507_and_reads_keep_working() {
    let app = crate::helpers::TestApp::spawn_with(
        |c| c.storage.max_shard_bytes = planbase::config::ByteSize(1 << 20),
        axum::Router::new(),
    )
    .await;
    let (_, a) = crate::projects::post(&app, "/api/v1/sessions", serde_json::json!({})).await;
    let (_, b) = crate::projects::post(&app, "/api/v1/sessions", serde_json::json!({})).await;
    let (a, b) = (a["id"].as_str().unwrap().to_string(), b["id"].as_str().unwrap().to_string());
    // Varied words, so indexing them for search needs pages of its own.
    let big: String = (0..30_000).map(|i| format!("w{i} ")).collect();
    let mut full = None;
    for i in 0..20 {
        let msg = serde_json::json!({"role": "user", "parts": [{"type": "text", "text": format!("{i} {big}")}]});
        let (s, body) = crate::projects::post(&app, &format!("/api/v1/sessions/{a}/messages"), msg).await;
        if s != 201 {
            full = Some((s, body));
            break;
        }
    }
    let (s, body) = full.expect("the cap was reached");
    assert_eq!(s, 507, "{body}");
    crate::helpers::assert_error_shape(&body, "storage_full");
    let (s, page) = app.get(&format!("/api/v1/sessions/{a}/messages?limit=1")).await;
    assert_eq!((s, page["items"].as_array().map(Vec::len)), (200, Some(1)), "reads keep working");
    // Found by reliability part 4: search first indexes the newest messages on the writer,
    // which a full shard refuses; it answers from what is indexed instead of 507.
    let (s, hits) = app.get(&format!("/api/v1/sessions/{a}/search?q=w7")).await;
    assert_eq!(s, 200, "{hits}");
    let small = serde_json::json!({"role": "user", "parts": [{"type": "text", "text": "fine"}]});
    assert_eq!(
        crate::projects::post(&app, &format!("/api/v1/sessions/{b}/messages"), small).await.0,
        201,
        "other sessions write"
    );
}

fn nested(levels: usize) -> Value {
    (0..levels).fold(json!(1), |v, _| json!([v]))
}

/// Found by the reliability suite: a message nested ~125 levels deep was stored, then its
/// Idempotency-Key replay and the seed 002 history answered 500 (serde_json's recursion
/// limit, reached through the wrappers they parse). Depth is limited on the way in.
#[tokio::test]
async fn deeply_nested_messages_are_refused_and_deep_ones_within_the_limit_replay() {
    let app = TestApp::spawn().await;
    let sid = new_session(&app).await;
    for (field, msg) in [
        ("metadata", json!({"role": "user", "parts": [{"type": "text", "text": "x"}], "metadata": {"a": nested(100)}})),
        ("parts", json!({"role": "user", "parts": [{"type": "data-x", "data": nested(100)}]})),
    ] {
        let (s, body) = append(&app, &sid, msg).await;
        assert_eq!(s, 400, "{body}");
        assert_eq!(assert_error_shape(&body, "validation_failed")["details"]["field"], field);
    }
    assert!(all_messages(&app, &sid).await.is_empty(), "nothing stored");
    let deep = json!({"id": "deep", "role": "user", "parts": [{"type": "text", "text": "x"}],
                      "metadata": {"a": nested(62)}});
    for expected in [201, 201] {
        let r = app
            .client
            .post(app.url(&format!("/api/v1/sessions/{sid}/messages")))
            .header("idempotency-key", "k")
            .json(&deep)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), expected, "{}", r.text().await.unwrap());
    }
    let (s, page) = app.get(&format!("/api/conversations/{sid}/messages")).await;
    assert_eq!(s, 200, "{page}");
}

/// In-session search is indexed in batches (schema 0004): every acknowledged append and
/// every merged text is found at once, on both sides of a 256-message batch.
#[tokio::test]
async fn search_sees_every_append_across_index_batches() {
    let app = TestApp::spawn().await;
    let sid = new_session(&app).await;
    for i in 0..300 {
        let word = if i % 3 == 0 { "walrus" } else { "otter" };
        let msg =
            json!({"id": format!("m{i}"), "role": "user", "parts": [{"type": "text", "text": format!("{word} {i}")}]});
        assert_eq!(append(&app, &sid, msg).await.0, 201);
    }
    // A merge adds text to one message below the batch line and one above it.
    for id in ["m1", "m290"] {
        let msg = json!({"id": id, "role": "user", "parts": [{"type": "text", "text": "narwhal"}]});
        assert_eq!(append(&app, &sid, msg).await.0, 200);
    }
    let total = |q: &'static str| {
        let (app, sid) = (&app, &sid);
        async move {
            let (mut n, mut cursor) = (0, String::new());
            loop {
                let (st, r) = app.get(&format!("/api/v1/sessions/{sid}/search?q={q}&limit=100{cursor}")).await;
                assert_eq!(st, 200, "{r}");
                n += r["items"].as_array().unwrap().len();
                match r["next_cursor"].as_str() {
                    Some(c) => cursor = format!("&cursor={c}"),
                    None => return n,
                }
            }
        }
    };
    assert_eq!(total("walrus").await, 100);
    assert_eq!(total("otter").await, 200);
    assert_eq!(total("narwhal").await, 2);
    assert_eq!(append(&app, &sid, user_text("one more walrus")).await.0, 201);
    assert_eq!(total("walrus").await, 101, "an append after a search is found by the next one");
}

/// A shard written by schema 3 (every message indexed by a trigger) upgrades in place:
/// its indexed messages and the ones appended after the upgrade are all found.
#[tokio::test]
async fn a_version_3_shard_keeps_its_index_after_the_upgrade() {
    use planbase::storage::ShardKind;
    let app = TestApp::spawn().await;
    let sid = new_session(&app).await;
    append(&app, &sid, user_text("legacy heron")).await;
    let id: uuid::Uuid = sid.parse().unwrap();
    app.state.storage.shards.close(ShardKind::Session, id).await.unwrap();
    let path = app.state.storage.root.shard(ShardKind::Session, id);
    tokio::task::spawn_blocking(move || {
        let c = rusqlite::Connection::open(path).unwrap();
        c.execute_batch(
            &(crate::helpers::session_schema_3_message_triggers()
                + "
             INSERT INTO messages (id, role, content, created_at, updated_at)
             VALUES ('legacy-2', 'user', 'second heron', 't', 't');
             PRAGMA user_version = 3;"),
        )
        .unwrap();
    })
    .await
    .unwrap();
    append(&app, &sid, user_text("new heron")).await;
    let (st, r) = app.get(&format!("/api/v1/sessions/{sid}/search?q=heron")).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["items"].as_array().unwrap().len(), 3, "{r}");
}
