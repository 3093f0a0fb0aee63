//! Memories embedded by the `openai` provider against the local mock's `/v1/embeddings`:
//! what is sent (text, model, `dimensions`, the key), ranking by the service's vectors, the
//! cache in front of it, retries, refusals and answers of the wrong size.

use axum::Router;
use planbase::storage::ShardKind;
use serde_json::{json, Value};

use super::{new_session, post, remember, search};
use crate::helpers::{assert_error_shape, TestApp};
use crate::llm_mock::{Mock, EMBED_KEY};

const MODEL: &str = "text-embedding-3-small";

/// The unit vector along axis `i`.
fn unit(dim: usize, i: usize) -> Vec<f32> {
    let mut v = vec![0.0; dim];
    v[i] = 1.0;
    v
}

/// A server whose embeddings come from a fresh mock, 8-dimensional.
async fn spawn() -> (Mock, TestApp) {
    let mock = Mock::start();
    let app = TestApp::spawn_with(mock.embedding_config(Some(8)), Router::new()).await;
    (mock, app)
}

/// `(memory_id, model, dim, vector)` of every stored embedding of a session.
async fn stored(app: &TestApp, sid: &str) -> Vec<(String, String, i64, Vec<f32>)> {
    let id: uuid::Uuid = sid.parse().unwrap();
    let sql = "SELECT memory_id, model, dim, vector FROM memory_embeddings ORDER BY memory_id";
    app.state
        .storage
        .shards
        .read(ShardKind::Session, id, move |c| {
            let mut stmt = c.prepare(sql)?;
            let rows = stmt.query_map([], |r| {
                let blob: Vec<u8> = r.get(3)?;
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, planbase::llm::vector::decode(&blob).unwrap()))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
        .unwrap()
}

fn ids(hits: &[Value]) -> Vec<Value> {
    hits.iter().map(|h| h["memory"]["id"].clone()).collect()
}

#[tokio::test]
async fn memories_are_embedded_by_the_service_with_the_configured_key() {
    let (mock, app) = spawn().await;
    let sid = new_session(&app).await;
    mock.set_vector("User prefers dark mode", unit(8, 3));
    let m = remember(&app, &sid, json!({"content": "User prefers dark mode"})).await;
    let seen = mock.embed_requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body, json!({"model": MODEL, "input": ["User prefers dark mode"], "dimensions": 8}));
    assert_eq!(seen[0].authorization, Some(format!("Bearer {EMBED_KEY}")), "the key from llm.api_key_env");
    let id = m["id"].as_str().unwrap().to_string();
    assert_eq!(stored(&app, &sid).await, vec![(id, MODEL.to_string(), 8, unit(8, 3))]);
}

/// Without `embedding.dim` nothing is sent as `dimensions`, and the model's own size is
/// expected (the mock answers text-embedding-3-small's 1536).
#[tokio::test]
async fn without_embedding_dim_the_models_own_size_is_used() {
    let mock = Mock::start();
    let app = TestApp::spawn_with(mock.embedding_config(None), Router::new()).await;
    let sid = new_session(&app).await;
    remember(&app, &sid, json!({"content": "a note"})).await;
    assert_eq!(mock.embed_requests()[0].body, json!({"model": MODEL, "input": ["a note"]}));
    assert_eq!(stored(&app, &sid).await[0].2, 1536);
}

#[tokio::test]
async fn vector_search_ranks_by_the_services_vectors() {
    let (mock, app) = spawn().await;
    let sid = new_session(&app).await;
    // Vectors unrelated to the words: only they can explain the order.
    let mut made = Vec::new();
    for (i, text) in ["alpha note", "beta note", "gamma note"].into_iter().enumerate() {
        mock.set_vector(text, unit(8, i));
        made.push(remember(&app, &sid, json!({"content": text})).await["id"].clone());
    }
    mock.set_vector("which one?", vec![0.2, 0.9, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0]);
    let hits = search(&app, &sid, json!({"query": "which one?", "mode": "vector"})).await;
    assert_eq!(ids(&hits), [made[1].clone(), made[2].clone(), made[0].clone()]);
    let norm = (0.2f64 * 0.2 + 0.9 * 0.9 + 0.5 * 0.5).sqrt();
    assert!((hits[0]["score"].as_f64().unwrap() - 0.9 / norm).abs() < 1e-4, "cosine: {}", hits[0]["score"]);

    let hits = search(&app, &sid, json!({"vector": unit(8, 2), "top_k": 1})).await;
    assert_eq!(ids(&hits), [made[2].clone()], "a client vector of the provider's size");
    let (status, body) =
        post(&app, &format!("/api/v1/sessions/{sid}/memories/search"), json!({"vector": unit(256, 0)})).await;
    assert_eq!(status, 400, "{body}");
    assert_error_shape(&body, "validation_failed");
}

/// Memories embedded offline before the switch take no part in vector search under openai,
/// even at the same size: vectors are compared only within one model.
#[tokio::test]
async fn vectors_of_another_model_are_not_compared() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    let offline = TestApp::spawn_at(root.clone(), |_| {}, Router::new()).await.unwrap();
    let sid = new_session(&offline).await;
    let before = remember(&offline, &sid, json!({"content": "zebra noted before"})).await;
    offline.stop().await;

    let mock = Mock::start();
    let app = TestApp::spawn_at(root, mock.embedding_config(Some(256)), Router::new()).await.unwrap();
    let after = remember(&app, &sid, json!({"content": "zebra noted after"})).await;
    let hits = search(&app, &sid, json!({"query": "zebra", "mode": "vector"})).await;
    assert_eq!(ids(&hits), [after["id"].clone()]);
    let hits = search(&app, &sid, json!({"query": "zebra", "mode": "text"})).await;
    assert!(ids(&hits).contains(&before["id"]), "text search still finds it");
}

#[tokio::test]
async fn a_cached_embedding_does_not_call_the_service_again() {
    let (mock, app) = spawn().await;
    let sid = new_session(&app).await;
    let text = "the same words twice";
    let m = remember(&app, &sid, json!({"content": text})).await;
    assert_eq!(mock.embed_calls(), 1);
    let hits = search(&app, &sid, json!({"query": text, "mode": "vector"})).await;
    assert_eq!(ids(&hits), [m["id"].clone()]);
    remember(&app, &sid, json!({"content": text})).await;
    assert_eq!(mock.embed_calls(), 1, "the query and the second memory came from the cache");
    let pool = app.state.storage.shared.embedding_cache.clone();
    let hits =
        planbase::storage::pools::with_conn(&pool, move |c| planbase::llm::embedding_cache::hits(c, MODEL, 8, text))
            .await
            .unwrap();
    assert_eq!(hits, Some(2));
    search(&app, &sid, json!({"query": "other words", "mode": "vector"})).await;
    assert_eq!(mock.embed_calls(), 2);
}

#[tokio::test]
async fn a_failed_call_is_retried() {
    let (mock, app) = spawn().await;
    let sid = new_session(&app).await;
    mock.fail_embeddings([500]);
    remember(&app, &sid, json!({"content": "worth a retry"})).await;
    let seen = mock.embed_requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].body, seen[1].body);
    assert_eq!(stored(&app, &sid).await.len(), 1);
}

#[tokio::test]
async fn a_service_that_keeps_failing_answers_503_and_stores_nothing() {
    let (mock, app) = spawn().await;
    let sid = new_session(&app).await;
    let path = format!("/api/v1/sessions/{sid}/memories");
    mock.fail_embeddings([500, 500]);
    let (status, body) = post(&app, &path, json!({"content": "never stored"})).await;
    assert_eq!(status, 503, "{body}");
    let e = assert_error_shape(&body, "llm_service_error");
    assert_eq!(e["retryable"], true);
    assert_eq!(mock.embed_calls(), 2, "one try and llm.max_retries = 1 retry");
    let (_, list) = app.get(&path).await;
    assert_eq!(list["items"], json!([]));
    assert!(stored(&app, &sid).await.is_empty());
    remember(&app, &sid, json!({"content": "never stored"})).await;
    assert_eq!(mock.embed_calls(), 3, "the failure was not cached");
}

#[tokio::test]
async fn a_refused_request_is_not_retried() {
    let (mock, app) = spawn().await;
    let sid = new_session(&app).await;
    // A retry would get a vector and succeed.
    mock.fail_embeddings([400]);
    let (status, body) = post(&app, &format!("/api/v1/sessions/{sid}/memories"), json!({"content": "x"})).await;
    assert_eq!(status, 503, "{body}");
    assert_error_shape(&body, "llm_service_error");
    assert_eq!(mock.embed_calls(), 1);
}

#[tokio::test]
async fn a_vector_of_the_wrong_size_is_an_error() {
    let (mock, app) = spawn().await;
    let sid = new_session(&app).await;
    let path = format!("/api/v1/sessions/{sid}/memories");
    mock.set_vector("too short", vec![1.0, 0.0, 0.0]);
    let (status, body) = post(&app, &path, json!({"content": "too short"})).await;
    assert_eq!(status, 503, "{body}");
    let e = assert_error_shape(&body, "llm_service_error");
    assert!(e["message"].as_str().unwrap().contains("3-dimensional vectors; 8 were expected"), "{body}");
    assert_eq!(mock.embed_calls(), 1, "the same request would get the same answer");
    let (_, list) = app.get(&path).await;
    assert_eq!(list["items"], json!([]));
    let (status, _) = post(&app, &format!("{path}/search"), json!({"query": "too short", "mode": "vector"})).await;
    assert_eq!(status, 503, "a query vector is checked too");
}
