//! Projects over HTTP: create, list with filters and cursors, patch, status changes, delete.

use serde_json::{json, Value};

use crate::helpers::{assert_error_shape, TestApp};

pub async fn post(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let r = app.client.post(app.url(path)).json(&body).send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

pub async fn send(app: &TestApp, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = app.client.request(method, app.url(path));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

pub async fn create_project(app: &TestApp, name: &str) -> Value {
    let (s, p) = post(app, "/api/v1/projects", json!({"name": name})).await;
    assert_eq!(s, 201, "{p}");
    p
}

#[tokio::test]
async fn create_get_and_default_files() {
    let app = TestApp::spawn().await;
    let body = json!({"name": "CBT intake", "description": "d", "author": "ann", "tags": ["cbt", "intake"],
                      "engine_version": "2.1", "engine_version_min": "2.0", "metadata": {"k": 1}, "unknown": true});
    let (s, p) = post(&app, "/api/v1/projects", body).await;
    assert_eq!(s, 201, "{p}");
    assert_eq!((p["status"].as_str(), p["name"].as_str()), (Some("draft"), Some("CBT intake")));
    assert_eq!(p["tags"], json!(["cbt", "intake"]));
    assert!(p["current_version_id"].is_null());
    let id = p["id"].as_str().unwrap();
    let (s, got) = app.get(&format!("/api/v1/projects/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(got["metadata"], json!({"k": 1}));
    assert!(got["file_bytes"].as_i64().unwrap() > 0);
    let (_, files) = app.get(&format!("/api/v1/projects/{id}/files")).await;
    let names: Vec<&str> =
        files["items"].as_array().unwrap().iter().map(|f| f["file_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["global.yaml", "roles.yaml", "skills.yaml"]);
    assert_eq!(files["items"][0]["content"], json!({"variables": []}));
    let (_, draft) = app.get(&format!("/api/v1/projects/{id}/draft")).await;
    assert_eq!((draft["files"].clone(), draft["validation_status"].as_str()), (json!([]), Some("unknown")));
    assert!(app.root.join(format!("projects/project_{id}.sqlite")).exists());
}

#[tokio::test]
async fn bad_input_is_400_and_changes_nothing() {
    let app = TestApp::spawn().await;
    for body in [
        json!({"name": ""}),
        json!({"name": 5}),
        json!({"name": "x", "tags": "t"}),
        json!({"name": "x", "metadata": [1]}),
        json!({}),
    ] {
        let (s, b) = post(&app, "/api/v1/projects", body.clone()).await;
        assert_eq!(s, 400, "{body} → {b}");
        assert_error_shape(&b, "validation_failed");
    }
    let (_, list) = app.get("/api/v1/projects").await;
    assert_eq!(list["items"], json!([]));
    assert_eq!(std::fs::read_dir(app.root.join("projects")).unwrap().count(), 0);
}

#[tokio::test]
async fn unknown_ids_are_404_project_not_found() {
    let app = TestApp::spawn().await;
    let missing = uuid::Uuid::now_v7();
    for path in [
        format!("/api/v1/projects/{missing}"),
        "/api/v1/projects/nope".into(),
        format!("/api/v1/projects/{missing}/files"),
        format!("/api/v1/projects/{missing}/draft"),
        format!("/api/v1/projects/{missing}/versions"),
    ] {
        let (s, b) = app.get(&path).await;
        assert_eq!(s, 404, "{path}");
        assert_error_shape(&b, "project_not_found");
    }
    let (s, b) =
        send(&app, reqwest::Method::PATCH, &format!("/api/v1/projects/{missing}"), Some(json!({"name": "x"}))).await;
    assert_eq!(s, 404);
    assert_error_shape(&b, "project_not_found");
    let (s, _) = send(&app, reqwest::Method::DELETE, &format!("/api/v1/projects/{missing}"), None).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn patch_and_status_changes() {
    let app = TestApp::spawn().await;
    let p = create_project(&app, "p").await;
    let id = p["id"].as_str().unwrap();
    let path = format!("/api/v1/projects/{id}");
    let (s, q) =
        send(&app, reqwest::Method::PATCH, &path, Some(json!({"name": "renamed", "tags": ["a"], "author": null})))
            .await;
    assert_eq!(s, 200, "{q}");
    assert_eq!((q["name"].as_str(), q["tags"].clone()), (Some("renamed"), json!(["a"])));
    assert!(q["updated_at"].as_str().unwrap() >= p["updated_at"].as_str().unwrap());
    for (action, status) in
        [("archive", "archived"), ("restore", "draft"), ("deprecate", "deprecated"), ("restore", "draft")]
    {
        let (s, r) = post(&app, &format!("{path}/{action}"), json!({})).await;
        assert_eq!((s, r["status"].as_str()), (200, Some(status)), "{action}");
    }
    let (s, r) = app.get(&path).await;
    assert_eq!((s, r["name"].as_str()), (200, Some("renamed")));
}

#[tokio::test]
async fn list_filters_and_cursor_pages() {
    let app = TestApp::spawn().await;
    for i in 0..7 {
        let tags = if i % 2 == 0 { json!(["even"]) } else { json!(["odd"]) };
        let (s, _) = post(&app, "/api/v1/projects", json!({"name": format!("proj {i}"), "author": if i < 3 {"ann"} else {"bob"}, "tags": tags, "description": if i == 5 {"special 100%_thing"} else {""}})).await;
        assert_eq!(s, 201);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/projects?limit=3&cursor={c}"),
            None => "/api/v1/projects?limit=3".into(),
        };
        let (s, page) = app.get(&path).await;
        assert_eq!(s, 200);
        seen.extend(page["items"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..7).rev().map(|i| format!("proj {i}")).collect();
    assert_eq!(seen, expected, "newest first, each once");
    let count = |v: &Value| v["items"].as_array().unwrap().len();
    assert_eq!(count(&app.get("/api/v1/projects?author=ann").await.1), 3);
    assert_eq!(count(&app.get("/api/v1/projects?tag=even").await.1), 4);
    assert_eq!(count(&app.get("/api/v1/projects?q=100%25_").await.1), 1, "LIKE wildcards in q are literal");
    assert_eq!(count(&app.get("/api/v1/projects?q=PROJ%203").await.1), 1);
    assert_eq!(count(&app.get("/api/v1/projects?status=archived").await.1), 0);
    for bad in ["limit=0", "limit=201", "limit=x", "cursor=garbage", "status=lost"] {
        let (s, b) = app.get(&format!("/api/v1/projects?{bad}")).await;
        assert_eq!(s, 400, "{bad}: {b}");
        assert_error_shape(&b, "validation_failed");
    }
}

#[tokio::test]
async fn delete_moves_the_shard_to_trash() {
    let app = TestApp::spawn().await;
    let id = create_project(&app, "doomed").await["id"].as_str().unwrap().to_string();
    let (s, _) = send(&app, reqwest::Method::DELETE, &format!("/api/v1/projects/{id}"), None).await;
    assert_eq!(s, 204);
    assert_eq!(app.get(&format!("/api/v1/projects/{id}")).await.0, 404);
    assert!(!app.root.join(format!("projects/project_{id}.sqlite")).exists());
    let trashed: Vec<_> =
        std::fs::read_dir(app.root.join("trash/project")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(trashed.len(), 1);
    assert!(trashed[0].to_str().unwrap().starts_with(&id));
}
