//! Plan task trees, dependencies, upserts and snapshots over HTTP.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_error_shape, TestApp};
use crate::projects::{create_project, post, send};

async fn task(app: &TestApp, base: &str, body: Value) -> i64 {
    let (s, t) = post(app, &format!("{base}/tasks"), body).await;
    assert_eq!(s, 201, "{t}");
    t["id"].as_i64().unwrap()
}

fn names(nodes: &Value) -> Vec<String> {
    nodes.as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn create_place_patch_move_and_delete() {
    let app = TestApp::spawn().await;
    let pid = create_project(&app, "plan").await["id"].as_str().unwrap().to_string();
    let base = format!("/api/v1/projects/{pid}");
    let root = task(&app, &base, json!({"name": "root"})).await;
    assert_eq!(root, 1, "task ids count from 1 per project");
    let b = task(&app, &base, json!({"name": "b", "parent_id": root})).await;
    task(&app, &base, json!({"name": "a", "parent_id": root, "position": 0})).await;
    task(&app, &base, json!({"name": "c", "after": b})).await;
    task(&app, &base, json!({"name": "b-", "before": b})).await;
    let (_, tree) = app.get(&format!("{base}/tasks")).await;
    assert_eq!(names(&tree["tasks"][0]["children"]), ["a", "b-", "b", "c"]);
    let (s, t) = send(
        &app,
        Method::PATCH,
        &format!("{base}/tasks/{b}"),
        Some(json!({"status": "running", "context_combined": "ctx"})),
    )
    .await;
    assert_eq!((s, t["status"].as_str()), (200, Some("running")), "{t}");
    assert!(t["context_updated_at"].is_string());
    let (s, e) = send(&app, Method::PATCH, &format!("{base}/tasks/{b}"), Some(json!({"status": "done"}))).await;
    assert_eq!(s, 400);
    assert_error_shape(&e, "validation_failed");
    let leaf = task(&app, &base, json!({"name": "leaf", "parent_id": b})).await;
    let (s, e) = post(&app, &format!("{base}/tasks/{root}/move"), json!({"parent_id": leaf})).await;
    assert_eq!(s, 422);
    assert_error_shape(&e, "invalid_move");
    let (s, m) = post(&app, &format!("{base}/tasks/{b}/move"), json!({"parent_id": null, "position": 0})).await;
    assert_eq!((s, m["path"].as_str(), m["depth"].as_i64()), (200, Some(format!("/{b}").as_str()), Some(0)));
    let (_, l) = app.get(&format!("{base}/tasks/{leaf}")).await;
    assert_eq!(l["path"].as_str(), Some(format!("/{b}/{leaf}").as_str()));
    let (_, tree) = app.get(&format!("{base}/tasks")).await;
    assert_eq!(names(&tree["tasks"]), ["b", "root"]);
    assert_eq!(names(&tree["tasks"][1]["children"]), ["a", "b-", "c"]);
    let (s, d) = send(&app, Method::DELETE, &format!("{base}/tasks/{b}"), None).await;
    assert_eq!((s, d["deleted"].as_i64()), (200, Some(2)));
    assert_eq!(app.get(&format!("{base}/tasks/{leaf}")).await.0, 404);
    let (_, sub) = app.get(&format!("{base}/tasks?root={root}&max_depth=0")).await;
    assert_eq!(sub["tasks"][0]["children"], json!([]));
}

#[tokio::test]
async fn not_found_cases() {
    let app = TestApp::spawn().await;
    let pid = create_project(&app, "plan").await["id"].as_str().unwrap().to_string();
    let base = format!("/api/v1/projects/{pid}");
    for path in [format!("{base}/tasks/99"), format!("{base}/tasks/x"), format!("{base}/snapshots/5")] {
        let (s, b) = app.get(&path).await;
        assert_eq!(s, 404, "{path}: {b}");
    }
    let (s, b) = post(&app, &format!("{base}/tasks"), json!({"name": "x", "parent_id": 42})).await;
    assert_eq!(s, 404);
    assert_error_shape(&b, "task_not_found");
    let missing = uuid::Uuid::now_v7();
    let (s, b) = app.get(&format!("/api/v1/projects/{missing}/tasks")).await;
    assert_eq!(s, 404);
    assert_error_shape(&b, "project_not_found");
}

#[tokio::test]
async fn dependencies_refuse_self_missing_and_cycles() {
    let app = TestApp::spawn().await;
    let pid = create_project(&app, "plan").await["id"].as_str().unwrap().to_string();
    let base = format!("/api/v1/projects/{pid}");
    let (a, b, c) = (
        task(&app, &base, json!({"name": "a"})).await,
        task(&app, &base, json!({"name": "b"})).await,
        task(&app, &base, json!({"name": "c"})).await,
    );
    assert_eq!(post(&app, &format!("{base}/tasks/{a}/dependencies"), json!({"depends_on": b})).await.0, 201);
    let (s, r) = post(&app, &format!("{base}/tasks/{b}/dependencies"), json!({"depends_on": c})).await;
    assert_eq!((s, r["depends_on"].clone()), (201, json!([c])));
    let (s, e) = post(&app, &format!("{base}/tasks/{c}/dependencies"), json!({"depends_on": a})).await;
    assert_eq!(s, 422);
    assert_eq!(assert_error_shape(&e, "dependency_cycle")["details"]["cycle"], json!([c, a, b, c]));
    let (s, e) = post(&app, &format!("{base}/tasks/{a}/dependencies"), json!({"depends_on": a})).await;
    assert_eq!(s, 422);
    assert_error_shape(&e, "dependency_cycle");
    let (s, _) = post(&app, &format!("{base}/tasks/{a}/dependencies"), json!({"depends_on": 77})).await;
    assert_eq!(s, 422);
    let (_, l) = app.get(&format!("{base}/tasks/{a}/dependencies")).await;
    assert_eq!(l["depends_on"], json!([b]));
    assert_eq!(send(&app, Method::DELETE, &format!("{base}/tasks/{a}/dependencies/{b}"), None).await.0, 204);
    assert_eq!(send(&app, Method::DELETE, &format!("{base}/tasks/{a}/dependencies/{b}"), None).await.0, 404);
    send(&app, Method::DELETE, &format!("{base}/tasks/{c}"), None).await;
    let (_, l) = app.get(&format!("{base}/tasks/{b}/dependencies")).await;
    assert_eq!(l["depends_on"], json!([]), "deleting a task removes its edges");
}

#[tokio::test]
async fn upsert_validates_first_and_snapshots_restore() {
    let app = TestApp::spawn().await;
    let pid = create_project(&app, "plan").await["id"].as_str().unwrap().to_string();
    let base = format!("/api/v1/projects/{pid}");
    let doc = json!({"note": "v1", "tasks": [
        {"id": 10, "name": "goal", "children": [{"id": 11, "name": "step 1"}, {"id": 12, "name": "step 2", "dependencies": [11]}, {"name": "no id"}]}
    ]});
    let (s, t) = send(&app, Method::PUT, &format!("{base}/tasks"), Some(doc)).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(names(&t["tasks"][0]["children"]), ["step 1", "step 2", "no id"]);
    assert_eq!(t["tasks"][0]["children"][2]["id"].as_i64(), Some(13));
    assert_eq!(t["tasks"][0]["children"][1]["dependencies"], json!([11]));
    for bad in [
        json!({"tasks": [{"id": 1, "name": "x"}, {"id": 1, "name": "dup"}]}),
        json!({"tasks": [{"id": 1, "name": "x", "dependencies": [99]}]}),
        json!({"tasks": [{"id": 1, "name": "x", "dependencies": [2]}, {"id": 2, "name": "y", "dependencies": [1]}]}),
        json!({"tasks": [{"id": 1, "name": ""}]}),
        json!({"tasks": [{"id": 1, "name": "x", "status": "bogus"}]}),
    ] {
        let (s, _) = send(&app, Method::PUT, &format!("{base}/tasks"), Some(bad.clone())).await;
        assert!(s == 400 || s == 422, "{bad}: {s}");
        let (_, now) = app.get(&format!("{base}/tasks")).await;
        assert_eq!(names(&now["tasks"][0]["children"]), ["step 1", "step 2", "no id"], "nothing changed after {bad}");
    }
    let (_, snaps) = app.get(&format!("{base}/snapshots")).await;
    let v1 = snaps["items"][0]["id"].as_i64().unwrap();
    assert_eq!(snaps["items"][0]["note"].as_str(), Some("v1"));
    send(&app, Method::DELETE, &format!("{base}/tasks/10"), None).await;
    let (s, manual) = post(&app, &format!("{base}/snapshots"), json!({"note": "empty"})).await;
    assert_eq!(s, 201, "{manual}");
    let (s, r) = post(&app, &format!("{base}/snapshots/{v1}/restore"), json!({})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(names(&r["tasks"][0]["children"]), ["step 1", "step 2", "no id"]);
    let (_, got) = app.get(&format!("{base}/tasks/12/dependencies")).await;
    assert_eq!(got["depends_on"], json!([11]));
    let (_, page) = app.get(&format!("{base}/snapshots?limit=2")).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert!(page["items"][0]["note"].as_str().unwrap().contains("before restoring"));
    let (_, rest) =
        app.get(&format!("{base}/snapshots?limit=2&cursor={}", page["next_cursor"].as_str().unwrap())).await;
    assert_eq!(rest["items"][0]["id"].as_i64(), Some(v1));
    let (_, full) = app.get(&format!("{base}/snapshots/{v1}")).await;
    assert_eq!(full["tasks"][0]["id"].as_i64(), Some(10));
}

/// The demo project comes with a plan, so the demo page's task tree has something to show.
#[tokio::test]
async fn the_demo_project_has_a_plan_with_a_dependency() {
    let app = TestApp::spawn().await;
    let p = planbase::project::demo::seed(&app.state.storage, planbase::script::Limits::default()).await.unwrap();
    let (s, tree) = app.get(&format!("/api/v1/projects/{}/tasks", p.id)).await;
    assert_eq!(s, 200, "{tree}");
    let roots = tree["tasks"].as_array().unwrap();
    let names: Vec<&str> = roots.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Ship the check-in script", "Reflection technique"]);
    let ship = roots[0]["children"].as_array().unwrap();
    assert_eq!(ship.len(), 3);
    assert_eq!(ship[2]["dependencies"], json!([ship[1]["id"]]), "publishing waits for the review");
}

/// Found by the reliability suite: an id near i64::MAX made fresh ids overflow (a panic on
/// the shard's writer thread in debug builds, negative ids in release). Ids are bounded.
#[tokio::test]
async fn huge_task_ids_are_refused_and_the_server_keeps_writing() {
    let app = TestApp::spawn().await;
    let pid = create_project(&app, "ids").await["id"].as_str().unwrap().to_string();
    let doc = json!({"tasks": [{"id": 9223372036854775807i64, "name": "a"}, {"name": "b"}]});
    let (s, body) = send(&app, Method::PUT, &format!("/api/v1/projects/{pid}/tasks"), Some(doc)).await;
    assert_eq!(s, 400, "{body}");
    assert_error_shape(&body, "validation_failed");
    let doc = json!({"tasks": [{"id": 9007199254740990i64, "name": "a"}, {"name": "b"}]});
    let (s, body) = send(&app, Method::PUT, &format!("/api/v1/projects/{pid}/tasks"), Some(doc)).await;
    assert_eq!(s, 200, "ids up to 2^53 - 1 work: {body}");
    assert_eq!(body["tasks"][1]["id"], 9007199254740991i64, "{body}");
    let (s, body) = post(&app, &format!("/api/v1/projects/{pid}/tasks"), json!({"name": "c"})).await;
    assert_eq!(s, 400, "no ids left, said clearly: {body}");
    assert_error_shape(&body, "validation_failed");
    let (_, tree) = app.get(&format!("/api/v1/projects/{pid}/tasks")).await;
    assert_eq!(tree["tasks"].as_array().unwrap().len(), 2, "nothing was added: {tree}");
    let other = create_project(&app, "still writable").await["id"].as_str().unwrap().to_string();
    assert_eq!(post(&app, &format!("/api/v1/projects/{other}/tasks"), json!({"name": "x"})).await.0, 201);
}
