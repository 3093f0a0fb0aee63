//! The schedule: `maintenance.backup_interval` with `backup_keep`, and `maintenance.interval`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use axum::Router;
use planbase::config::Interval;

use crate::helpers::TestApp;
use crate::projects::create_project;

#[tokio::test]
async fn scheduled_backups_run_on_their_interval_and_keep_the_newest() {
    let app = TestApp::spawn_with(
        |c| {
            c.maintenance.backup_interval = Interval(Some(1));
            c.maintenance.backup_keep = 2;
        },
        Router::new(),
    )
    .await;
    create_project(&app, "kept safe").await;
    let (mut seen, deadline) = (BTreeSet::new(), Instant::now() + Duration::from_secs(40));
    while seen.len() < 4 {
        assert!(Instant::now() < deadline, "only {} scheduled backups in 40 s: {seen:?}", seen.len());
        let (s, list) = app.get("/api/v1/admin/backups").await;
        assert_eq!(s, 200, "{list}");
        let items = list["items"].as_array().unwrap();
        // A new backup is complete a moment before the oldest one is pruned.
        assert!(items.len() <= 3, "backup_keep = 2 but {} backups are kept: {list}", items.len());
        seen.extend(items.iter().map(|b| b["name"].as_str().unwrap().to_string()));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, list) = app.get("/api/v1/admin/backups").await;
    assert!(list["items"].as_array().unwrap().len() <= 3, "{list}");
    let newest = &list["items"][0];
    assert_eq!(newest["complete"], true);
    assert!(newest["files"].as_u64().unwrap() >= 2, "registry and the project at least: {newest}");
    let on_disk = std::fs::read_dir(app.root.join("backups")).unwrap().count();
    assert!(on_disk <= 4, "at most the two kept, one just finished and one being written: {on_disk}");
}

#[tokio::test]
async fn scheduled_maintenance_purges_trash_on_its_interval() {
    let app = TestApp::spawn_with(
        |c| {
            c.maintenance.interval = Interval(Some(1));
            c.maintenance.trash_retention_days = 0;
        },
        Router::new(),
    )
    .await;
    let doomed = create_project(&app, "doomed").await["id"].as_str().unwrap().to_string();
    let del = app.client.delete(app.url(&format!("/api/v1/projects/{doomed}"))).send().await.unwrap();
    assert_eq!(del.status(), 204);
    let trash = app.root.join("trash/project");
    assert_eq!(std::fs::read_dir(&trash).unwrap().count(), 1);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_dir(&trash).unwrap().count() > 0 {
        assert!(Instant::now() < deadline, "the scheduled maintenance did not purge the trash in 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn with_the_schedule_off_nothing_runs_on_its_own() {
    let app = TestApp::spawn_with(
        |c| {
            c.maintenance.interval = Interval(None);
            c.maintenance.trash_retention_days = 0;
        },
        Router::new(),
    )
    .await;
    let doomed = create_project(&app, "stays").await["id"].as_str().unwrap().to_string();
    let del = app.client.delete(app.url(&format!("/api/v1/projects/{doomed}"))).send().await.unwrap();
    assert_eq!(del.status(), 204);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(std::fs::read_dir(app.root.join("trash/project")).unwrap().count(), 1);
    assert_eq!(std::fs::read_dir(app.root.join("backups")).unwrap().count(), 0);
}

/// Maintenance with `vacuum_idle_shards`: an idle project shard that lost most of its pages
/// is rewritten smaller; an open one is left alone.
#[tokio::test]
async fn maintenance_vacuums_idle_shards_with_free_space() {
    let app = TestApp::spawn_with(|c| c.maintenance.vacuum_idle_shards = true, Router::new()).await;
    let pid = create_project(&app, "bulky").await["id"].as_str().unwrap().to_string();
    let yaml = format!("notes: \"{}\"\n", "x".repeat(400 * 1024));
    for i in 0..3 {
        let body = serde_json::json!({"file_type": "rules", "file_name": format!("big{i}.yaml"), "yaml_content": yaml});
        let (s, f) = crate::projects::post(&app, &format!("/api/v1/projects/{pid}/files"), body).await;
        assert_eq!(s, 201, "{f}");
        let fid = f["id"].as_str().unwrap();
        let del = app.client.delete(app.url(&format!("/api/v1/projects/{pid}/files/{fid}"))).send().await.unwrap();
        assert_eq!(del.status(), 204);
    }
    let open = crate::backup::maintenance(&app).await;
    assert_eq!(open["vacuumed_shards"], 0, "the shard is open: {open}");
    let id = uuid::Uuid::parse_str(&pid).unwrap();
    app.state.storage.shards.close(planbase::storage::ShardKind::Project, id).await.unwrap();
    let path = app.root.join(format!("projects/project_{pid}.sqlite"));
    let before = std::fs::metadata(&path).unwrap().len();
    let report = crate::backup::maintenance(&app).await;
    assert_eq!(report["vacuumed_shards"], 1, "{report}");
    let after = std::fs::metadata(&path).unwrap().len();
    assert!(after < before / 2, "{before} -> {after} bytes");
    assert_eq!(report["reclaimed_bytes"].as_u64().unwrap(), before - after);
    let (s, p) = app.get(&format!("/api/v1/projects/{pid}")).await;
    assert_eq!((s, p["name"].as_str()), (200, Some("bulky")), "the project still reads after the VACUUM");
}

/// An evicted shard keeps its WAL (closing skips the checkpoint and its fsyncs); the sweep
/// checkpoints it and removes `-wal`/`-shm`, and nothing written is lost either way.
#[tokio::test]
async fn evicted_shards_keep_their_wal_until_the_sweep() {
    let app = TestApp::spawn_with(
        |c| {
            c.storage.max_open_shards = 2;
            c.maintenance.wal_sweep_interval = Interval(None);
        },
        Router::new(),
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let (_, s) = crate::projects::post(&app, "/api/v1/sessions", serde_json::json!({})).await;
        let sid = s["id"].as_str().unwrap().to_string();
        let m = serde_json::json!({"role": "user", "parts": [{"type": "text", "text": format!("kept {i}")}]});
        assert_eq!(crate::projects::post(&app, &format!("/api/v1/sessions/{sid}/messages"), m).await.0, 201);
        ids.push(sid);
    }
    let wal = |sid: &str| app.root.join(format!("sessions/session_{sid}.sqlite-wal"));
    let first = uuid::Uuid::parse_str(&ids[0]).unwrap();
    assert!(!app.state.storage.shards.is_open(planbase::storage::ShardKind::Session, first), "evicted");
    assert!(std::fs::metadata(wal(&ids[0])).unwrap().len() > 0, "the evicted shard's WAL was not checkpointed");
    let pragmas = planbase::storage::connection::Pragmas::from_config(&app.state.config.storage);
    let swept = planbase::maintenance::compact::idle_shards(&app.state.storage, &pragmas, false).await.unwrap();
    assert!(swept.checkpointed >= 1, "{swept:?}");
    assert!(!wal(&ids[0]).exists(), "the sweep removed the WAL of the closed shard");
    // Found by reliability part 4: the sweep opened every closed shard, creating the -wal it
    // then checked for, so every sweep "checkpointed" every idle shard again.
    let again = planbase::maintenance::compact::idle_shards(&app.state.storage, &pragmas, false).await.unwrap();
    assert_eq!(again.checkpointed, 0, "{again:?}");
    assert!(!wal(&ids[0]).exists(), "a sweep with nothing to do leaves no -wal behind");
    for (i, sid) in ids.iter().enumerate() {
        let (s, page) = app.get(&format!("/api/v1/sessions/{sid}/messages")).await;
        assert_eq!(s, 200);
        assert_eq!(page["items"][0]["parts"][0]["text"], format!("kept {i}"));
    }
}
