//! Sessions over HTTP: create (with project links), get, list with filters and cursors,
//! patch, archive, delete, variables, and the registry summary (read-your-writes, reindex,
//! and catch-up after kill -9).

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_error_shape, TestApp};
use crate::projects::{create_project, post, send};
use crate::versions::VALID;

mod opening;
mod summary;

pub async fn create_session(app: &TestApp, body: Value) -> Value {
    let (s, v) = post(app, "/api/v1/sessions", body).await;
    assert_eq!(s, 201, "{v}");
    v
}

pub async fn append(app: &TestApp, sid: &str, msg: Value) -> (u16, Value) {
    post(app, &format!("/api/v1/sessions/{sid}/messages"), msg).await
}

pub fn user_text(text: &str) -> Value {
    json!({"role": "user", "parts": [{"type": "text", "text": text}]})
}

#[tokio::test]
async fn create_get_patch_archive_delete() {
    let app = TestApp::spawn().await;
    let body = json!({"user_id": "u1", "variables": {"mood": "ok"}, "metadata": {"k": 1}, "junk": true});
    let s = create_session(&app, body).await;
    let id = s["id"].as_str().unwrap().to_string();
    assert_eq!((s["status"].as_str(), s["name_source"].as_str()), (Some("active"), Some("auto")));
    assert_eq!((s["message_count"].as_i64(), s["user_id"].as_str()), (Some(0), Some("u1")));
    assert!(app.root.join(format!("sessions/session_{id}.sqlite")).exists());

    let (st, got) = app.get(&format!("/api/v1/sessions/{id}")).await;
    assert_eq!(st, 200, "{got}");
    assert_eq!(got["metadata"], json!({"k": 1}));
    assert_eq!(got["state"]["variables"]["session"], json!({"mood": "ok"}));
    assert_eq!(got["state"]["execution_status"], "waiting_input");

    let (st, p) = send(&app, Method::PATCH, &format!("/api/v1/sessions/{id}"), Some(json!({"name": "Mine"}))).await;
    assert_eq!(st, 200, "{p}");
    assert_eq!((p["name"].as_str(), p["name_source"].as_str()), (Some("Mine"), Some("user")));
    let (st, p) = send(&app, Method::PATCH, &format!("/api/v1/sessions/{id}"), Some(json!({"status": "nope"}))).await;
    assert_eq!(st, 400);
    assert_error_shape(&p, "validation_failed");

    let (st, a) = post(&app, &format!("/api/v1/sessions/{id}/archive"), json!({})).await;
    assert_eq!((st, a["status"].as_str()), (200, Some("archived")), "{a}");
    let (_, got) = app.get(&format!("/api/v1/sessions/{id}")).await;
    assert_eq!(got["state"]["status"], "archived");

    let (st, _) = send(&app, Method::DELETE, &format!("/api/v1/sessions/{id}"), None).await;
    assert_eq!(st, 204);
    assert!(!app.root.join(format!("sessions/session_{id}.sqlite")).exists());
    assert!(std::fs::read_dir(app.root.join("trash/session")).unwrap().count() == 1);
    let (st, e) = app.get(&format!("/api/v1/sessions/{id}")).await;
    assert_eq!(st, 404);
    assert_error_shape(&e, "session_not_found");
}

#[tokio::test]
async fn unknown_or_malformed_ids_are_404_everywhere() {
    let app = TestApp::spawn().await;
    let unknown = "0191f0c4-9d4a-7000-8000-000000000000";
    for id in [unknown, "not-a-uuid", "..%2Fx"] {
        for path in ["", "/messages", "/variables", "/search?q=x"] {
            let (st, e) = app.get(&format!("/api/v1/sessions/{id}{path}")).await;
            assert_eq!(st, 404, "{id}{path}: {e}");
            assert_error_shape(&e, "session_not_found");
        }
        let (st, e) = append(&app, id, user_text("hi")).await;
        assert_eq!(st, 404, "{e}");
        assert_error_shape(&e, "session_not_found");
        for (m, p) in [(Method::PATCH, ""), (Method::DELETE, ""), (Method::POST, "/archive")] {
            let (st, e) = send(&app, m, &format!("/api/v1/sessions/{id}{p}"), Some(json!({}))).await;
            assert_eq!(st, 404, "{e}");
        }
    }
    assert_eq!(std::fs::read_dir(app.root.join("sessions")).unwrap().count(), 0);
}

#[tokio::test]
async fn project_links_are_checked_and_the_script_is_snapshotted() {
    let app = TestApp::spawn().await;
    let (st, e) = post(&app, "/api/v1/sessions", json!({"project_id": "0191f0c4-9d4a-7000-8000-000000000000"})).await;
    assert_eq!(st, 404);
    assert_error_shape(&e, "project_not_found");
    let p = create_project(&app, "linked").await;
    let pid = p["id"].as_str().unwrap();
    let (_, files) = app.get(&format!("/api/v1/projects/{pid}/files")).await;
    let fid = files["items"][0]["id"].as_str().unwrap();
    let (st, e) = post(&app, "/api/v1/sessions", json!({"project_id": pid, "version_id": "v-missing"})).await;
    assert_eq!(st, 404, "{e}");
    let (st, _) = post(&app, "/api/v1/sessions", json!({"project_id": pid, "script_file_id": "nope"})).await;
    assert_eq!(st, 404);
    let s = create_session(&app, json!({"project_id": pid, "script_file_id": fid})).await;
    assert_eq!(s["project_id"].as_str(), Some(pid));
    let sid = s["id"].as_str().unwrap();
    let path = app.root.join(format!("sessions/session_{sid}.sqlite"));
    let conn = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let snap: String =
        conn.query_row("SELECT value FROM meta WHERE key = 'version_snapshot'", [], |r| r.get(0)).unwrap();
    let snap: Value = serde_json::from_str(&snap).unwrap();
    assert_eq!((snap["kind"].as_str(), snap["file_id"].as_str()), (Some("script_file"), Some(fid)));
    assert!(snap["yaml_content"].as_str().is_some_and(|y| !y.is_empty()));
    let (_, list) = app.get(&format!("/api/v1/sessions?project_id={pid}")).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn list_filters_and_cursors() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let s = create_session(&app, json!({"user_id": if i % 2 == 0 { "even" } else { "odd" }})).await;
        ids.push(s["id"].as_str().unwrap().to_string());
    }
    let (mut seen, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let q = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let (st, page) = app.get(&format!("/api/v1/sessions?limit=3{q}")).await;
        assert_eq!(st, 200, "{page}");
        seen.extend(page["items"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids);
    let (_, even) = app.get("/api/v1/sessions?user_id=even").await;
    assert_eq!(even["items"].as_array().unwrap().len(), 4);
    let (_, archived) = app.get("/api/v1/sessions?status=archived").await;
    assert_eq!(archived["items"], json!([]));
    for bad in ["limit=0", "limit=201", "cursor=%21%21", "status=nope"] {
        let (st, e) = app.get(&format!("/api/v1/sessions?{bad}")).await;
        assert_eq!(st, 400, "{bad}: {e}");
    }
}

#[tokio::test]
async fn variables_current_resolved_and_history() {
    let app = TestApp::spawn().await;
    let s = create_session(&app, json!({"variables": {"name": "Ann", "x": 1}})).await;
    let sid = s["id"].as_str().unwrap();
    let uuid = uuid::Uuid::parse_str(sid).unwrap();
    app.state
        .storage
        .shards
        .write(planbase::storage::ShardKind::Session, uuid, |c| {
            let store = json!({"global": {"x": 0, "g": true}, "session": {"name": "Ann", "x": 1},
                               "phase": {"x": 2}, "topic": {}});
            c.execute("UPDATE state SET variable_store = ?1", [store.to_string()])?;
            for (i, v) in ["\"a\"", "\"b\"", "\"c\""].iter().enumerate() {
                c.execute(
                    "INSERT INTO variable_history(message_seq, name, value, scope, created_at)
                     VALUES (?1, 'name', ?2, 'session', '2026-01-01T00:00:00.000Z')",
                    rusqlite::params![i as i64, v],
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let (st, v) = app.get(&format!("/api/v1/sessions/{sid}/variables")).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["resolved"], json!({"x": 2, "g": true, "name": "Ann"}));
    assert_eq!(v["scopes"]["phase"], json!({"x": 2}));
    let (_, h) = app.get(&format!("/api/v1/sessions/{sid}/variables?history=name&limit=2")).await;
    let vals: Vec<&Value> = h["items"].as_array().unwrap().iter().map(|r| &r["value"]).collect();
    assert_eq!(vals, [&json!("a"), &json!("b")]);
    let c = h["next_cursor"].as_str().unwrap();
    let (_, h) = app.get(&format!("/api/v1/sessions/{sid}/variables?history=name&limit=2&cursor={c}")).await;
    assert_eq!((h["items"][0]["value"].clone(), h["next_cursor"].clone()), (json!("c"), Value::Null));
}

#[tokio::test]
async fn a_pinned_version_is_snapshotted_with_its_files() {
    let app = TestApp::spawn().await;
    let pid = create_project(&app, "pinned").await["id"].as_str().unwrap().to_string();
    let files = json!({"files": [{"file_type": "session", "file_name": "main.yaml", "yaml_content": VALID}]});
    let (st, d) = send(&app, Method::PUT, &format!("/api/v1/projects/{pid}/draft"), Some(files)).await;
    assert_eq!(st, 200, "{d}");
    let (st, v) = post(&app, &format!("/api/v1/projects/{pid}/versions"), json!({})).await;
    assert_eq!(st, 201, "{v}");
    let vid = v["id"].as_str().unwrap();
    let other = create_project(&app, "other").await["id"].as_str().unwrap().to_string();
    let (st, _) = post(&app, "/api/v1/sessions", json!({"project_id": other, "version_id": vid})).await;
    assert_eq!(st, 404, "a version of another project");
    let s = create_session(&app, json!({"project_id": pid, "version_id": vid})).await;
    let sid = s["id"].as_str().unwrap();
    let (_, got) = app.get(&format!("/api/v1/sessions/{sid}")).await;
    assert_eq!(got["version_id"].as_str(), Some(vid), "{got}");
    let path = app.root.join(format!("sessions/session_{sid}.sqlite"));
    let conn = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let snap: String =
        conn.query_row("SELECT value FROM meta WHERE key = 'version_snapshot'", [], |r| r.get(0)).unwrap();
    let snap: Value = serde_json::from_str(&snap).unwrap();
    assert_eq!(snap["version_number"], "1.0.0");
    assert_eq!(snap["files"][0]["yaml_content"], VALID);
}
