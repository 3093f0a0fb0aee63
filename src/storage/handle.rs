//! An open shard: one writer connection plus a few readers, all opened lazily.
//!
//! Opening a handle opens one connection: the writer when the first touch is a write, else
//! a reader when the file is up to date (a connection costs ~0.1 MB of RSS and a schema
//! parse), the writer when it needs a migration. The writer opens on the first write, on the caller's blocking thread,
//! never on a writer thread.
//!
//! Lifecycle: created by the manager's single-flight open, shared as `Arc<ShardHandle>`;
//! every read, queued write and in-flight closure holds a clone, and the manager evicts a
//! handle only when its map holds the last one. Dropping the last clone closes every
//! connection.
//!
//! Closing does not checkpoint (`SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE`): a checkpoint costs two
//! or three fsyncs, and the disk serialises them (~2,000/s here), so an LRU that evicts a
//! shard per cold write was capped at ~500 writes/s by its closes. The WAL simply stays with
//! the file (as durable as any committed write under `synchronous`), beside its `-shm`; the
//! next open reads it back, the shard's next writes checkpoint it as usual, and the idle
//! sweep (`maintenance::compact`) checkpoints and removes it once the shard stays closed.
//! Explicit checkpoints (shutdown, delete, quarantine) still run before a close.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};
use rusqlite::Connection;
use uuid::Uuid;

use super::connection::{self, Mode, Pragmas};
use super::migrate::FileKind;
use super::paths::ShardKind;
use crate::error::{AppError, AppResult};

pub type ShardKey = (ShardKind, Uuid);

pub fn file_kind(kind: ShardKind) -> FileKind {
    match kind {
        ShardKind::Project => FileKind::Project,
        ShardKind::Session => FileKind::Session,
    }
}

struct ReaderPool {
    idle: Vec<Connection>,
    opened: usize,
}

pub struct ShardHandle {
    pub key: ShardKey,
    path: PathBuf,
    pragmas: Arc<Pragmas>,
    /// `None` until the first write. Locked by the writer thread that owns this shard, by
    /// [`Self::ensure_writer`] and by checkpoints.
    pub(super) writer: Mutex<Option<Connection>>,
    /// Set once the writer is open; lets the async path skip the lock.
    writer_open: std::sync::atomic::AtomicBool,
    /// Set while the shard waits in the checkpointer's queue (queued once, not per commit).
    checkpoint_queued: std::sync::atomic::AtomicBool,
    readers: Mutex<ReaderPool>,
    reader_freed: Condvar,
    max_readers: usize,
    /// Index of the writer thread this shard is hashed onto.
    pub(super) writer_slot: usize,
    live: Arc<AtomicUsize>,
}

impl ShardHandle {
    /// Opens an existing shard file (migrating it when it is older). `want_writer` opens
    /// the writer connection instead of a first reader. Blocking: call off the runtime.
    pub(super) fn open(
        key: ShardKey,
        path: PathBuf,
        pragmas: Arc<Pragmas>,
        max_readers: usize,
        writer_slot: usize,
        live: Arc<AtomicUsize>,
        want_writer: bool,
    ) -> AppResult<ShardHandle> {
        let kind = file_kind(key.0);
        let (writer, pool) = if want_writer {
            let w = open_writer(&path, kind, &pragmas).map_err(|e| shard_not_found(key.0, e))?;
            (Some(w), ReaderPool { idle: Vec::new(), opened: 0 })
        } else {
            Self::first_connection(&path, key.0, &pragmas)?
        };
        live.fetch_add(1, Ordering::Relaxed);
        Ok(ShardHandle {
            key,
            path,
            pragmas,
            writer_open: std::sync::atomic::AtomicBool::new(writer.is_some()),
            checkpoint_queued: std::sync::atomic::AtomicBool::new(false),
            writer: Mutex::new(writer),
            readers: Mutex::new(pool),
            reader_freed: Condvar::new(),
            max_readers,
            writer_slot,
            live,
        })
    }

    /// A first reader when the file is up to date, else the writer (which migrates it).
    fn first_connection(
        path: &std::path::Path,
        kind: ShardKind,
        pragmas: &Pragmas,
    ) -> AppResult<(Option<Connection>, ReaderPool)> {
        let fk = file_kind(kind);
        let first = open_conn(path, fk, pragmas, Mode::Reader).map_err(|e| shard_not_found(kind, e))?;
        if super::migrate::inspect(&first)?.user_version == fk.latest() {
            return Ok((None, ReaderPool { idle: vec![first], opened: 1 }));
        }
        drop(first);
        Ok((Some(open_writer(path, fk, pragmas)?), ReaderPool { idle: Vec::new(), opened: 0 }))
    }

    /// Borrows a reader connection, opening one if fewer than `max_readers` exist, else
    /// waiting up to busy_timeout for one to come back.
    pub fn reader(&self) -> AppResult<ReaderGuard<'_>> {
        let mut pool = self.readers.lock();
        loop {
            if let Some(conn) = pool.idle.pop() {
                return Ok(ReaderGuard { handle: self, conn: Some(conn) });
            }
            if pool.opened < self.max_readers {
                pool.opened += 1;
                drop(pool);
                return match open_conn(&self.path, file_kind(self.key.0), &self.pragmas, Mode::Reader) {
                    Ok(conn) => Ok(ReaderGuard { handle: self, conn: Some(conn) }),
                    Err(e) => {
                        self.readers.lock().opened -= 1;
                        self.reader_freed.notify_one();
                        Err(e)
                    }
                };
            }
            if self.reader_freed.wait_for(&mut pool, self.pragmas.busy_timeout).timed_out() {
                return Err(AppError::storage_busy().with_internal("no reader connection freed in time"));
            }
        }
    }

    /// Marks the shard as queued for a checkpoint; false when it already was.
    pub(super) fn mark_checkpoint_queued(&self) -> bool {
        !self.checkpoint_queued.swap(true, Ordering::AcqRel)
    }

    pub(super) fn clear_checkpoint_queued(&self) {
        self.checkpoint_queued.store(false, Ordering::Release);
    }

    /// Whether the writer connection is open (a lock-free hint for the async fast path).
    pub(super) fn has_writer(&self) -> bool {
        self.writer_open.load(Ordering::Acquire)
    }

    /// Opens the writer connection if it is not open yet. Blocking.
    pub(super) fn ensure_writer(&self) -> AppResult<()> {
        let mut w = self.writer.lock();
        if w.is_none() {
            *w = Some(open_writer(&self.path, file_kind(self.key.0), &self.pragmas)?);
            self.writer_open.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Checkpoints the WAL (when anything was ever written through this handle).
    pub(super) fn checkpoint(&self, mode: &str) {
        let guard = self.writer.lock();
        let Some(conn) = guard.as_ref() else { return };
        if let Err(e) = conn.execute_batch(&format!("PRAGMA wal_checkpoint({mode});")) {
            tracing::warn!(shard = %self.key.1, error = %e, "checkpoint failed");
        }
    }
}

impl Drop for ShardHandle {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A shard connection: [`connection::open`], and no checkpoint when it closes (see the
/// module comment).
fn open_conn(path: &std::path::Path, kind: FileKind, pragmas: &Pragmas, mode: Mode) -> AppResult<Connection> {
    let conn = connection::open(path, kind, pragmas, mode)?;
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    Ok(conn)
}

/// The writer connection: its WAL hook feeds the checkpointer instead of SQLite's
/// autocheckpoint (see `storage::checkpointer`).
fn open_writer(path: &std::path::Path, kind: FileKind, pragmas: &Pragmas) -> AppResult<Connection> {
    let conn = open_conn(path, kind, pragmas, Mode::Existing)?;
    super::checkpointer::install(&conn);
    Ok(conn)
}

fn shard_not_found(kind: ShardKind, e: AppError) -> AppError {
    if e.status != 404 {
        return e;
    }
    let code = match kind {
        ShardKind::Project => "project_not_found",
        ShardKind::Session => "session_not_found",
    };
    AppError::not_found(code, kind.name(), format!("no {} with this id", kind.name()))
}

/// A borrowed reader; returns to the handle's pool on drop.
pub struct ReaderGuard<'a> {
    handle: &'a ShardHandle,
    conn: Option<Connection>,
}

impl std::ops::Deref for ReaderGuard<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("present until drop")
    }
}

impl Drop for ReaderGuard<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            self.handle.readers.lock().idle.push(c);
            self.handle.reader_freed.notify_one();
        }
    }
}
