//! `planbase bench storage` (issue: foundation, item 10).
//!
//! (a) ceiling: raw rusqlite single-row insert transactions into a session-schema file, on one
//!     file and on two files from two threads;
//! (b) the same insert through the shard manager, over 1,000 shards and into one shard, from
//!     2 and from 32 tasks;
//! (c) open + first read of cold shards with the cap at `--cap` over `--cold-shards` files;
//! (d) RSS and open fds at the end of (c), which runs first so no earlier case inflates them.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use rusqlite::{params, Connection};
use uuid::Uuid;

use super::{percentile, print_table, rss_mib};
use crate::config::{Config, StorageConfig};
use crate::storage::connection::{self, Mode, Pragmas};
use crate::storage::migrate::FileKind;
use crate::storage::{open_fds, DbRoot, ShardKind, ShardManager};

#[derive(Debug, Args)]
pub struct StorageBench {
    /// Insert transactions per write case.
    #[arg(long, default_value_t = 20_000)]
    pub ops: usize,
    /// Shards the spread cases write over.
    #[arg(long, default_value_t = 1_000)]
    pub shards: usize,
    /// Shard files for the cold-open case.
    #[arg(long, default_value_t = 100_000)]
    pub cold_shards: usize,
    /// storage.max_open_shards for the cold-open case.
    #[arg(long, default_value_t = 1_024)]
    pub cap: usize,
    /// Cold opens sampled.
    #[arg(long, default_value_t = 5_000)]
    pub cold_reads: usize,
    /// Run only the cold-open case (c)/(d).
    #[arg(long)]
    pub cold_only: bool,
    /// Where to put the benchmark's files (default: a temp dir under the system temp).
    #[arg(long)]
    pub dir: Option<std::path::PathBuf>,
}

const INSERT: &str = "INSERT INTO messages(id, role, content, parts, created_at, updated_at) \
                      VALUES (?1, 'user', ?2, ?3, ?4, ?4)";
const TEXT: &str = "hello from the benchmark, a short chat message";

fn insert_one(conn: &Connection) -> rusqlite::Result<usize> {
    let parts = r#"[{"type":"text","text":"hello from the benchmark, a short chat message"}]"#;
    conn.execute(INSERT, params![Uuid::now_v7().to_string(), TEXT, parts, crate::clock::now()])
}

pub fn run(config: &Config, b: StorageBench) -> anyhow::Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix("planbase-bench-")
        .tempdir_in(b.dir.clone().unwrap_or_else(std::env::temp_dir))?;
    let mut cfg = config.storage.clone();
    cfg.db_root = tmp.path().join("root");
    crate::storage::ensure_layout(&DbRoot::new(&cfg.db_root)).map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::storage::raise_nofile_limit();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // (c) first: RSS at its end must not include the heap that (b)'s 2,000 connections left.
    eprintln!("(c) creating {} cold shard files…", b.cold_shards);
    let cold = cold_opens(&rt, &cfg, &b)?;

    if b.cold_only {
        print_cold(cold);
        return Ok(());
    }
    let mut rows = Vec::new();
    eprintln!("(a) raw ceiling…");
    let one = raw_ceiling(&cfg, tmp.path(), 1, b.ops)?;
    let two = raw_ceiling(&cfg, tmp.path(), 2, b.ops)?;
    rows.push(row("(a) raw rusqlite, 1 file, 1 thread", b.ops, one, two));
    rows.push(row("(a) raw rusqlite, 2 files, 2 threads", b.ops, two, two));

    eprintln!("(b) shard manager…");
    let mgr = ShardManager::new(DbRoot::new(&cfg.db_root), &cfg);
    let ids = rt.block_on(create_shards(&mgr, b.shards))?;
    // Steady state: every shard open with its writer before timing; (c) measures cold opens.
    rt.block_on(manager_writes(&mgr, &ids, 2, ids.len()))?;
    for tasks in [2usize, 32] {
        let spread = rt.block_on(manager_writes(&mgr, &ids, tasks, b.ops))?;
        rows.push(row(&format!("(b) manager, {} shards, {tasks} tasks", ids.len()), b.ops, spread, two));
        let single = rt.block_on(manager_writes(&mgr, &ids[..1], tasks, b.ops))?;
        rows.push(row(&format!("(b) manager, 1 shard, {tasks} tasks"), b.ops, single, two));
    }
    mgr.shutdown();
    drop(mgr);
    print_table(&["case", "ops", "ops/s", "% of 2-file ceiling"], &rows);
    println!();
    print_cold(cold);
    Ok(())
}

fn print_cold(row: Vec<String>) {
    print_table(&["case", "samples", "p50 ms", "p99 ms", "max ms", "RSS MiB", "open fds", "fd budget"], &[row]);
}

fn row(name: &str, ops: usize, rate: f64, ceiling: f64) -> Vec<String> {
    vec![name.into(), ops.to_string(), format!("{rate:.0}"), format!("{:.0}%", 100.0 * rate / ceiling)]
}

/// Single-row insert transactions on `files` files, one thread each; returns total ops/s.
pub(super) fn raw_ceiling(cfg: &StorageConfig, dir: &Path, files: usize, ops: usize) -> anyhow::Result<f64> {
    let pragmas = Pragmas::from_config(cfg);
    let conns: Vec<Connection> = (0..files)
        .map(|i| {
            connection::open(&dir.join(format!("raw-{files}-{i}.sqlite")), FileKind::Session, &pragmas, Mode::Create)
        })
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let per = ops / files;
    let start = Instant::now();
    std::thread::scope(|s| {
        for conn in conns {
            s.spawn(move || {
                let conn = &conn;
                // Cached statements, as the manager's writer threads use.
                for _ in 0..per {
                    conn.prepare_cached("BEGIN IMMEDIATE").unwrap().execute([]).unwrap();
                    insert_one(conn).unwrap();
                    conn.prepare_cached("COMMIT").unwrap().execute([]).unwrap();
                }
            });
        }
    });
    Ok((per * files) as f64 / start.elapsed().as_secs_f64())
}

async fn create_shards(mgr: &ShardManager, n: usize) -> anyhow::Result<Vec<Uuid>> {
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let id = Uuid::now_v7();
        mgr.create(ShardKind::Session, id, |_| Ok(())).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        ids.push(id);
    }
    Ok(ids)
}

/// `ops` single-insert writes from `tasks` concurrent tasks over `ids`; returns ops/s.
async fn manager_writes(mgr: &ShardManager, ids: &[Uuid], tasks: usize, ops: usize) -> anyhow::Result<f64> {
    let ids = Arc::new(ids.to_vec());
    let per = ops / tasks;
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for t in 0..tasks {
        let (mgr, ids) = (mgr.clone(), ids.clone());
        set.spawn(async move {
            for i in 0..per {
                let id = ids[(t * per + i) % ids.len()];
                mgr.write(ShardKind::Session, id, |c| Ok(insert_one(c)?)).await?;
            }
            Ok::<_, crate::error::AppError>(())
        });
    }
    while let Some(r) = set.join_next().await {
        r?.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok((per * tasks) as f64 / start.elapsed().as_secs_f64())
}

/// Creates `cold_shards` files by copying one migrated shard, then times manager reads of
/// shards never opened before, with the cap at `cap`.
fn cold_opens(rt: &tokio::runtime::Runtime, base: &StorageConfig, b: &StorageBench) -> anyhow::Result<Vec<String>> {
    let mut cfg = base.clone();
    cfg.db_root = base.db_root.with_file_name("cold");
    cfg.max_open_shards = b.cap;
    let root = DbRoot::new(&cfg.db_root);
    crate::storage::ensure_layout(&root).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mgr = ShardManager::new(root.clone(), &cfg);
    let seed = Uuid::now_v7();
    rt.block_on(mgr.create(ShardKind::Session, seed, |c| Ok(insert_one(c).map(|_| ())?)))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let image = std::fs::read(root.shard(ShardKind::Session, seed))?;
    let ids: Vec<Uuid> = (0..b.cold_shards).map(|_| Uuid::now_v7()).collect();
    std::thread::scope(|s| {
        for chunk in ids.chunks(ids.len().div_ceil(2).max(1)) {
            let (root, image) = (&root, &image);
            s.spawn(move || {
                chunk.iter().for_each(|id| std::fs::write(root.shard(ShardKind::Session, *id), image).unwrap())
            });
        }
    });
    settle_disk();
    let mut order: Vec<usize> = (0..ids.len()).collect();
    shuffle(&mut order);
    let mut samples = Vec::with_capacity(b.cold_reads);
    for &i in order.iter().take(b.cold_reads) {
        let t = Instant::now();
        let n: i64 = rt
            .block_on(mgr.read(ShardKind::Session, ids[i], |c| {
                Ok(c.query_row("SELECT count(*) FROM messages", [], |r| r.get(0))?)
            }))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(n == 1, "cold shard read returned {n} rows");
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    let out = vec![
        format!("(c) cold open + first read, cap {}, {} files", b.cap, b.cold_shards),
        samples.len().to_string(),
        format!("{:.3}", percentile(&samples, 50.0)),
        format!("{:.3}", percentile(&samples, 99.0)),
        format!("{:.3}", samples.last().copied().unwrap_or(0.0)),
        format!("{:.0}", rss_mib()),
        open_fds().map(|n| n.to_string()).unwrap_or_else(|| "?".into()),
        crate::storage::fd_budget(&cfg).to_string(),
    ];
    mgr.shutdown();
    drop(mgr);
    std::fs::remove_dir_all(&cfg.db_root)?;
    settle_disk();
    Ok(out)
}

/// Flushes dirty pages (GBs after creating 100k files), so writeback does not bleed into the
/// next timed case.
fn settle_disk() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
}

/// A deterministic shuffle (xorshift), so runs sample the same way.
fn shuffle(v: &mut [usize]) {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
}
