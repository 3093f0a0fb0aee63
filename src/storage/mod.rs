//! The storage engine: paths, connections, migrations, the shard manager and the shared
//! pools. Knows nothing of HTTP.

pub mod backup;
pub mod busy;
pub mod checkpointer;
pub mod connection;
pub mod engine;
pub mod handle;
pub mod lock;
pub mod lru;
pub mod manager;
pub mod meta;
pub mod migrate;
pub mod paths;
pub mod pools;
pub mod quarantine;
mod read_pool;
mod template;
mod writer;

use std::path::Path;

pub use manager::ShardManager;
pub use paths::{parse_id, DbRoot, ShardKind};
pub use pools::{DbPool, SharedDbs};

use crate::config::StorageConfig;
use crate::error::{AppError, AppResult};
use connection::Pragmas;

/// Everything the domain layers need from storage.
pub struct Storage {
    pub root: DbRoot,
    pub shards: ShardManager,
    pub shared: SharedDbs,
}

impl Storage {
    /// Creates the layout, checks the fd budget, then opens and migrates every shared file.
    /// Blocking: call before serving or from `spawn_blocking`.
    pub fn open(cfg: &StorageConfig) -> AppResult<Storage> {
        let root = DbRoot::new(&cfg.db_root);
        ensure_layout(&root)?;
        check_fd_budget(cfg)?;
        let shared = SharedDbs::open(&root, &Pragmas::from_config(cfg))?;
        let shards = ShardManager::new(root.clone(), cfg);
        Ok(Storage { root, shards, shared })
    }
}

/// Creates every directory of DB_ROOT and proves it writable.
pub fn ensure_layout(root: &DbRoot) -> AppResult<()> {
    let fail = |what: &Path, e: std::io::Error| {
        AppError::internal(format!("storage.db_root: cannot write {}: {e}", what.display()))
            .with_suggestion("set storage.db_root (or DB_ROOT) to a writable directory")
    };
    for dir in root.dirs() {
        std::fs::create_dir_all(&dir).map_err(|e| fail(&dir, e))?;
    }
    let probe = root.temp().join(format!(".probe-{}", std::process::id()));
    std::fs::write(&probe, b"ok").map_err(|e| fail(&probe, e))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Most file descriptors the configured storage may hold: every cached shard with its
/// readers, three fds each (db, -wal, -shm), plus the shared pools and some slack.
pub fn fd_budget(cfg: &StorageConfig) -> u64 {
    let per_shard = (1 + cfg.readers_per_shard as u64) * 3;
    cfg.max_open_shards as u64 * per_shard + SharedDbs::max_connections() * 3 + 256
}

/// Raises RLIMIT_NOFILE to its hard limit and checks that the budget fits.
pub fn check_fd_budget(cfg: &StorageConfig) -> AppResult<()> {
    let limit = raise_nofile_limit();
    let need = fd_budget(cfg);
    if need > limit {
        return Err(AppError::internal(format!(
            "storage.max_open_shards: {} shards need up to {need} file descriptors but the limit is {limit}; \
             lower storage.max_open_shards or raise `ulimit -n`",
            cfg.max_open_shards
        )));
    }
    Ok(())
}

/// Returns the soft limit after trying to raise it to the hard limit.
pub fn raise_nofile_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut rl = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) != 0 {
            return 1024;
        }
        if rl.rlim_cur < rl.rlim_max {
            let raised = libc::rlimit { rlim_cur: rl.rlim_max, rlim_max: rl.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                rl.rlim_cur = rl.rlim_max;
            }
        }
        rl.rlim_cur
    }
}

/// Open file descriptors of this process (Linux), for health, tests and the benchmark.
pub fn open_fds() -> Option<usize> {
    std::fs::read_dir("/proc/self/fd").ok().map(|d| d.count())
}

/// Every Planbase file under DB_ROOT with its kind: the shared files that exist, then every
/// well-named shard file. Names that do not parse as `<kind>_<uuid>.sqlite` are skipped.
pub fn scan_files(root: &DbRoot) -> Vec<(std::path::PathBuf, migrate::FileKind)> {
    let mut files: Vec<_> = SharedDbs::files(root).into_iter().filter(|(p, _)| p.exists()).collect();
    for kind in ShardKind::all() {
        files.extend(root.shard_ids(kind).into_iter().map(|id| (root.shard(kind, id), handle::file_kind(kind))));
    }
    files
}

/// Moves a shard's files (db, -wal, -shm) into `<base>/<kind>/<id>-<timestamp>/`; returns
/// that directory.
fn move_shard_files(
    root: &DbRoot,
    base: &std::path::Path,
    kind: ShardKind,
    id: uuid::Uuid,
) -> AppResult<std::path::PathBuf> {
    let stamp = crate::clock::now().replace([':', '-', '.'], "");
    let dir = base.join(kind.name()).join(format!("{}-{stamp}", id.as_hyphenated()));
    std::fs::create_dir_all(&dir)?;
    let db = root.shard(kind, id);
    for suffix in ["", "-wal", "-shm"] {
        let from = std::path::PathBuf::from(format!("{}{suffix}", db.display()));
        if from.exists() {
            let name = from.file_name().expect("shard files have names").to_owned();
            std::fs::rename(&from, dir.join(name))?;
        }
    }
    Ok(dir)
}

/// Moves a closed shard's files to `trash/<kind>/<id>-<timestamp>/`, where maintenance
/// purges them after `trash_retention_days`.
pub fn move_to_trash(root: &DbRoot, kind: ShardKind, id: uuid::Uuid) -> AppResult<std::path::PathBuf> {
    move_shard_files(root, &root.trash(), kind, id)
}

/// Moves a damaged shard's files to `quarantine/<kind>/<id>-<timestamp>/` with a
/// `reason.txt`. Quarantined files are never deleted by Planbase.
pub fn move_to_quarantine(
    root: &DbRoot,
    kind: ShardKind,
    id: uuid::Uuid,
    reason: &str,
) -> AppResult<std::path::PathBuf> {
    let dir = move_shard_files(root, &root.quarantine(), kind, id)?;
    std::fs::write(dir.join("reason.txt"), format!("{}\n{reason}\n", crate::clock::now()))?;
    Ok(dir)
}
