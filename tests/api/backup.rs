//! `planbase backup`, `check --backup` and `restore` with the real binary, beside a server.

use std::process::{Command, Stdio};

use axum::Router;
use serde_json::Value;

use crate::helpers::TestApp;
use crate::projects::{create_project, post};

fn planbase(root: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_planbase"));
    c.env_remove("DB_ROOT")
        .env("PLANBASE_STORAGE_DB_ROOT", root)
        .env("PLANBASE_CONFIG", "/dev/null")
        .stdin(Stdio::null());
    c
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// `POST /api/v1/admin/maintenance` (202 with the job), then the job until it ends: its
/// report, the job's `result`.
pub async fn maintenance(app: &TestApp) -> Value {
    let (s, job) = post(app, "/api/v1/admin/maintenance", serde_json::json!({})).await;
    assert_eq!((s, job["job_type"].as_str(), job["status"].as_str()), (202, Some("maintenance"), Some("pending")));
    let jid = job["job_id"].as_str().unwrap();
    for _ in 0..600 {
        let (_, done) = app.get(&format!("/api/v1/jobs/{jid}")).await;
        if done["status"] != "pending" && done["status"] != "running" {
            assert_eq!(done["status"], "completed", "{done}");
            return done["result"].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("maintenance job {jid} did not finish in 12 s");
}

/// One maintenance run at a time: while one is claimed, a POST answers 409
/// `maintenance_running` (retryable) and starts nothing; once it ends, a POST starts a job.
#[tokio::test]
async fn maintenance_runs_one_at_a_time() {
    let app = TestApp::spawn().await;
    let claim = app.state.maintenance.claim().unwrap_or_else(|_| panic!("nothing runs yet"));
    let (s, body) = post(&app, "/api/v1/admin/maintenance", serde_json::json!({})).await;
    assert_eq!(s, 409, "{body}");
    let err = crate::helpers::assert_error_shape(&body, "maintenance_running");
    assert_eq!(err["retryable"], true, "{body}");
    let count = |app: &TestApp| {
        let c = app.state.storage.shared.system_jobs.get().unwrap();
        c.query_row("SELECT count(*) FROM jobs WHERE job_type = 'maintenance'", [], |r| r.get::<_, i64>(0)).unwrap()
    };
    assert_eq!(count(&app), 0, "the refused run created no job");
    drop(claim);
    let report = maintenance(&app).await;
    assert_eq!(report["errors"], serde_json::json!([]), "{report}");
    assert_eq!(count(&app), 1);
}

/// A server job (maintenance, backup: `metadata.runner = "planbase"`) still pending or running
/// when the server stops can never finish: the next start marks it failed. A job that a
/// client drives is left as it was.
#[tokio::test]
async fn server_jobs_cut_short_fail_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let app = TestApp::spawn_at(root.clone(), |_| {}, Router::new()).await.unwrap();
    let mut ids = Vec::new();
    for meta in [serde_json::json!({"runner": "planbase"}), serde_json::json!({})] {
        let (s, j) = post(&app, "/api/v1/jobs", serde_json::json!({"job_type": "backup", "metadata": meta})).await;
        assert_eq!(s, 201, "{j}");
        let id = j["job_id"].as_str().unwrap().to_string();
        let r =
            app.client.patch(app.url(&format!("/api/v1/jobs/{id}"))).json(&serde_json::json!({"status": "running"}));
        assert_eq!(r.send().await.unwrap().status(), 200);
        ids.push(id);
    }
    app.stop().await;
    let app = TestApp::spawn_at(root, |_| {}, Router::new()).await.unwrap();
    let (_, server_job) = app.get(&format!("/api/v1/jobs/{}", ids[0])).await;
    assert_eq!(server_job["status"], "failed", "{server_job}");
    assert!(server_job["error"].as_str().unwrap().starts_with("interrupted"), "{server_job}");
    assert!(server_job["finished_at"].is_string(), "{server_job}");
    let (_, client_job) = app.get(&format!("/api/v1/jobs/{}", ids[1])).await;
    assert_eq!(client_job["status"], "running", "{client_job}");
}

async fn listing(app: &TestApp) -> Vec<Value> {
    let (_, list) = app.get("/api/v1/projects?limit=200").await;
    let mut items = list["items"].as_array().unwrap().clone();
    items.iter_mut().for_each(|p| drop(p.as_object_mut().unwrap().remove("file_bytes")));
    items
}

#[tokio::test]
async fn backup_beside_a_server_then_verify_and_restore_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let app = TestApp::spawn_at(a.clone(), |_| {}, Router::new()).await.unwrap();
    for name in ["one", "two"] {
        let id = create_project(&app, name).await["id"].as_str().unwrap().to_string();
        let body = serde_json::json!({"file_type": "rules", "file_name": "r.yaml", "yaml_content": "x: 1"});
        assert_eq!(post(&app, &format!("/api/v1/projects/{id}/files"), body).await.0, 201);
    }
    let before = listing(&app).await;
    let (ok, out) = run(planbase(&a).arg("backup"));
    assert!(ok, "{out}");
    let backup_dir = std::path::PathBuf::from(out.trim().rsplit(' ').next().unwrap());
    let manifest: Value = serde_json::from_slice(&std::fs::read(backup_dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["complete"], true);
    let files: Vec<&str> = manifest["files"].as_array().unwrap().iter().map(|f| f["file"].as_str().unwrap()).collect();
    assert_eq!(files.iter().filter(|f| f.starts_with("projects/")).count(), 2);
    assert!(files.contains(&"main/registry.sqlite") && !files.iter().any(|f| f.starts_with("cache/")));
    let (ok, out) = run(planbase(&a).args(["check", "--backup"]).arg(&backup_dir));
    assert!(ok && out.contains("files verified"), "{out}");
    let (ok, out) = run(planbase(&a).arg("restore").arg(&backup_dir).arg("--force"));
    assert!(!ok && out.contains("another Planbase server holds"), "{out}");
    let (ok, out) = run(planbase(&b).arg("restore").arg(&backup_dir));
    assert!(ok, "{out}");
    let restored = TestApp::spawn_at(b.clone(), |_| {}, Router::new()).await.unwrap();
    assert_eq!(listing(&restored).await, before);
    restored.stop().await;
    let (ok, out) = run(planbase(&b).arg("restore").arg(&backup_dir));
    assert!(!ok && out.contains("already holds data"), "{out}");
    assert!(run(planbase(&b).arg("restore").arg(&backup_dir).arg("--force")).0);
}

#[tokio::test]
async fn damaged_or_partial_backups_are_refused_and_restore_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (a, c) = (dir.path().join("a"), dir.path().join("c"));
    let app = TestApp::spawn_at(a.clone(), |_| {}, Router::new()).await.unwrap();
    let id = create_project(&app, "p").await["id"].as_str().unwrap().to_string();
    app.stop().await;
    let (ok, out) = run(planbase(&a).arg("backup"));
    assert!(ok, "{out}");
    let backup_dir = std::path::PathBuf::from(out.trim().rsplit(' ').next().unwrap());
    let shard = backup_dir.join(format!("projects/project_{id}.sqlite"));
    let mut bytes = std::fs::read(&shard).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&shard, bytes).unwrap();
    let (ok, out) = run(planbase(&a).args(["check", "--backup"]).arg(&backup_dir));
    assert!(!ok && out.contains("checksum mismatch"), "{out}");
    let (ok, out) = run(planbase(&c).arg("restore").arg(&backup_dir));
    assert!(!ok && out.contains("checksum mismatch"), "{out}");
    assert!(
        !c.join("projects").exists() || std::fs::read_dir(c.join("projects")).unwrap().count() == 0,
        "nothing restored"
    );
    std::fs::remove_file(backup_dir.join("manifest.json")).unwrap();
    let (ok, out) = run(planbase(&c).arg("restore").arg(&backup_dir));
    assert!(!ok && out.contains("not a complete backup"), "{out}");
}

/// `POST /api/v1/admin/backups` while 8 writers append: the writers see no error, the backup
/// verifies, and restored elsewhere every session holds a prefix of what was written.
#[tokio::test]
async fn an_online_backup_under_writers_restores_prefixes() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let app = std::sync::Arc::new(TestApp::spawn_at(a.clone(), |_| {}, Router::new()).await.unwrap());
    let mut sessions = Vec::new();
    for _ in 0..8 {
        let (_, s) = post(&app, "/api/v1/sessions", serde_json::json!({})).await;
        sessions.push(s["id"].as_str().unwrap().to_string());
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for sid in sessions.clone() {
        let (app, stop) = (app.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || n < 20 {
                let msg = serde_json::json!({"role": "user", "parts": [{"type": "text", "text": format!("m{n}")}]});
                let (s, body) = post(&app, &format!("/api/v1/sessions/{sid}/messages"), msg).await;
                assert_eq!(s, 201, "writer error: {body}");
                n += 1;
            }
            n
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let (s, job) = post(&app, "/api/v1/admin/backups", serde_json::json!({})).await;
    assert_eq!(s, 202, "{job}");
    let jid = job["job_id"].as_str().unwrap();
    let mut done = Value::Null;
    for _ in 0..200 {
        done = app.get(&format!("/api/v1/jobs/{jid}")).await.1;
        if done["status"] == "completed" || done["status"] == "failed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        assert!(w.await.unwrap() >= 20);
    }
    assert_eq!(done["status"], "completed", "{done}");
    let (_, list) = app.get("/api/v1/admin/backups").await;
    assert_eq!(list["items"][0]["complete"], true);
    let backup_dir = a.join("backups").join(list["items"][0]["name"].as_str().unwrap());
    let (ok, out) = run(planbase(&a).args(["check", "--backup"]).arg(&backup_dir));
    assert!(ok, "{out}");
    assert!(run(planbase(&b).arg("restore").arg(&backup_dir)).0);
    let restored = TestApp::spawn_at(b.clone(), |_| {}, Router::new()).await.unwrap();
    for sid in &sessions {
        let (_, page) = restored.get(&format!("/api/v1/sessions/{sid}/messages?after=0&limit=200")).await;
        let texts: Vec<String> =
            page["items"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap().to_string()).collect();
        let prefix: Vec<String> = (0..texts.len()).map(|i| format!("m{i}")).collect();
        assert_eq!(texts, prefix, "session {sid} holds a prefix");
    }
}

#[tokio::test]
async fn maintenance_archives_prunes_purges_and_reports() {
    let app = TestApp::spawn_with(
        |c| {
            c.maintenance.archive_after_days = 0;
            c.maintenance.log_retention_days = 0;
            c.maintenance.trash_retention_days = 0;
        },
        Router::new(),
    )
    .await;
    let (_, s) = post(&app, "/api/v1/sessions", serde_json::json!({})).await;
    let sid = s["id"].as_str().unwrap().to_string();
    let pid = create_project(&app, "logs").await["id"].as_str().unwrap().to_string();
    let log =
        serde_json::json!({"job_id": "j", "action_kind": "k", "action_name": "n", "status": "ok", "success": true});
    assert_eq!(post(&app, &format!("/api/v1/projects/{pid}/action-logs"), log).await.0, 201);
    let doomed = create_project(&app, "doomed").await["id"].as_str().unwrap().to_string();
    let del = app.client.delete(app.url(&format!("/api/v1/projects/{doomed}"))).send().await.unwrap();
    assert_eq!(del.status(), 204);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let report = maintenance(&app).await;
    assert_eq!(report["archived_sessions"], 1, "{report}");
    assert_eq!(report["pruned_action_logs"], 1, "{report}");
    assert_eq!(report["purged_trash"], 1, "{report}");
    assert_eq!(report["checkpointed_files"], 6, "{report}");
    assert_eq!(report["errors"], serde_json::json!([]));
    let (_, sess) = app.get(&format!("/api/v1/sessions/{sid}")).await;
    assert_eq!(sess["status"], "archived");
    assert!(app.root.join(format!("sessions/session_{sid}.sqlite")).exists(), "archived files are kept");
}

/// Found by the reliability suite: a session deleted while a backup runs failed the whole
/// backup ("no such session file"). A file gone since the scan is simply not in it.
#[tokio::test]
async fn a_shard_deleted_during_a_backup_is_left_out() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (_, s) = post(&app, "/api/v1/sessions", serde_json::json!({})).await;
        ids.push(s["id"].as_str().unwrap().to_string());
    }
    ids.sort();
    let doomed = app.root.join(format!("sessions/session_{}.sqlite", ids[2]));
    let (root, pragmas) = (
        app.state.storage.root.clone(),
        planbase::storage::connection::Pragmas::from_config(&app.state.config.storage),
    );
    let dir = tokio::task::spawn_blocking(move || {
        planbase::storage::backup::backup(&root, &pragmas, false, |done, _| {
            if done == 1 {
                std::fs::remove_file(&doomed).unwrap();
            }
        })
    })
    .await
    .unwrap()
    .expect("the backup completes");
    let m = planbase::storage::backup::verify(&dir).expect("and verifies");
    let sessions: Vec<&str> = m.files.iter().filter(|f| f.kind == "session").filter_map(|f| f.id.as_deref()).collect();
    assert_eq!(sessions, [ids[0].as_str(), ids[1].as_str()]);
}
