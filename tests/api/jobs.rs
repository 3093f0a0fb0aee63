//! Jobs, job logs and action logs over HTTP; the job stream (SSE) is in `jobs/stream.rs`.

mod stream;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_error_shape, TestApp};
use crate::projects::{create_project, post, send};

pub async fn project(app: &TestApp) -> String {
    create_project(app, "jobs").await["id"].as_str().unwrap().to_string()
}

pub async fn new_job(app: &TestApp, pid: &str) -> Value {
    let (s, j) = post(app, &format!("/api/v1/projects/{pid}/jobs"), json!({"job_type": "decompose"})).await;
    assert_eq!(s, 201, "{j}");
    j
}

pub async fn set_status(app: &TestApp, job_id: &str, status: &str) -> (u16, Value) {
    send(app, Method::PATCH, &format!("/api/v1/jobs/{job_id}"), Some(json!({"status": status}))).await
}

pub async fn log(app: &TestApp, job_id: &str, message: &str) -> Value {
    let (s, l) = post(app, &format!("/api/v1/jobs/{job_id}/logs"), json!({"message": message})).await;
    assert_eq!(s, 201, "{l}");
    l
}

#[tokio::test]
async fn project_jobs_move_through_their_states() {
    let app = TestApp::spawn().await;
    let pid = project(&app).await;
    let body = json!({"job_type": "decompose", "mode": "auto", "target_task_id": 4, "params": {"depth": 2},
                      "metadata": {"by": "t"}});
    let (s, j) = post(&app, &format!("/api/v1/projects/{pid}/jobs"), body).await;
    assert_eq!(s, 201, "{j}");
    assert_eq!(
        (j["status"].as_str(), j["project_id"].as_str(), j["target_task_id"].as_i64()),
        (Some("pending"), Some(pid.as_str()), Some(4))
    );
    assert_eq!(
        (j["params"].clone(), j["stats"].clone(), j["result"].clone()),
        (json!({"depth": 2}), json!({}), Value::Null)
    );
    let id = j["job_id"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);
    assert_eq!(app.get(&format!("/api/v1/jobs/{id}")).await, (200, j.clone()));

    let (s, r) = set_status(&app, id, "completed").await;
    assert_eq!(s, 409, "pending → completed is illegal");
    let e = assert_error_shape(&r, "conflict");
    assert!(e["message"].as_str().unwrap().contains("pending") && e["message"].as_str().unwrap().contains("completed"));
    let (s, r) = set_status(&app, id, "running").await;
    assert_eq!((s, r["status"].as_str()), (200, Some("running")), "{r}");
    assert!(r["started_at"].is_string() && r["finished_at"].is_null());
    let (s, r) = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/jobs/{id}"),
        Some(json!({"status": "running", "stats": {"done": 3}})),
    )
    .await;
    assert_eq!((s, r["stats"].clone()), (200, json!({"done": 3})), "running → running reports progress");
    let done = json!({"status": "completed", "result": {"tasks": [1, 2]}, "stats": {"done": 5}, "error": null});
    let (s, r) = send(&app, Method::PATCH, &format!("/api/v1/jobs/{id}"), Some(done)).await;
    assert_eq!((s, r["result"].clone(), r["stats"].clone()), (200, json!({"tasks": [1, 2]}), json!({"done": 5})));
    assert!(r["finished_at"].as_str().unwrap() >= r["started_at"].as_str().unwrap());
    for to in ["running", "failed", "pending", "completed"] {
        let (s, b) = set_status(&app, id, to).await;
        assert_eq!(s, 409, "completed → {to}");
        assert_error_shape(&b, "conflict");
    }
    let (s, b) = post(&app, &format!("/api/v1/jobs/{id}/cancel"), json!({})).await;
    assert_eq!(s, 409, "{b}");

    let other = new_job(&app, &pid).await;
    let oid = other["job_id"].as_str().unwrap();
    let (s, c) = post(&app, &format!("/api/v1/jobs/{oid}/cancel"), json!({})).await;
    assert_eq!((s, c["status"].as_str()), (200, Some("cancelled")));
    assert!(c["started_at"].is_null() && c["finished_at"].is_string());
}

#[tokio::test]
async fn project_job_lists_page_and_filter() {
    let app = TestApp::spawn().await;
    let pid = project(&app).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(new_job(&app, &pid).await["job_id"].as_str().unwrap().to_string());
    }
    set_status(&app, &ids[1], "running").await;
    let (mut seen, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let q = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let (s, page) = app.get(&format!("/api/v1/projects/{pid}/jobs?limit=2{q}")).await;
        assert_eq!(s, 200, "{page}");
        seen.extend(page["items"].as_array().unwrap().iter().map(|j| j["job_id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.into()),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids, "newest first, each once");
    let (_, running) = app.get(&format!("/api/v1/projects/{pid}/jobs?status=running")).await;
    assert_eq!(running["items"].as_array().unwrap().len(), 1);
    for bad in ["limit=0", "limit=201", "limit=x", "cursor=garbage", "status=lost"] {
        let (s, b) = app.get(&format!("/api/v1/projects/{pid}/jobs?{bad}")).await;
        assert_eq!(s, 400, "{bad}");
        assert_error_shape(&b, "validation_failed");
    }
}

#[tokio::test]
async fn bad_job_input_is_400() {
    let app = TestApp::spawn().await;
    let pid = project(&app).await;
    for body in [
        json!({}),
        json!({"job_type": ""}),
        json!({"job_type": "x".repeat(101)}),
        json!({"job_type": 5}),
        json!({"job_type": "t", "params": [1]}),
        json!({"job_type": "t", "metadata": "m"}),
        json!({"job_type": "t", "target_task_id": "one"}),
    ] {
        let (s, b) = post(&app, &format!("/api/v1/projects/{pid}/jobs"), body.clone()).await;
        assert_eq!(s, 400, "{body}");
        assert_error_shape(&b, "validation_failed");
        let (s, _) = post(&app, "/api/v1/jobs", body.clone()).await;
        assert_eq!(s, 400, "unbound {body}");
    }
    let id = new_job(&app, &pid).await["job_id"].as_str().unwrap().to_string();
    for body in [json!({}), json!({"status": "done"}), json!({"status": "running", "stats": [1]})] {
        let (s, b) = send(&app, Method::PATCH, &format!("/api/v1/jobs/{id}"), Some(body.clone())).await;
        assert_eq!(s, 400, "{body} → {b}");
    }
    for body in [
        json!({"message": "m", "level": "fatal"}),
        json!({"message": "m".repeat(8193)}),
        json!({}),
        json!({"message": "m", "metadata": [1]}),
    ] {
        let (s, b) = post(&app, &format!("/api/v1/jobs/{id}/logs"), body.clone()).await;
        assert_eq!(s, 400, "{b}");
        assert_error_shape(&b, "validation_failed");
    }
}

#[tokio::test]
async fn unknown_jobs_and_projects_are_404() {
    let app = TestApp::spawn().await;
    let missing = uuid::Uuid::now_v7();
    for id in [missing.to_string(), "nope".into(), "../etc".into()] {
        for (m, path, body) in [
            (Method::GET, format!("/api/v1/jobs/{id}"), None),
            (Method::PATCH, format!("/api/v1/jobs/{id}"), Some(json!({"status": "running"}))),
            (Method::POST, format!("/api/v1/jobs/{id}/cancel"), None),
            (Method::GET, format!("/api/v1/jobs/{id}/logs"), None),
            (Method::POST, format!("/api/v1/jobs/{id}/logs"), Some(json!({"message": "m"}))),
            (Method::GET, format!("/api/v1/jobs/{id}/stream"), None),
        ] {
            let (s, b) = send(&app, m.clone(), &path, body).await;
            if id == "../etc" {
                assert_eq!(s, 404, "{m} {path}");
                continue;
            }
            assert_eq!(s, 404, "{m} {path} → {b}");
            assert_error_shape(&b, "job_not_found");
        }
    }
    for (m, path, body) in [
        (Method::GET, format!("/api/v1/projects/{missing}/jobs"), None),
        (Method::POST, format!("/api/v1/projects/{missing}/jobs"), Some(json!({"job_type": "t"}))),
        (Method::GET, "/api/v1/projects/nope/jobs".into(), None),
        (Method::GET, format!("/api/v1/projects/{missing}/action-logs"), None),
        (Method::POST, format!("/api/v1/projects/{missing}/action-logs"), Some(action("j", 1))),
    ] {
        let (s, b) = send(&app, m.clone(), &path, body).await;
        assert_eq!(s, 404, "{m} {path}");
        assert_error_shape(&b, "project_not_found");
    }
}

#[tokio::test]
async fn job_logs_page_by_id_and_take_post_mortem_notes() {
    let app = TestApp::spawn().await;
    let pid = project(&app).await;
    let id = new_job(&app, &pid).await["job_id"].as_str().unwrap().to_string();
    let mut logged = Vec::new();
    for (i, level) in ["debug", "info", "warning", "error", "info"].iter().enumerate() {
        let body = json!({"level": level, "message": format!("step {i}"), "metadata": {"i": i}});
        let (s, l) = post(&app, &format!("/api/v1/jobs/{id}/logs"), body).await;
        assert_eq!((s, l["level"].as_str(), l["job_id"].as_str()), (201, Some(*level), Some(id.as_str())), "{l}");
        assert_eq!(l["metadata"], json!({"i": i}));
        logged.push(l["id"].as_i64().unwrap());
    }
    let (s, page) = app.get(&format!("/api/v1/jobs/{id}/logs?limit=2")).await;
    assert_eq!(s, 200);
    let ids = |p: &Value| p["items"].as_array().unwrap().iter().map(|l| l["id"].as_i64().unwrap()).collect::<Vec<_>>();
    assert_eq!((ids(&page), page["next_cursor"].as_i64()), (logged[..2].to_vec(), Some(logged[1])));
    let (_, page) = app.get(&format!("/api/v1/jobs/{id}/logs?after={}&limit=2", logged[1])).await;
    assert_eq!(ids(&page), logged[2..4].to_vec());
    let (_, page) = app.get(&format!("/api/v1/jobs/{id}/logs?after={}", logged[3])).await;
    assert_eq!((ids(&page), page["next_cursor"].clone()), (logged[4..].to_vec(), Value::Null));
    for bad in ["limit=0", "limit=201", "after=x", "limit=two"] {
        let (s, b) = app.get(&format!("/api/v1/jobs/{id}/logs?{bad}")).await;
        assert_eq!(s, 400, "{bad}");
        assert_error_shape(&b, "validation_failed");
    }
    set_status(&app, &id, "running").await;
    set_status(&app, &id, "failed").await;
    let note = log(&app, &id, "post-mortem: the model timed out").await;
    assert_eq!(note["level"], "info", "level defaults to info");
}

pub fn action(job_id: &str, n: usize) -> Value {
    json!({"job_id": job_id, "job_type": "chat", "session_id": "s1", "user_message": format!("do {n}"),
           "action_kind": "task", "action_name": "create_task", "status": "completed", "success": true,
           "message": "ok", "details": {"n": n}})
}

#[tokio::test]
async fn action_logs_get_sequences_per_job_and_page_by_id() {
    let app = TestApp::spawn().await;
    let pid = project(&app).await;
    let path = format!("/api/v1/projects/{pid}/action-logs");
    let mut seqs = Vec::new();
    for (i, job) in ["a", "b", "a", "a", "b"].iter().enumerate() {
        let (s, l) = post(&app, &path, action(job, i)).await;
        assert_eq!(s, 201, "{l}");
        assert!(l["id"].is_i64() && l["created_at"].is_string() && l["success"] == true);
        assert_eq!(l["details"], json!({"n": i}));
        seqs.push(l["sequence"].as_i64().unwrap());
    }
    assert_eq!(seqs, [1, 1, 2, 3, 2]);
    let (_, a) = app.get(&format!("{path}?job_id=a")).await;
    let seq_of =
        |p: &Value| p["items"].as_array().unwrap().iter().map(|l| l["sequence"].as_i64().unwrap()).collect::<Vec<_>>();
    assert_eq!((seq_of(&a), a["next_cursor"].clone()), (vec![1, 2, 3], Value::Null));
    let (_, p1) = app.get(&format!("{path}?limit=3")).await;
    let c = p1["next_cursor"].as_str().unwrap();
    let (_, p2) = app.get(&format!("{path}?limit=3&cursor={c}")).await;
    assert_eq!((seq_of(&p1), seq_of(&p2), p2["next_cursor"].clone()), (vec![1, 1, 2], vec![3, 2], Value::Null));
    for bad in ["limit=0", "limit=201", "cursor=garbage"] {
        let (s, b) = app.get(&format!("{path}?{bad}")).await;
        assert_eq!(s, 400, "{bad}");
        assert_error_shape(&b, "validation_failed");
    }
    let mut bad_bodies = vec![
        json!({"job_id": "a"}),
        json!({"job_id": "", "action_kind": "k", "action_name": "n", "status": "s", "success": true}),
    ];
    for (field, v) in [("job_id", json!("j".repeat(201))), ("success", json!("yes")), ("details", json!([1]))] {
        let mut b = action("a", 0);
        b[field] = v;
        bad_bodies.push(b);
    }
    for body in bad_bodies {
        let (s, b) = post(&app, &path, body.clone()).await;
        assert_eq!(s, 400, "{body}");
        assert_error_shape(&b, "validation_failed");
    }
}

#[tokio::test]
async fn eight_concurrent_writers_get_gap_free_sequences() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let pid = project(&app).await;
    let writers = (0..8).map(|w| {
        let (app, path) = (app.clone(), format!("/api/v1/projects/{pid}/action-logs"));
        tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..25 {
                let (s, l) = post(&app, &path, action("shared-job", w * 100 + i)).await;
                assert_eq!(s, 201, "{l}");
                seqs.push(l["sequence"].as_i64().unwrap());
            }
            seqs
        })
    });
    let mut all: Vec<i64> = futures::future::join_all(writers).await.into_iter().flat_map(Result::unwrap).collect();
    all.sort();
    assert_eq!(all, (1..=200).collect::<Vec<_>>(), "unique and gap-free");
    let (_, stored) = app.get(&format!("/api/v1/projects/{pid}/action-logs?job_id=shared-job&limit=200")).await;
    assert_eq!(stored["items"].as_array().unwrap().len(), 200);
}

const SECRET: &str = "sk-live-S3CR3T-never-stored";

/// `key: SECRET` wrapped 6 levels deep in alternating arrays and objects.
fn buried(key: &str) -> Value {
    let mut v = json!({ key: SECRET, "visible": "kept" });
    for depth in 0..6 {
        v = if depth % 2 == 0 { json!([{"pad": depth}, v]) } else { json!({"level": v}) };
    }
    v
}

pub fn file_contains(path: &std::path::Path, needle: &str) -> bool {
    std::fs::read(path).map(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes())).unwrap_or(false)
}

#[tokio::test]
async fn secrets_never_reach_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    let app = TestApp::spawn_at(root.clone(), |_| {}, axum::Router::new()).await.unwrap();
    let pid = project(&app).await;
    let details = json!({"a": buried("Authorization"), "b": buried("openai_api_key"), "c": buried("X-Api-Key")});
    let mut body = action("secret-job", 0);
    body["details"] = details.clone();
    let (s, stored) = post(&app, &format!("/api/v1/projects/{pid}/action-logs"), body).await;
    assert_eq!(s, 201, "{stored}");
    let text = stored.to_string();
    assert!(!text.contains(SECRET) && text.contains("[REDACTED]") && text.contains("kept"), "{text}");
    let job = new_job(&app, &pid).await["job_id"].as_str().unwrap().to_string();
    let (s, l) = post(&app, &format!("/api/v1/jobs/{job}/logs"), json!({"message": "m", "metadata": details})).await;
    assert_eq!(s, 201);
    assert!(!l.to_string().contains(SECRET));

    let db = root.join(format!("projects/project_{pid}.sqlite"));
    let wal = root.join(format!("projects/project_{pid}.sqlite-wal"));
    assert!(file_contains(&wal, "[REDACTED]") || file_contains(&db, "[REDACTED]"), "the rows were written");
    for f in [&db, &wal] {
        assert!(!file_contains(f, SECRET), "{} holds the secret", f.display());
    }
    app.stop().await;
    assert!(file_contains(&db, "[REDACTED]"), "checkpointed at shutdown");
    for f in [&db, &wal] {
        assert!(!file_contains(f, SECRET), "{} holds the secret after stop", f.display());
    }
}

#[tokio::test]
async fn long_lists_and_strings_are_cut() {
    let app = TestApp::spawn().await;
    let pid = project(&app).await;
    let mut body = action("long", 0);
    body["details"] = json!({"list": (0..50).collect::<Vec<_>>(), "deep": [{"s": "é".repeat(5000)}]});
    body["message"] = json!("m".repeat(3000));
    body["user_message"] = json!("u".repeat(1025));
    let (s, l) = post(&app, &format!("/api/v1/projects/{pid}/action-logs"), body).await;
    assert_eq!(s, 201, "{l}");
    let list = l["details"]["list"].as_array().unwrap();
    assert_eq!((list.len(), list[19].as_i64(), list[20].as_str()), (21, Some(19), Some("… 30 more items")));
    assert_eq!(l["details"]["deep"][0]["s"].as_str().unwrap().chars().count(), 2048);
    assert_eq!(l["message"].as_str().unwrap().chars().count(), 1024);
    assert_eq!(l["user_message"].as_str().unwrap().chars().count(), 1024);
    let (_, listed) = app.get(&format!("/api/v1/projects/{pid}/action-logs?job_id=long")).await;
    assert_eq!(listed["items"][0], l, "what was stored is what was answered");
    let job = new_job(&app, &pid).await["job_id"].as_str().unwrap().to_string();
    let m = log(&app, &job, &"x".repeat(8192)).await;
    assert_eq!(m["message"].as_str().unwrap().chars().count(), 1024, "job log messages are message fields");
}
