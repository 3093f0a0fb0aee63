//! Shard creation from a migrated template.
//!
//! Migrating an empty file runs every CREATE of the kind's schema; copying an already
//! migrated ~80 KB image is far cheaper. The image is built once per kind per process
//! (lazily, under temp/) and kept in memory.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;
use rusqlite::{params, Connection};
use uuid::Uuid;

use super::connection::{self, Mode, Pragmas};
use super::handle::file_kind;
use super::paths::{DbRoot, ShardKind};
use crate::error::{AppError, AppResult};

pub(super) struct Templates {
    root: DbRoot,
    pragmas: Arc<Pragmas>,
    images: Mutex<HashMap<ShardKind, Arc<Vec<u8>>>>,
}

impl Templates {
    pub fn new(root: DbRoot, pragmas: Arc<Pragmas>) -> Templates {
        Templates { root, pragmas, images: Mutex::new(HashMap::new()) }
    }

    fn image(&self, kind: ShardKind) -> AppResult<Arc<Vec<u8>>> {
        if let Some(img) = self.images.lock().get(&kind) {
            return Ok(img.clone());
        }
        // Built outside the lock; two racing builders produce equal images, one wins.
        let path = self.temp_path(&format!("template_{}_{}", kind.name(), Uuid::now_v7()));
        let conn = connection::open(&path, file_kind(kind), &self.pragmas, Mode::Create)?;
        drop(conn); // closing the last connection checkpoints the WAL into the file
        let bytes = Arc::new(std::fs::read(&path)?);
        let _ = std::fs::remove_file(&path);
        Ok(self.images.lock().entry(kind).or_insert(bytes).clone())
    }

    fn temp_path(&self, stem: &str) -> PathBuf {
        self.root.temp().join(format!("{stem}.sqlite"))
    }

    /// Writes a complete shard under temp/, then links it into place; see
    /// [`super::ShardManager::create`].
    pub fn create_shard<F>(&self, kind: ShardKind, id: Uuid, init: F) -> AppResult<()>
    where
        F: FnOnce(&Connection) -> AppResult<()>,
    {
        let target = self.root.shard(kind, id);
        if target.exists() {
            return Err(AppError::conflict(format!("a {} with this id already exists", kind.name())));
        }
        let tmp = self.temp_path(&format!("creating_{}_{}", kind.name(), id.as_hyphenated()));
        let result = self.build(&tmp, kind, id, init).and_then(|()| link_into_place(&tmp, &target, kind));
        let _ = std::fs::remove_file(&tmp);
        result
    }

    fn build<F>(&self, tmp: &std::path::Path, kind: ShardKind, id: Uuid, init: F) -> AppResult<()>
    where
        F: FnOnce(&Connection) -> AppResult<()>,
    {
        std::fs::write(tmp, &*self.image(kind)?)?;
        let mut conn = connection::open(tmp, file_kind(kind), &self.pragmas, Mode::Existing)?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        write_base_meta(&tx, kind, id)?;
        init(&tx)?;
        tx.commit()?;
        drop(conn); // checkpoint on close: the file is self-contained before it is linked
        Ok(())
    }
}

/// A hard link fails if the target exists, so two creates of one id cannot clobber.
fn link_into_place(tmp: &std::path::Path, target: &std::path::Path, kind: ShardKind) -> AppResult<()> {
    match std::fs::hard_link(tmp, target) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(AppError::conflict(format!("a {} with this id already exists", kind.name())))
        }
        Err(e) => Err(e.into()),
    }
}

/// The meta rows every shard carries (DESIGN.md §2).
fn write_base_meta(conn: &Connection, kind: ShardKind, id: Uuid) -> AppResult<()> {
    let version = file_kind(kind).latest().to_string();
    let rows = [
        ("kind", kind.name().to_string()),
        ("id", id.as_hyphenated().to_string()),
        ("schema_version", version),
        ("created_at", crate::clock::now()),
        ("planbase_version", env!("CARGO_PKG_VERSION").to_string()),
    ];
    let mut stmt = conn.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)")?;
    for (k, v) in rows {
        stmt.execute(params![k, v])?;
    }
    Ok(())
}
