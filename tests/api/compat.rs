//! Seed 002's `/api/conversations` routes over the same sessions.

use serde_json::json;

use crate::helpers::{assert_error_shape, TestApp};
use crate::projects::{post, send};

#[tokio::test]
async fn conversations_are_sessions_with_seed_002_names() {
    let app = TestApp::spawn().await;
    let (s, c) =
        post(&app, "/api/conversations", json!({"title": "Trip", "user_id": "ann", "metadata": {"k": 1}})).await;
    assert_eq!(s, 201, "{c}");
    let uuid = c["uuid"].as_str().unwrap().to_string();
    assert_eq!((c["title"].as_str(), c["user_id"].as_str()), (Some("Trip"), Some("ann")));
    let (s, _) = post(
        &app,
        &format!("/api/v1/sessions/{uuid}/messages"),
        json!({"id": "m1", "role": "user", "parts": [{"type": "text", "text": "hello"}]}),
    )
    .await;
    assert_eq!(s, 201, "the same session under /api/v1");
    let (s, got) = app.get(&format!("/api/conversations/{uuid}")).await;
    assert_eq!((s, got["uuid"].as_str()), (200, Some(uuid.as_str())));
    let (_, msgs) = app.get(&format!("/api/conversations/{uuid}/messages")).await;
    let m = &msgs["items"][0];
    assert_eq!(
        (m["uuid"].as_str(), m["conversation_uuid"].as_str(), m["content"].as_str()),
        (Some("m1"), Some(uuid.as_str()), Some("hello"))
    );
    assert_eq!(m["parts"], json!([{"type": "text", "text": "hello"}]));
    let (_, list) = app.get("/api/conversations?user_id=ann").await;
    assert_eq!(list["items"][0]["uuid"].as_str(), Some(uuid.as_str()));
    assert_eq!(send(&app, reqwest::Method::DELETE, &format!("/api/conversations/{uuid}"), None).await.0, 204);
    let (s, b) = app.get(&format!("/api/conversations/{uuid}")).await;
    assert_eq!(s, 404);
    assert_error_shape(&b, "session_not_found");
    assert_eq!(app.get("/api/conversations/not-a-uuid/messages").await.0, 404);
}
