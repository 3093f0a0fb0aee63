//! r2d2 pools for the few shared files: registry, search, auth, system jobs and the caches.
//!
//! Each file is opened and migrated once with a direct connection first, so a file that is
//! too new or of the wrong kind stops start-up with its path named. Pools start with no
//! connection (`min_idle(0)`), give up quickly when exhausted, and share one thread pool.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::OpenFlags;
use scheduled_thread_pool::ScheduledThreadPool;

use super::connection::{self, Mode, Pragmas};
use super::migrate::FileKind;
use super::paths::DbRoot;
use crate::error::{AppError, AppResult};

pub type DbPool = Pool<SqliteConnectionManager>;

/// Connections per shared pool; the registry sees the most concurrency.
const POOL_SIZE: u32 = 8;

pub struct SharedDbs {
    pub registry: DbPool,
    pub search: DbPool,
    pub auth: DbPool,
    pub system_jobs: DbPool,
    pub llm_cache: DbPool,
    pub embedding_cache: DbPool,
}

impl SharedDbs {
    /// The shared files in start-up order, with their kinds.
    pub fn files(root: &DbRoot) -> Vec<(std::path::PathBuf, FileKind)> {
        vec![
            (root.registry(), FileKind::Registry),
            (root.search(), FileKind::Search),
            (root.auth(), FileKind::Auth),
            (root.system_jobs(), FileKind::Jobs),
            (root.llm_cache(), FileKind::Cache),
            (root.embedding_cache(), FileKind::Cache),
        ]
    }

    pub fn open(root: &DbRoot, pragmas: &Pragmas) -> AppResult<SharedDbs> {
        let threads = Arc::new(ScheduledThreadPool::builder().num_threads(1).thread_name_pattern("db-pool-{}").build());
        let open = |path: std::path::PathBuf, kind| open_pool(&path, kind, pragmas, threads.clone());
        Ok(SharedDbs {
            registry: open(root.registry(), FileKind::Registry)?,
            search: open(root.search(), FileKind::Search)?,
            auth: open(root.auth(), FileKind::Auth)?,
            system_jobs: open(root.system_jobs(), FileKind::Jobs)?,
            llm_cache: open(root.llm_cache(), FileKind::Cache)?,
            embedding_cache: open(root.embedding_cache(), FileKind::Cache)?,
        })
    }

    /// Connections the pools may hold at most, for the fd budget.
    pub fn max_connections() -> u64 {
        6 * POOL_SIZE as u64
    }
}

fn open_pool(path: &Path, kind: FileKind, pragmas: &Pragmas, threads: Arc<ScheduledThreadPool>) -> AppResult<DbPool> {
    connection::open(path, kind, pragmas, Mode::Create).map_err(|e| name_file(e, path))?;
    let init = pragmas.clone();
    let manager = SqliteConnectionManager::file(path)
        .with_flags(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .with_init(move |c| init.apply_session(c));
    Pool::builder()
        .max_size(POOL_SIZE)
        .min_idle(Some(0))
        .connection_timeout(Duration::from_secs(5))
        .thread_pool(threads)
        .build(manager)
        .map_err(|e| AppError::internal(format!("{}: {e}", path.display())))
}

/// Puts the file's path into a start-up error, where the operator needs it.
pub fn name_file(mut e: AppError, path: &Path) -> AppError {
    e.message = format!("{}: {}", path.display(), e.message);
    if e.internal.is_none() {
        return e;
    }
    let cause = e.internal.take().unwrap_or_default();
    e.message = format!("{} ({cause})", e.message);
    e
}

/// Runs `f` with a pooled connection on the blocking pool.
pub async fn with_conn<T, F>(pool: &DbPool, f: F) -> AppResult<T>
where
    T: Send + 'static,
    F: FnOnce(&mut rusqlite::Connection) -> AppResult<T> + Send + 'static,
{
    let pool = pool.clone();
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let mut conn = pool.get()?;
        f(&mut conn)
    })
    .await
    .map_err(AppError::internal)?
}
