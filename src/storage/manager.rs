//! `ShardManager`: the LRU of open shard handles and the closure API over them.
//!
//! Invariants:
//! - At most `max_open_shards` entries (open or opening) while any entry is evictable; an
//!   entry is evictable only when the map holds the last `Arc` (nothing borrows it).
//! - Opening is single-flight: the first caller inserts an `Opening` slot and opens the file
//!   with no lock held; later callers wait on that slot.
//! - A read never creates a file: an id without a file is `<kind>_not_found`.
//! - Evicted handles are closed (which checkpoints the WAL) on the closer thread, off the
//!   request path while it keeps up; a bounded queue keeps evicted-but-open handles few.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};
use rusqlite::Connection;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::connection::Pragmas;
use super::handle::{ShardHandle, ShardKey};
use super::lru::Lru;
use super::paths::{DbRoot, ShardKind};
use super::template::Templates;
use super::writer::{Job, Msg, WriterPool, WriterStats};
use crate::config::StorageConfig;
use crate::error::{AppError, AppResult};

type OpenResult = Option<AppResult<Arc<ShardHandle>>>;

/// A single-flight open in progress: waiters block on `cv` until `done` is set.
struct OpenCell {
    done: Mutex<OpenResult>,
    cv: Condvar,
}

enum Slot {
    Opening(Arc<OpenCell>),
    Open(Arc<ShardHandle>),
}

pub struct ManagerStats {
    pub opens: AtomicU64,
    pub evictions: AtomicU64,
    pub writer: Arc<WriterStats>,
    pub checkpointer: super::checkpointer::Checkpointer,
}

struct Inner {
    root: DbRoot,
    cap: usize,
    readers_per_shard: usize,
    pragmas: Arc<Pragmas>,
    lru: Mutex<Lru<ShardKey, Slot>>,
    writers: WriterPool,
    /// Runs reads (and short CPU-bound work, [`ShardManager::offload`]); see `read_pool`.
    readers: super::read_pool::ReadPool,
    closer: crossbeam_channel::Sender<Arc<ShardHandle>>,
    live: Arc<AtomicUsize>,
    templates: Templates,
    stats: ManagerStats,
    quarantine: super::quarantine::Quarantine,
}

#[derive(Clone)]
pub struct ShardManager {
    inner: Arc<Inner>,
}

/// `storage.writer_threads` / `storage.read_threads`: the configured count, or for 0 twice
/// the cores between 4 and 16. More threads than cores: a commit or a read may wait on the
/// file system (or, for a read, on a reader connection), and fewer shards share a writer
/// thread's queue when there are more of them.
fn threads(configured: usize) -> usize {
    if configured > 0 {
        return configured;
    }
    std::thread::available_parallelism().map(|n| n.get() * 2).unwrap_or(4).clamp(4, 16)
}

impl ShardManager {
    pub fn new(root: DbRoot, cfg: &StorageConfig) -> ShardManager {
        let stats = ManagerStats {
            opens: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            writer: Default::default(),
            checkpointer: super::checkpointer::Checkpointer::start(),
        };
        let writers = WriterPool::start(threads(cfg.writer_threads), stats.writer.clone(), stats.checkpointer.clone());
        // Bounded, so evicted-but-open handles (and their fds) stay few: when the closer lags,
        // the evicting caller closes inline.
        let (closer, rx) = crossbeam_channel::bounded::<Arc<ShardHandle>>((cfg.max_open_shards / 4).clamp(1, 64));
        std::thread::Builder::new()
            .name("shard-closer".into())
            .spawn(move || rx.into_iter().for_each(drop))
            .expect("spawn closer thread");
        let pragmas = Arc::new(Pragmas::from_config(cfg));
        ShardManager {
            inner: Arc::new(Inner {
                templates: Templates::new(root.clone(), pragmas.clone()),
                root,
                cap: cfg.max_open_shards,
                readers_per_shard: cfg.readers_per_shard,
                pragmas,
                lru: Mutex::new(Lru::default()),
                writers,
                readers: super::read_pool::ReadPool::start(threads(cfg.read_threads)),
                closer,
                live: Arc::new(AtomicUsize::new(0)),
                stats,
                quarantine: Default::default(),
            }),
        }
    }

    pub fn root(&self) -> &DbRoot {
        &self.inner.root
    }

    /// Entries in the LRU (open or opening).
    pub fn open_shards(&self) -> usize {
        self.inner.lru.lock().len()
    }

    /// Whether the shard is in the LRU (open or opening); does not touch recency.
    pub fn is_open(&self, kind: ShardKind, id: Uuid) -> bool {
        self.inner.lru.lock().contains(&(kind, id))
    }

    /// Handles whose connections are still open, including evicted ones not yet closed.
    pub fn live_handles(&self) -> usize {
        self.inner.live.load(Ordering::Relaxed)
    }

    pub fn stats(&self) -> &ManagerStats {
        &self.inner.stats
    }

    /// Called once for each shard that gets quarantined (the registry marks its row).
    pub fn on_quarantine(&self, hook: Box<dyn Fn(ShardKind, Uuid) + Send + Sync>) {
        self.inner.quarantine.set_hook(hook);
    }

    /// 503 for a quarantined shard, before anything touches it.
    fn guard(&self, key: ShardKey) -> AppResult<()> {
        if self.inner.quarantine.contains(&key) {
            return Err(AppError::shard_unavailable());
        }
        Ok(())
    }

    /// A corruption error quarantines the shard: it leaves the LRU (its connections close
    /// when the last borrower is done), its files move to quarantine/, and it answers 503
    /// from then on. Two renames, so it runs inline even on the async path.
    fn after<T>(&self, key: ShardKey, r: AppResult<T>) -> AppResult<T> {
        if let Err(e) = &r {
            if super::quarantine::is_corruption(e) && self.inner.quarantine.insert(key) {
                self.inner.lru.lock().remove(&key);
                let reason = e.internal.clone().unwrap_or_default();
                match super::move_to_quarantine(&self.inner.root, key.0, key.1, &reason) {
                    Ok(dir) => tracing::error!(shard = %key.1, dir = %dir.display(), %reason, "shard quarantined"),
                    Err(m) => {
                        tracing::error!(shard = %key.1, error = %m, "shard quarantined in memory; moving its files failed")
                    }
                }
                self.inner.quarantine.notify(key);
            }
        }
        r
    }

    /// Runs `f` on a reader connection of the shard, on the blocking pool.
    pub async fn read<T, F>(&self, kind: ShardKind, id: Uuid, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> AppResult<T> + Send + 'static,
    {
        self.guard((kind, id))?;
        let r = self.read_inner(kind, id, f).await;
        self.after((kind, id), r)
    }

    async fn read_inner<T, F>(&self, kind: ShardKind, id: Uuid, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> AppResult<T> + Send + 'static,
    {
        let me = self.clone();
        self.inner
            .readers
            .run(move || {
                let handle = me.handle_blocking((kind, id), false)?;
                let conn = handle.reader()?;
                f(&conn)
            })
            .await
    }

    /// Runs short, CPU-bound blocking work on the read threads instead of tokio's blocking
    /// pool (which grows a thread per queued task under load). Never for work that waits on
    /// the network or on another queued task.
    pub async fn offload<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce() -> AppResult<T> + Send + 'static,
    {
        self.inner.readers.run(f).await
    }

    /// Runs `f` in a transaction on the shard's writer thread; answers after COMMIT.
    /// `f` may run more than once (a failed group commit is retried one request at a time),
    /// so it must not have side effects outside the connection.
    pub async fn write<T, F>(&self, kind: ShardKind, id: Uuid, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> AppResult<T> + Send + 'static,
    {
        self.guard((kind, id))?;
        let r = self.write_inner(kind, id, f).await;
        self.after((kind, id), r)
    }

    async fn write_inner<T, F>(&self, kind: ShardKind, id: Uuid, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> AppResult<T> + Send + 'static,
    {
        let handle = self.handle((kind, id), true).await?;
        if !handle.has_writer() {
            let h = handle.clone();
            tokio::task::spawn_blocking(move || h.ensure_writer()).await.map_err(AppError::internal)??;
        }
        let (reply, rx) = oneshot::channel();
        let slot = handle.writer_slot;
        let queued = std::time::Instant::now();
        let job = Job { handle, f, out: None, reply: Some(reply), span: tracing::Span::current(), queued };
        self.inner.writers.senders[slot]
            .send(Msg::Job(Box::new(job)))
            .map_err(|_| AppError::new(503, "unavailable", "server", "shutting down").retryable())?;
        rx.await.map_err(|_| AppError::new(503, "unavailable", "server", "shutting down").retryable())?
    }

    /// Creates a new shard file from the migrated template, writes its base `meta` rows and
    /// runs `init` in the same transaction, then moves it into place atomically. A shard that
    /// already exists is 409 `conflict`.
    pub async fn create<F>(&self, kind: ShardKind, id: Uuid, init: F) -> AppResult<()>
    where
        F: FnOnce(&Connection) -> AppResult<()> + Send + 'static,
    {
        let me = self.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            me.inner.templates.create_shard(kind, id, init)
        })
        .await
        .map_err(AppError::internal)?
    }

    /// Whether the shard file exists (no open).
    pub fn exists(&self, kind: ShardKind, id: Uuid) -> bool {
        self.inner.root.shard(kind, id).exists()
    }

    /// Removes a shard from the LRU and closes it, waiting for borrowers to finish (up to
    /// busy_timeout). Used before moving a file away (delete, quarantine).
    pub async fn close(&self, kind: ShardKind, id: Uuid) -> AppResult<()> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.close_blocking((kind, id))).await.map_err(AppError::internal)?
    }

    fn close_blocking(&self, key: ShardKey) -> AppResult<()> {
        let deadline = std::time::Instant::now() + self.inner.pragmas.busy_timeout;
        loop {
            let mut lru = self.inner.lru.lock();
            match lru.get(&key) {
                None => return Ok(()),
                Some(Slot::Open(h)) if Arc::strong_count(h) == 1 => {
                    let Some(Slot::Open(h)) = lru.remove(&key) else { unreachable!() };
                    drop(lru);
                    h.checkpoint("TRUNCATE");
                    return Ok(());
                }
                _ => {}
            }
            drop(lru);
            if std::time::Instant::now() > deadline {
                return Err(AppError::storage_busy().with_internal("shard still in use at close"));
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    /// Async handle lookup: the fast path only takes the map lock; a miss opens the file on
    /// the blocking pool.
    /// `for_write`: a cold open goes straight to the writer connection (one open and schema
    /// parse instead of a reader's and then the writer's).
    async fn handle(&self, key: ShardKey, for_write: bool) -> AppResult<Arc<ShardHandle>> {
        if let Some(Slot::Open(h)) = self.inner.lru.lock().get(&key) {
            return Ok(h.clone());
        }
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.handle_blocking(key, for_write)).await.map_err(AppError::internal)?
    }

    /// Returns the open handle, opening the file once if needed (single-flight).
    fn handle_blocking(&self, key: ShardKey, for_write: bool) -> AppResult<Arc<ShardHandle>> {
        let mut lru = self.inner.lru.lock();
        match lru.get(&key) {
            Some(Slot::Open(h)) => return Ok(h.clone()),
            Some(Slot::Opening(cell)) => {
                let cell = cell.clone();
                drop(lru);
                return wait_for(&cell);
            }
            None => {}
        }
        let cell = Arc::new(OpenCell { done: Mutex::new(None), cv: Condvar::new() });
        lru.insert(key, Slot::Opening(cell.clone()));
        let victims = self.evict_over_cap(&mut lru);
        drop(lru);
        self.close_evicted(victims);

        let result = self.open_handle(key, for_write);
        let mut lru = self.inner.lru.lock();
        match &result {
            Ok(h) => lru.insert(key, Slot::Open(h.clone())),
            Err(_) => {
                lru.remove(&key);
            }
        }
        drop(lru);
        *cell.done.lock() = Some(result.clone());
        cell.cv.notify_all();
        result
    }

    fn open_handle(&self, key: ShardKey, for_write: bool) -> AppResult<Arc<ShardHandle>> {
        let inner = &self.inner;
        let path = inner.root.shard(key.0, key.1);
        let slot = (key.1.as_u128() % inner.writers.senders.len() as u128) as usize;
        let pragmas = inner.pragmas.clone();
        let h = ShardHandle::open(key, path, pragmas, inner.readers_per_shard, slot, inner.live.clone(), for_write)?;
        inner.stats.opens.fetch_add(1, Ordering::Relaxed);
        Ok(Arc::new(h))
    }

    /// Removes least recently used, unborrowed handles until the map is within its cap.
    /// Runs under the LRU lock, so it only unlinks; [`Self::close_evicted`] closes.
    fn evict_over_cap(&self, lru: &mut Lru<ShardKey, Slot>) -> Vec<Arc<ShardHandle>> {
        let mut victims = Vec::new();
        while lru.len() > self.inner.cap {
            let victim = lru.pop_lru_where(|s| matches!(s, Slot::Open(h) if Arc::strong_count(h) == 1));
            let Some((_, Slot::Open(h))) = victim else {
                break;
            };
            self.inner.stats.evictions.fetch_add(1, Ordering::Relaxed);
            victims.push(h);
        }
        victims
    }

    /// Closing the last connection of a WAL file checkpoints it (an fsync), so it is handed
    /// to the closer thread; if that one lags, the caller (already on a blocking thread,
    /// opening a file) closes inline.
    fn close_evicted(&self, victims: Vec<Arc<ShardHandle>>) {
        for h in victims {
            if let Err(crossbeam_channel::TrySendError::Full(h)) = self.inner.closer.try_send(h) {
                drop(h);
            }
        }
    }

    /// Commits what is queued, stops the writer threads, then checkpoints (TRUNCATE) and
    /// closes every open shard. Called once, on graceful shutdown.
    pub fn shutdown(&self) {
        self.inner.writers.stop();
        let handles = self.inner.lru.lock().drain();
        for (_, slot) in handles {
            if let Slot::Open(h) = slot {
                h.checkpoint("TRUNCATE");
            }
        }
    }
}

fn wait_for(cell: &OpenCell) -> AppResult<Arc<ShardHandle>> {
    let mut done = cell.done.lock();
    while done.is_none() {
        cell.cv.wait(&mut done);
    }
    done.clone().expect("set before notify")
}

#[cfg(test)]
mod tests;
