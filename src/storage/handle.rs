//! An open shard: one writer connection plus a few lazily opened readers.
//!
//! Lifecycle: created by the manager's single-flight open, shared as `Arc<ShardHandle>`;
//! every read, queued write and in-flight closure holds a clone, and the manager evicts a
//! handle only when its map holds the last one. Dropping the last clone closes every
//! connection (the closer thread runs a passive checkpoint first).

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
    /// Only the writer thread that owns this shard, the closer and shutdown lock it.
    pub(super) writer: Mutex<Connection>,
    readers: Mutex<ReaderPool>,
    reader_freed: Condvar,
    max_readers: usize,
    /// Index of the writer thread this shard is hashed onto.
    pub(super) writer_slot: usize,
    live: Arc<AtomicUsize>,
}

impl ShardHandle {
    /// Opens (and migrates) an existing shard file. Blocking: call off the runtime.
    pub(super) fn open(
        key: ShardKey,
        path: PathBuf,
        pragmas: Arc<Pragmas>,
        max_readers: usize,
        writer_slot: usize,
        live: Arc<AtomicUsize>,
    ) -> AppResult<ShardHandle> {
        let writer = connection::open(&path, file_kind(key.0), &pragmas, Mode::Existing)
            .map_err(|e| shard_not_found(key.0, e))?;
        live.fetch_add(1, Ordering::Relaxed);
        Ok(ShardHandle {
            key,
            path,
            pragmas,
            writer: Mutex::new(writer),
            readers: Mutex::new(ReaderPool {
                idle: Vec::new(),
                opened: 0,
            }),
            reader_freed: Condvar::new(),
            max_readers,
            writer_slot,
            live,
        })
    }

    /// Borrows a reader connection, opening one if fewer than `max_readers` exist, else
    /// waiting up to busy_timeout for one to come back.
    pub fn reader(&self) -> AppResult<ReaderGuard<'_>> {
        let mut pool = self.readers.lock();
        loop {
            if let Some(conn) = pool.idle.pop() {
                return Ok(ReaderGuard {
                    handle: self,
                    conn: Some(conn),
                });
            }
            if pool.opened < self.max_readers {
                pool.opened += 1;
                drop(pool);
                return match connection::open(
                    &self.path,
                    file_kind(self.key.0),
                    &self.pragmas,
                    Mode::ReadOnly,
                ) {
                    Ok(conn) => Ok(ReaderGuard {
                        handle: self,
                        conn: Some(conn),
                    }),
                    Err(e) => {
                        self.readers.lock().opened -= 1;
                        self.reader_freed.notify_one();
                        Err(e)
                    }
                };
            }
            if self
                .reader_freed
                .wait_for(&mut pool, self.pragmas.busy_timeout)
                .timed_out()
            {
                return Err(
                    AppError::storage_busy().with_internal("no reader connection freed in time")
                );
            }
        }
    }

    /// Passive checkpoint on the writer; used before closing and by shutdown.
    pub(super) fn checkpoint(&self, mode: &str) {
        let conn = self.writer.lock();
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

fn shard_not_found(kind: ShardKind, e: AppError) -> AppError {
    if e.status != 404 {
        return e;
    }
    let code = match kind {
        ShardKind::Project => "project_not_found",
        ShardKind::Session => "session_not_found",
    };
    AppError::not_found(
        code,
        kind.name(),
        format!("no {} with this id", kind.name()),
    )
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
