//! Project copy, export, import and reindex: round trips between two servers, hostile
//! uploads, copies under concurrent writes, a rebuilt registry and the CLI commands.

use std::path::Path;
use std::process::{Command, Stdio};

use axum::Router;
use planbase::config::StorageConfig;
use planbase::storage::connection::{self, Mode, Pragmas};
use planbase::storage::migrate::FileKind;
use rusqlite::Connection;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::{assert_error_shape, TestApp};

const SCRIPT: &str = "session:\n  session_id: s1\n  phases:\n    - phase_id: p1\n      topics:\n        - topic_id: t1\n          actions:\n            - action_type: ai_say\n              action_id: a1\n              config:\n                content: hello\n";

async fn send(app: &TestApp, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = app.client.request(method, app.url(path));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn post(app: &TestApp, path: &str, body: Value) -> Value {
    let (s, v) = send(app, reqwest::Method::POST, path, Some(body)).await;
    assert!(s == 200 || s == 201, "POST {path}: {s} {v}");
    v
}

async fn create_project(app: &TestApp, body: Value) -> String {
    post(app, "/api/v1/projects", body).await["id"].as_str().unwrap().to_string()
}

async fn add_file(app: &TestApp, id: &str, file_type: &str, name: &str, yaml: &str) -> String {
    let body = json!({"file_type": file_type, "file_name": name, "yaml_content": yaml});
    post(app, &format!("/api/v1/projects/{id}/files"), body).await["id"].as_str().unwrap().to_string()
}

async fn put_draft(app: &TestApp, id: &str, yaml: &str) {
    let files = json!({"files": [{"file_type": "session", "file_name": "main.yaml", "yaml_content": yaml}]});
    let (s, v) = send(app, reqwest::Method::PUT, &format!("/api/v1/projects/{id}/draft"), Some(files)).await;
    assert_eq!(s, 200, "{v}");
}

/// `(status, headers, body)` of an export.
async fn export(app: &TestApp, id: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let r = app.client.get(app.url(&format!("/api/v1/projects/{id}/export"))).send().await.unwrap();
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    (status, headers, r.bytes().await.unwrap().to_vec())
}

async fn export_ok(app: &TestApp, id: &str) -> Vec<u8> {
    let (s, _, body) = export(app, id).await;
    assert_eq!(s, 200);
    body
}

async fn import(app: &TestApp, bytes: Vec<u8>, keep_id: bool) -> (u16, Value) {
    let url = app.url(&format!("/api/v1/projects/import?keep_id={keep_id}"));
    let r = app.client.post(url).header("content-type", "application/octet-stream").body(bytes).send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// Everything a client can read of a project, except `file_bytes` (the file's size on disk).
async fn snapshot(app: &TestApp, id: &str) -> Value {
    let (_, mut project) = app.get(&format!("/api/v1/projects/{id}")).await;
    project.as_object_mut().unwrap().remove("file_bytes");
    let (_, files) = app.get(&format!("/api/v1/projects/{id}/files?limit=200")).await;
    let (_, draft) = app.get(&format!("/api/v1/projects/{id}/draft")).await;
    let (_, list) = app.get(&format!("/api/v1/projects/{id}/versions?limit=200")).await;
    let mut versions = Vec::new();
    for v in list["items"].as_array().unwrap() {
        versions.push(app.get(&format!("/api/v1/projects/{id}/versions/{}", v["id"].as_str().unwrap())).await.1);
    }
    json!({"project": project, "files": files["items"], "draft": draft, "versions": versions})
}

/// A project with files, two versions, a rollback and a draft that differs from them all.
async fn rich_project(app: &TestApp) -> String {
    let body = json!({"name": "Intake", "description": "d", "author": "ann", "tags": ["cbt"], "metadata": {"k": 1}});
    let id = create_project(app, body).await;
    add_file(app, &id, "session", "main.yaml", SCRIPT).await;
    put_draft(app, &id, SCRIPT).await;
    let v1 = post(app, &format!("/api/v1/projects/{id}/versions"), json!({"release_note": "first"})).await;
    put_draft(app, &id, &SCRIPT.replace("hello", "hello again")).await;
    post(app, &format!("/api/v1/projects/{id}/versions"), json!({"version_number": "2.0.0"})).await;
    post(app, &format!("/api/v1/projects/{id}/versions/{}/rollback", v1["id"].as_str().unwrap()), json!({})).await;
    put_draft(app, &id, &SCRIPT.replace("hello", "work in progress")).await;
    id
}

#[tokio::test]
async fn export_then_import_into_another_server_gives_the_same_project() {
    let a = TestApp::spawn().await;
    let id = rich_project(&a).await;
    let before = snapshot(&a, &id).await;
    let (s, headers, body) = export(&a, &id).await;
    assert_eq!(s, 200);
    assert_eq!(headers["content-type"], "application/vnd.sqlite3");
    assert_eq!(headers["content-disposition"], format!("attachment; filename=\"project_{id}.sqlite\""));
    assert_eq!(headers["x-content-sha256"].to_str().unwrap(), sha256(&body));
    // Export is a read: nothing about the project moves, and a second export is identical.
    assert_eq!(snapshot(&a, &id).await, before);
    assert_eq!(sha256(&export_ok(&a, &id).await), sha256(&body));
    assert!(entries(&a.root.join("temp")).is_empty());

    let b = TestApp::spawn().await;
    let (s, kept) = import(&b, body.clone(), true).await;
    assert_eq!((s, kept["id"].as_str()), (201, Some(id.as_str())), "{kept}");
    assert_eq!(snapshot(&b, &id).await, before);
    let (s, again) = import(&b, body.clone(), true).await;
    assert_eq!(s, 409, "{again}");
    assert_error_shape(&again, "conflict");

    let (s, fresh) = import(&b, body, false).await;
    assert_eq!(s, 201, "{fresh}");
    let new_id = fresh["id"].as_str().unwrap();
    assert_ne!(new_id, id);
    let mut expected = before.clone();
    expected["project"]["id"] = json!(new_id);
    assert_eq!(snapshot(&b, new_id).await, expected);
    assert!(entries(&b.root.join("temp")).is_empty());
}

/// Edits a copy of `export` with raw SQL (defensive mode off: rusqlite's default).
fn tampered(dir: &Path, export: &[u8], name: &str, sql: &str) -> Vec<u8> {
    let path = dir.join(name);
    std::fs::write(&path, export).unwrap();
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(sql).unwrap();
    drop(conn);
    std::fs::read(&path).unwrap()
}

fn session_file(dir: &Path) -> Vec<u8> {
    let path = dir.join("session.sqlite");
    let pragmas = Pragmas::from_config(&StorageConfig::default());
    drop(connection::open(&path, FileKind::Session, &pragmas, Mode::Create).unwrap());
    std::fs::read(&path).unwrap()
}

/// Overwrites three whole pages in the middle of the file.
fn corrupt_pages(export: &[u8]) -> Vec<u8> {
    let mut bytes = export.to_vec();
    let mid = (bytes.len() / 4096 / 2) * 4096;
    bytes[mid..mid + 3 * 4096].fill(0xff);
    bytes
}

fn pseudo_random(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

const DANGLING: &str = "PRAGMA foreign_keys = OFF; INSERT INTO versions(id, version_number, files, rollback_from_version_id, published_at) \
                        VALUES ('v', '9.9.9', '[]', 'no-such-version', '2026-01-01T00:00:00.000Z');";

fn hostile_files(dir: &Path, export: &[u8]) -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let edit = |name, sql| tampered(dir, export, name, sql);
    let schema = |from: &str, to: &str, table: &str| {
        let (from, to) = (from.replace('\'', "''"), to.replace('\'', "''"));
        format!(
            "PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = replace(sql, '{from}', '{to}') WHERE name = '{table}'; PRAGMA writable_schema = OFF;"
        )
    };
    vec![
        ("random bytes", pseudo_random(64 * 1024), "not_sqlite"),
        ("an empty body", Vec::new(), "not_sqlite"),
        ("a SQLite header over garbage", [&export[..100], &pseudo_random(8192)[..]].concat(), "integrity"),
        ("a truncated export", export[..export.len() / 2].to_vec(), "integrity"),
        ("pages corrupted mid-file", corrupt_pages(export), "integrity"),
        ("a session shard", session_file(dir), "wrong_file_kind"),
        ("a newer schema", edit("newer", "PRAGMA user_version = 99;"), "schema_too_new"),
        (
            "an extra trigger",
            edit("trigger", "CREATE TRIGGER t AFTER INSERT ON files BEGIN DELETE FROM versions; END;"),
            "unexpected_schema",
        ),
        ("a view", edit("view", "CREATE VIEW v AS SELECT * FROM files;"), "unexpected_schema"),
        (
            "a changed CHECK",
            edit("check", &schema("'valid', 'invalid', 'unknown'", "'valid', 'invalid', 'unknown', 'x'", "draft")),
            "unexpected_schema",
        ),
        ("a changed DEFAULT", edit("default", &schema("DEFAULT ''", "DEFAULT 'x'", "versions")), "unexpected_schema"),
        (
            "a row breaking a CHECK",
            edit("json", "PRAGMA ignore_check_constraints = ON; UPDATE files SET content = '{';"),
            "integrity",
        ),
        ("a dangling reference", edit("fk", DANGLING), "integrity"),
        (
            "a bad status in meta",
            edit("status", "UPDATE meta SET value = '\"evil\"' WHERE key = 'status';"),
            "bad_meta",
        ),
        ("a meta id that is no UUID", edit("id", "UPDATE meta SET value = '../../etc' WHERE key = 'id';"), "bad_meta"),
        ("a meta of another kind", edit("kind", "UPDATE meta SET value = 'session' WHERE key = 'kind';"), "bad_meta"),
    ]
}

/// A project whose export spans many pages and more than the 1 MiB JSON body limit.
async fn big_project(app: &TestApp) -> String {
    let id = create_project(app, json!({"name": "Big"})).await;
    for i in 0..3 {
        let yaml: String = (0..4000).map(|l| format!("k{l}: line {i} {l} of a long rules file\n")).collect();
        add_file(app, &id, "rules", &format!("r{i}.yaml"), &yaml).await;
    }
    id
}

#[tokio::test]
async fn hostile_imports_are_refused_and_leave_nothing_behind() {
    let app = TestApp::spawn().await;
    let id = big_project(&app).await;
    let good = export_ok(&app, &id).await;
    assert!(good.len() > 1 << 20, "the export must pass max_body_bytes: {}", good.len());
    let dir = tempfile::tempdir().unwrap();
    let (projects, (_, list)) = (entries(&app.root.join("projects")), app.get("/api/v1/projects").await);
    for (what, bytes, reason) in hostile_files(dir.path(), &good) {
        let (s, body) = import(&app, bytes, false).await;
        assert_eq!(s, 422, "{what}: {body}");
        let e = assert_error_shape(&body, "invalid_project_file");
        assert_eq!(e["details"]["reason"], reason, "{what}: {body}");
        assert!(entries(&app.root.join("temp")).is_empty(), "{what} left files in temp/");
        assert_eq!(entries(&app.root.join("projects")), projects, "{what} changed projects/");
        assert_eq!(app.get("/api/v1/projects").await.1, list, "{what} changed the registry");
    }
    let (s, body) = import(&app, good, false).await;
    assert_eq!(s, 201, "an export over max_body_bytes imports: {body}");
    // The shard file itself (WAL mode, copied while the server idles) imports too.
    let raw = std::fs::read(app.root.join(format!("projects/project_{id}.sqlite"))).unwrap();
    let (s, body) = import(&app, raw, false).await;
    assert_eq!(s, 201, "{body}");
    assert!(entries(&app.root.join("temp")).is_empty());
}

#[tokio::test]
async fn imports_over_max_import_bytes_are_413() {
    let app = TestApp::spawn_with(|c| c.limits.max_import_bytes.0 = 64 * 1024, Router::new()).await;
    let id = big_project(&app).await;
    let good = export_ok(&app, &id).await;
    // A Content-Length over the limit is refused before the body is read.
    let (s, body) = import(&app, pseudo_random(100 * 1024), false).await;
    assert_eq!(s, 413, "{body}");
    assert_error_shape(&body, "payload_too_large");
    // Without a Content-Length the body is cut off as it streams past the limit.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = good.chunks(8192).map(|c| Ok(c.to_vec())).collect();
    let stream = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let r = app.client.post(app.url("/api/v1/projects/import")).body(stream).send().await;
    if let Ok(r) = r {
        assert_eq!(r.status().as_u16(), 413);
    } // else: the server closed the connection mid-upload, which is fine too
    assert!(entries(&app.root.join("temp")).is_empty());
    let (_, list) = app.get("/api/v1/projects").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn copy_takes_a_consistent_snapshot_while_writers_keep_going() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let id = create_project(&app, json!({"name": "Busy"})).await;
    let mut writers = Vec::new();
    for w in 0..4 {
        let fid = add_file(&app, &id, "rules", &format!("w{w}.yaml"), "n: 0\n").await;
        let (app, id) = (app.clone(), id.clone());
        writers.push(tokio::spawn(async move {
            for n in 1..=40 {
                let yaml = format!("n: {n}\nwriter: {w}\n");
                let body = json!({"yaml_content": yaml});
                let (s, v) =
                    send(&app, reqwest::Method::PUT, &format!("/api/v1/projects/{id}/files/{fid}"), Some(body)).await;
                assert_eq!(s, 200, "{v}");
            }
        }));
    }
    let mut copies = Vec::new();
    for _ in 0..5 {
        copies.push(post(&app, &format!("/api/v1/projects/{id}/copy"), json!({})).await);
    }
    for w in writers {
        w.await.unwrap();
    }
    for c in copies {
        assert_eq!(c["name"], "Busy (copy)");
        check_copy(&app.root, c["id"].as_str().unwrap());
    }
    assert!(entries(&app.root.join("temp")).is_empty());
}

/// The copy's file passes integrity_check, names itself by its new id, and every file row's
/// parsed content matches its YAML (no torn write).
fn check_copy(root: &Path, id: &str) {
    let conn = connection::open_untrusted(&root.join(format!("projects/project_{id}.sqlite"))).unwrap();
    assert!(connection::integrity_problems(&conn).unwrap().is_empty());
    let meta_id: String = conn.query_row("SELECT value FROM meta WHERE key = 'id'", [], |r| r.get(0)).unwrap();
    assert_eq!(meta_id, id);
    let mut stmt = conn.prepare("SELECT content, yaml_content FROM files").unwrap();
    let rows: Vec<(String, String)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(rows.len(), 7);
    for (content, yaml) in rows {
        let parsed: Value = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&content).unwrap(), parsed, "{yaml}");
    }
}

#[tokio::test]
async fn copy_names_and_drops_versions_on_request() {
    let app = TestApp::spawn().await;
    let id = rich_project(&app).await;
    let full = post(&app, &format!("/api/v1/projects/{id}/copy"), json!({})).await;
    let (orig, copy) = (snapshot(&app, &id).await, snapshot(&app, full["id"].as_str().unwrap()).await);
    assert_eq!(copy["versions"], orig["versions"]);
    assert_eq!((copy["files"].clone(), copy["draft"].clone()), (orig["files"].clone(), orig["draft"].clone()));
    assert_eq!(copy["project"]["current_version_id"], orig["project"]["current_version_id"]);
    let (_, original) = app.get(&format!("/api/v1/projects/{id}")).await;
    assert!(full["created_at"].as_str().unwrap() >= original["updated_at"].as_str().unwrap(), "{full}");
    assert_eq!(full["created_at"], full["updated_at"]);

    let body = json!({"name": "Fresh start", "include_versions": false});
    let bare = post(&app, &format!("/api/v1/projects/{id}/copy"), body).await;
    assert_eq!((bare["name"].as_str(), bare["status"].as_str()), (Some("Fresh start"), Some("draft")));
    assert!(bare["current_version_id"].is_null());
    let bare = snapshot(&app, bare["id"].as_str().unwrap()).await;
    assert_eq!(bare["versions"], json!([]));
    assert_eq!(bare["draft"], orig["draft"]);
    let (s, e) =
        send(&app, reqwest::Method::POST, &format!("/api/v1/projects/{id}/copy"), Some(json!({"name": ""}))).await;
    assert_eq!(s, 400, "{e}");
    let missing = format!("/api/v1/projects/{}/copy", uuid::Uuid::now_v7());
    assert_eq!(send(&app, reqwest::Method::POST, &missing, None).await.0, 404);
}

fn planbase(root: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_planbase"));
    c.env_remove("DB_ROOT").env("PLANBASE_STORAGE_DB_ROOT", root).env("PLANBASE_CONFIG", "/dev/null");
    c.stdin(Stdio::null());
    c
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// Every project as listed, without `file_bytes` (it changes when a WAL is checkpointed).
/// `created_at` is compared: create stamps the row and the shard's meta with one instant.
async fn all_projects(app: &TestApp) -> Vec<Value> {
    let (_, list) = app.get("/api/v1/projects?limit=200").await;
    let mut items = list["items"].as_array().unwrap().clone();
    for p in items.iter_mut() {
        let p = p.as_object_mut().unwrap();
        p.remove("file_bytes");
    }
    items
}

#[tokio::test]
async fn reindex_rebuilds_a_deleted_registry() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    let app = TestApp::spawn_at(root.clone(), |_| {}, Router::new()).await.unwrap();
    rich_project(&app).await;
    let archived = create_project(&app, json!({"name": "Old", "tags": ["a", "b"], "metadata": {"x": [1]}})).await;
    post(&app, &format!("/api/v1/projects/{archived}/archive"), json!({})).await;
    create_project(&app, json!({"name": "Plain", "engine_version": "2.1"})).await;
    let before = all_projects(&app).await;
    app.stop().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(root.join(format!("main/registry.sqlite{suffix}")));
    }
    let (ok, out, err) = run(planbase(&root).arg("reindex"));
    assert!(ok, "{out} {err}");
    assert!(out.contains("3 projects indexed, 3 adopted, 0 removed, 0 failed"), "{out}");
    let app = TestApp::spawn_at(root.clone(), |_| {}, Router::new()).await.unwrap();
    assert_eq!(all_projects(&app).await, before);
    let (ok, _, err) = run(planbase(&root).arg("reindex"));
    assert!(!ok && err.contains("another Planbase server holds"), "{err}");
    app.stop().await;
}

#[tokio::test]
async fn admin_reindex_adopts_orphans_and_drops_rows_without_a_shard() {
    let app = TestApp::spawn().await;
    let (a, b) = (create_project(&app, json!({"name": "A"})).await, create_project(&app, json!({"name": "B"})).await);
    let orphan = uuid::Uuid::now_v7().to_string();
    std::fs::write(app.root.join(format!("projects/project_{orphan}.sqlite")), export_ok(&app, &a).await).unwrap();
    let gone = app.root.join(format!("projects/project_{b}.sqlite"));
    std::fs::rename(&gone, app.root.join("trash/moved.sqlite")).unwrap();
    let broken = uuid::Uuid::now_v7().to_string();
    std::fs::write(app.root.join(format!("projects/project_{broken}.sqlite")), pseudo_random(8192)).unwrap();
    let report = post(&app, "/api/v1/admin/reindex", json!({})).await;
    assert_eq!((&report["projects"], &report["adopted"], &report["removed"]), (&json!(2), &json!(1), &json!(1)));
    assert_eq!(report["failed"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["failed"][0]["id"], broken);
    let (s, p) = app.get(&format!("/api/v1/projects/{orphan}")).await;
    assert_eq!((s, p["name"].as_str()), (200, Some("A")), "{p}");
    assert_eq!(app.get(&format!("/api/v1/projects/{b}")).await.0, 404);
}

#[tokio::test]
async fn cli_export_works_beside_a_server_and_cli_import_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    let app = TestApp::spawn_at(root.clone(), |_| {}, Router::new()).await.unwrap();
    let id = rich_project(&app).await;
    let before = snapshot(&app, &id).await;
    let file = dir.path().join("out.sqlite");
    let (ok, out, err) = run(planbase(&root).arg("export").arg(&id).arg(&file));
    assert!(ok, "{out} {err}");
    assert!(out.contains(&format!("sha256 {}", sha256(&std::fs::read(&file).unwrap()))), "{out}");
    assert_eq!(planbase::project::transfer::verify(&file).unwrap().to_string(), id);
    let (ok, _, err) = run(planbase(&root).arg("export").arg(&id).arg(&file));
    assert!(!ok, "an existing file is never overwritten: {err}");
    let (ok, _, err) = run(planbase(&root).arg("import").arg(&file));
    assert!(!ok && err.contains("another Planbase server holds"), "{err}");
    app.stop().await;
    let shard = root.join(format!("projects/project_{id}.sqlite"));
    let shard_bytes = std::fs::read(&shard).unwrap();
    let (ok, out, err) = run(planbase(&root).arg("export").arg(&id).arg(dir.path().join("idle.sqlite")));
    assert!(ok && out.contains("sha256"), "export without a server: {out} {err}");
    assert_eq!(std::fs::read(dir.path().join("idle.sqlite")).unwrap(), std::fs::read(&file).unwrap());
    assert!(std::fs::read(&shard).unwrap() == shard_bytes, "export changed the shard");

    let other = dir.path().join("other");
    let (ok, out, err) = run(planbase(&other).arg("import").arg(&file).arg("--keep-id"));
    assert!(ok && out.contains(&id), "{out} {err}");
    let (ok, _, err) = run(planbase(&other).arg("import").arg(&file).arg("--keep-id"));
    assert!(!ok && err.contains("already exists"), "{err}");
    let bad = dir.path().join("bad.sqlite");
    std::fs::write(&bad, pseudo_random(8192)).unwrap();
    let (ok, _, err) = run(planbase(&other).arg("import").arg(&bad));
    assert!(!ok && err.contains("not_sqlite"), "{err}");
    assert!(entries(&other.join("temp")).is_empty());
    let app = TestApp::spawn_at(other, |_| {}, Router::new()).await.unwrap();
    assert_eq!(snapshot(&app, &id).await, before);
    app.stop().await;
}

/// `job_index` follows the files: a copy starts without jobs, an import makes its jobs
/// reachable, a delete drops them, and reindex rebuilds the index.
#[tokio::test]
async fn job_index_follows_copy_import_delete_and_reindex() {
    let app = TestApp::spawn().await;
    let pid = crate::jobs::project(&app).await;
    let job = crate::jobs::new_job(&app, &pid).await["job_id"].as_str().unwrap().to_string();
    let (s, copy) = crate::projects::post(&app, &format!("/api/v1/projects/{pid}/copy"), json!({})).await;
    assert_eq!(s, 201, "{copy}");
    let (_, jobs) = app.get(&format!("/api/v1/projects/{}/jobs", copy["id"].as_str().unwrap())).await;
    assert_eq!(jobs["items"], json!([]), "a copy starts without the original's jobs");
    assert_eq!(app.get(&format!("/api/v1/jobs/{job}")).await.1["project_id"].as_str(), Some(pid.as_str()));

    let other = TestApp::spawn().await;
    let (s, imported) = import(&other, export_ok(&app, &pid).await, false).await;
    assert_eq!(s, 201, "{imported}");
    let (s, j) = other.get(&format!("/api/v1/jobs/{job}")).await;
    assert_eq!((s, j["project_id"].clone()), (200, imported["id"].clone()), "imported jobs are reachable");

    let (s, _) = crate::projects::post(&app, "/api/v1/admin/reindex", json!({})).await;
    assert_eq!(s, 200);
    assert_eq!(app.get(&format!("/api/v1/jobs/{job}")).await.0, 200, "reindex keeps the job reachable");
    let (s, _) = crate::projects::send(&app, reqwest::Method::DELETE, &format!("/api/v1/projects/{pid}"), None).await;
    assert_eq!(s, 204);
    assert_eq!(app.get(&format!("/api/v1/jobs/{job}")).await.0, 404, "a deleted project's jobs are gone");
}
