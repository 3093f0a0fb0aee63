//! Checkpoints off the writer threads.
//!
//! SQLite's autocheckpoint runs inside the COMMIT that crosses 1,000 WAL pages, on the
//! connection that committed: here a writer thread that serves many shards. A checkpoint
//! costs fsyncs, and this disk serialises them, so every shard hashed onto that thread
//! waited behind it (p99 of appends over 1,000 sessions jumped to ~120 ms when their WALs
//! crossed the threshold together). Instead the writer connection's WAL hook records the
//! WAL size after each commit; a shard past [`THRESHOLD`] pages is handed to this thread,
//! which runs a PASSIVE checkpoint on one of the shard's reader connections. PASSIVE never
//! blocks the writer; once it has copied every frame, the writer's next transaction starts
//! the WAL over. If this thread falls behind and a WAL reaches [`INLINE`] pages, the
//! writer checkpoints inline, as SQLite would have, so a WAL stays bounded.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use rusqlite::Connection;

use super::handle::ShardHandle;

/// WAL pages after which a shard is queued for a checkpoint (SQLite's default threshold).
pub const THRESHOLD: i32 = 1000;
/// WAL pages after which the writer checkpoints inline (the checkpointer is behind).
pub const INLINE: i32 = 4 * THRESHOLD;

thread_local! {
    /// WAL pages after the last commit on this thread's connection (set by [`on_commit`]).
    static WAL_PAGES: Cell<i32> = const { Cell::new(0) };
}

/// The WAL hook of writer connections (replaces SQLite's autocheckpoint).
fn on_commit(_: &rusqlite::hooks::Wal, pages: std::os::raw::c_int) -> rusqlite::Result<()> {
    WAL_PAGES.with(|p| p.set(pages));
    Ok(())
}

/// Installs the hook on a writer connection.
pub fn install(conn: &Connection) {
    conn.wal_hook(Some(on_commit));
}

/// The WAL size the last commit on this thread left, and resets it.
pub fn take_wal_pages() -> i32 {
    WAL_PAGES.with(|p| p.replace(0))
}

#[derive(Default)]
pub struct CheckpointStats {
    pub background: AtomicU64,
    pub inline: AtomicU64,
}

/// The checkpointer's queue. Cloned into every writer thread.
#[derive(Clone)]
pub struct Checkpointer {
    tx: Sender<Arc<ShardHandle>>,
    pub stats: Arc<CheckpointStats>,
}

impl Checkpointer {
    /// Starts the thread; it ends when every sender is dropped.
    pub fn start() -> Checkpointer {
        let (tx, rx) = crossbeam_channel::bounded::<Arc<ShardHandle>>(1024);
        let stats = Arc::new(CheckpointStats::default());
        let s = stats.clone();
        std::thread::Builder::new()
            .name("shard-checkpointer".into())
            .spawn(move || run(rx, s))
            .expect("spawn checkpointer thread");
        Checkpointer { tx, stats }
    }

    /// Called by a writer thread after a commit on `conn` (the shard's writer connection).
    pub fn after_commit(&self, handle: &Arc<ShardHandle>, conn: &Connection) {
        let pages = take_wal_pages();
        if pages >= INLINE {
            self.stats.inline.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);") {
                tracing::warn!(shard = %handle.key.1, error = %e, "inline checkpoint failed");
            }
        } else if pages >= THRESHOLD && handle.mark_checkpoint_queued() {
            if let Err(TrySendError::Full(h) | TrySendError::Disconnected(h)) = self.tx.try_send(handle.clone()) {
                h.clear_checkpoint_queued(); // retried after a later commit
            }
        }
    }
}

fn run(rx: Receiver<Arc<ShardHandle>>, stats: Arc<CheckpointStats>) {
    for h in rx {
        h.clear_checkpoint_queued();
        let done = h.reader().and_then(|r| Ok(r.execute_batch("PRAGMA wal_checkpoint(PASSIVE);")?));
        match done {
            Ok(()) => {
                stats.background.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(shard = %h.key.1, cause = %e.operator_message(), "checkpoint failed"),
        }
    }
}
