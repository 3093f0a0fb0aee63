use std::sync::atomic::Ordering;
use std::sync::Arc;

use rusqlite::params;
use uuid::Uuid;

use super::*;
use crate::config::StorageConfig;

const S: ShardKind = ShardKind::Session;

fn setup(cap: usize) -> (tempfile::TempDir, ShardManager, StorageConfig) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StorageConfig {
        db_root: dir.path().to_path_buf(),
        max_open_shards: cap,
        busy_timeout_ms: 5000,
        ..Default::default()
    };
    crate::storage::ensure_layout(&DbRoot::new(&cfg.db_root)).unwrap();
    let mgr = ShardManager::new(DbRoot::new(&cfg.db_root), &cfg);
    (dir, mgr, cfg)
}

async fn create_n(mgr: &ShardManager, n: usize) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let id = Uuid::now_v7();
        mgr.create(S, id, |_| Ok(())).await.unwrap();
        ids.push(id);
    }
    ids
}

fn insert(c: &Connection, text: &str) -> AppResult<i64> {
    c.execute(
        "INSERT INTO messages(id, role, content, created_at, updated_at) VALUES (?1, 'user', ?2, 'now', 'now')",
        params![Uuid::now_v7().to_string(), text],
    )?;
    Ok(c.last_insert_rowid())
}

async fn count(mgr: &ShardManager, id: Uuid) -> i64 {
    mgr.read(S, id, |c| Ok(c.query_row("SELECT count(*) FROM messages", [], |r| r.get(0))?)).await.unwrap()
}

async fn hammer(mgr: &ShardManager, ids: Arc<Vec<Uuid>>, writers: usize, each: usize) {
    let mut set = tokio::task::JoinSet::new();
    for w in 0..writers {
        let (mgr, ids) = (mgr.clone(), ids.clone());
        set.spawn(async move {
            for i in 0..each {
                let id = ids[(w + i) % ids.len()];
                mgr.write(S, id, |c| insert(c, "x")).await.expect("no write may fail (no BUSY)");
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_across_shards_and_on_one_shard_never_see_busy() {
    let (_d, mgr, _) = setup(64);
    let ids = Arc::new(create_n(&mgr, 8).await);
    hammer(&mgr, ids.clone(), 64, 40).await;
    let mut total = 0;
    for id in ids.iter() {
        total += count(&mgr, *id).await;
    }
    assert_eq!(total, 64 * 40);
    let one = Arc::new(vec![ids[0]]);
    hammer(&mgr, one, 64, 40).await;
    assert_eq!(count(&mgr, ids[0]).await, 64 * 40 / 8 + 64 * 40);
    assert!(mgr.stats().writer.batches.load(Ordering::Relaxed) < mgr.stats().writer.writes.load(Ordering::Relaxed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_cap_bounds_open_handles_and_fds() {
    let (_d, mgr, cfg) = setup(16);
    let ids = Arc::new(create_n(&mgr, 500).await);
    let fds_before = crate::storage::open_fds().unwrap();
    let mut set = tokio::task::JoinSet::new();
    for t in 0..8usize {
        let (mgr, ids) = (mgr.clone(), ids.clone());
        set.spawn(async move {
            let mut max_open = 0;
            for i in (t..ids.len()).step_by(8) {
                mgr.write(S, ids[i], |c| insert(c, "y")).await.unwrap();
                assert_eq!(count(&mgr, ids[i]).await, 1);
                max_open = max_open.max(mgr.open_shards());
            }
            max_open
        });
    }
    while let Some(r) = set.join_next().await {
        assert!(r.unwrap() <= 16, "open shards exceeded the cap");
    }
    assert!(mgr.open_shards() <= 16);
    eprintln!(
        "live={} evict={} open={}",
        mgr.live_handles(),
        mgr.stats().evictions.load(Ordering::Relaxed),
        mgr.open_shards()
    );
    let used = crate::storage::open_fds().unwrap().saturating_sub(fds_before) as u64;
    assert!(used <= crate::storage::fd_budget(&cfg), "{used} fds");
    assert!(mgr.stats().evictions.load(Ordering::Relaxed) >= 484);
}

#[test]
fn concurrent_opens_of_a_cold_shard_open_it_once() {
    let (_d, mgr, _) = setup(64);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ids = rt.block_on(create_n(&mgr, 20));
    for id in &ids {
        let barrier = Arc::new(std::sync::Barrier::new(8));
        std::thread::scope(|s| {
            for _ in 0..8 {
                let (mgr, barrier) = (&mgr, barrier.clone());
                s.spawn(move || {
                    barrier.wait();
                    mgr.handle_blocking((S, *id), false).unwrap();
                });
            }
        });
    }
    assert_eq!(mgr.stats().opens.load(Ordering::Relaxed), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_handle_in_use_is_not_evicted_mid_closure() {
    let (_d, mgr, _) = setup(1);
    let ids = create_n(&mgr, 4).await;
    let (entered_tx, entered_rx) = std::sync::mpsc::channel::<()>();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let busy = ids[0];
    let m2 = mgr.clone();
    let reader = tokio::spawn(async move {
        m2.read(S, busy, move |c| {
            entered_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            Ok(c.query_row("SELECT count(*) FROM messages", [], |r| r.get::<_, i64>(0))?)
        })
        .await
    });
    tokio::task::spawn_blocking(move || entered_rx.recv().unwrap()).await.unwrap();
    for id in &ids[1..] {
        mgr.write(S, *id, |c| insert(c, "z")).await.unwrap();
    }
    assert!(mgr.is_open(S, busy), "the borrowed handle was evicted");
    go_tx.send(()).unwrap();
    assert_eq!(reader.await.unwrap().unwrap(), 0);
    mgr.write(S, ids[1], |c| insert(c, "w")).await.unwrap();
    assert!(!mgr.is_open(S, busy), "released handles are evictable again");
}

#[tokio::test]
async fn a_missing_shard_is_not_found_and_never_created() {
    let (_d, mgr, _) = setup(8);
    let id = Uuid::now_v7();
    let e = mgr.read(S, id, |_| Ok(())).await.unwrap_err();
    assert_eq!((e.status, e.code), (404, "session_not_found"));
    let e = mgr.write(S, id, |_| Ok(())).await.unwrap_err();
    assert_eq!(e.code, "session_not_found");
    assert!(!mgr.root().shard(S, id).exists());
    assert_eq!(mgr.open_shards(), 0);
}

#[tokio::test]
async fn create_writes_meta_and_refuses_a_duplicate() {
    let (_d, mgr, _) = setup(8);
    let id = Uuid::now_v7();
    mgr.create(S, id, |c| Ok(c.execute("INSERT INTO meta VALUES ('name', 'n')", []).map(|_| ())?)).await.unwrap();
    assert_eq!(mgr.create(S, id, |_| Ok(())).await.unwrap_err().code, "conflict");
    let meta: Vec<(String, String)> = mgr
        .read(S, id, |c| {
            let mut st = c.prepare("SELECT key, value FROM meta ORDER BY key")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
        .unwrap();
    let get = |k: &str| meta.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    assert_eq!(get("kind").as_deref(), Some("session"));
    assert_eq!(get("id"), Some(id.to_string()));
    assert_eq!(get("name").as_deref(), Some("n"));
    let tmp_left = std::fs::read_dir(mgr.root().temp()).unwrap().count();
    assert_eq!(tmp_left, 0, "create leaves nothing in temp/");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_write_in_a_batch_fails_alone() {
    let (_d, mgr, _) = setup(8);
    let id = create_n(&mgr, 1).await[0];
    let mut set = tokio::task::JoinSet::new();
    for i in 0..60usize {
        let mgr = mgr.clone();
        set.spawn(async move {
            let r = mgr
                .write(S, id, move |c| {
                    insert(c, &format!("m{i}"))?;
                    if i % 3 == 0 {
                        return Err(AppError::bad_request("refused"));
                    }
                    Ok(i)
                })
                .await;
            (i, r)
        });
    }
    while let Some(r) = set.join_next().await {
        let (i, r) = r.unwrap();
        assert_eq!(r.is_err(), i % 3 == 0, "write {i}");
    }
    assert_eq!(count(&mgr, id).await, 40, "failed writes rolled back, the others committed");
}

#[tokio::test]
async fn shutdown_checkpoints_and_closes_everything() {
    let (_d, mgr, _) = setup(8);
    let ids = create_n(&mgr, 3).await;
    for id in &ids {
        mgr.write(S, *id, |c| insert(c, "q")).await.unwrap();
    }
    mgr.shutdown();
    assert_eq!(mgr.open_shards(), 0);
    for id in &ids {
        let wal = mgr.root().shard(S, *id).with_extension("sqlite-wal");
        let len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        assert_eq!(len, 0, "WAL truncated on shutdown");
    }
}

/// A panicking write closure fails alone (500 `internal`) and rolls back; the writer thread
/// lives on, so later writes to the same shard and to others succeed.
#[tokio::test]
async fn a_panicking_write_fails_alone_and_the_writer_survives() {
    let (_d, mgr, _) = setup(8);
    let ids = create_n(&mgr, 2).await;
    let err = mgr
        .write(S, ids[0], |c| {
            insert(c, "rolled back")?;
            let big = i64::MAX;
            let _ = std::hint::black_box(big).checked_add(1).expect("overflow");
            Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!((err.status, err.code), (500, "internal"));
    assert_eq!(count(&mgr, ids[0]).await, 0, "the panicking closure's insert was rolled back");
    for id in &ids {
        mgr.write(S, *id, |c| insert(c, "after")).await.unwrap();
        assert_eq!(count(&mgr, *id).await, 1);
    }
}

/// A WAL past the threshold is checkpointed by the checkpointer thread, not by the commit
/// that crossed it. (How far a WAL grows under a writer that never pauses depends on timing:
/// the inline valve at `INLINE` pages bounds it, but not to an exact page count.)
#[tokio::test]
async fn large_wals_are_checkpointed_off_the_writer_thread() {
    let (_d, mgr, _) = setup(8);
    let id = create_n(&mgr, 1).await[0];
    let stats = mgr.stats().checkpointer.stats.clone();
    let before = stats.background.load(std::sync::atomic::Ordering::Relaxed);
    let text = "x".repeat(3000);
    for _ in 0..1500 {
        let t = text.clone();
        mgr.write(S, id, move |c| insert(c, &t)).await.unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while stats.background.load(std::sync::atomic::Ordering::Relaxed) == before {
        assert!(std::time::Instant::now() < deadline, "no background checkpoint");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(count(&mgr, id).await, 1500, "every write is there");
}

/// Reads run on the fixed read threads, never on tokio's blocking pool: 200 concurrent reads
/// over 4 shards use at most `read_threads` distinct threads (tokio's pool would have grown
/// a thread for each read that found no idle one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reads_share_the_fixed_read_threads() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StorageConfig { db_root: dir.path().to_path_buf(), read_threads: 3, ..Default::default() };
    crate::storage::ensure_layout(&DbRoot::new(&cfg.db_root)).unwrap();
    let mgr = ShardManager::new(DbRoot::new(&cfg.db_root), &cfg);
    let ids = create_n(&mgr, 4).await;
    let reads = (0..200).map(|i| {
        let (mgr, id) = (mgr.clone(), ids[i % 4]);
        tokio::spawn(async move {
            mgr.read(S, id, |c| {
                c.query_row("SELECT count(*) FROM messages", [], |r| r.get::<_, i64>(0))?;
                std::thread::sleep(std::time::Duration::from_millis(1));
                Ok(std::thread::current().name().unwrap_or("").to_string())
            })
            .await
            .unwrap()
        })
    });
    let mut names = std::collections::BTreeSet::new();
    for r in reads.collect::<Vec<_>>() {
        names.insert(r.await.unwrap());
    }
    assert!(names.len() <= 3, "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("shard-reader-")), "{names:?}");
    let n = mgr.offload(|| Ok(std::thread::current().name().unwrap_or("").to_string())).await.unwrap();
    assert!(n.starts_with("shard-reader-"), "offloaded work runs there too: {n}");
}

#[test]
fn thread_counts_default_to_twice_the_cores_within_bounds() {
    assert_eq!(threads(3), 3);
    assert!((4..=16).contains(&threads(0)));
}
