//! Schema migrations per file kind.
//!
//! Each kind has an ordered list of SQL files under `schema/<kind>/`, embedded at build time.
//! A file's `PRAGMA user_version` is the number of migrations applied, and its
//! `PRAGMA application_id` says which kind it is. Pending migrations run in one `BEGIN
//! IMMEDIATE` transaction that also bumps `user_version`, so a failed or killed migration
//! leaves the file at its old version. A file that is newer than this binary, or of another
//! kind, is refused before anything is written to it.

use rusqlite::{Connection, OptionalExtension};
use serde_json::json;

use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migrations {
    ($kind:literal: $($file:literal),+ $(,)?) => {
        &[$(Migration { name: $file, sql: include_str!(concat!("../../schema/", $kind, "/", $file, ".sql")) }),+]
    };
}

/// Every kind of SQLite file Planbase owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    Registry,
    Search,
    Auth,
    Project,
    Session,
    Jobs,
    Cache,
}

impl FileKind {
    pub const ALL: [FileKind; 7] = [
        FileKind::Registry,
        FileKind::Search,
        FileKind::Auth,
        FileKind::Project,
        FileKind::Session,
        FileKind::Jobs,
        FileKind::Cache,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FileKind::Registry => "registry",
            FileKind::Search => "search",
            FileKind::Auth => "auth",
            FileKind::Project => "project",
            FileKind::Session => "session",
            FileKind::Jobs => "jobs",
            FileKind::Cache => "cache",
        }
    }

    /// `PRAGMA application_id`: "PB" followed by a kind number.
    pub fn application_id(self) -> i32 {
        0x5042_0000 + FileKind::ALL.iter().position(|k| *k == self).unwrap() as i32 + 1
    }

    pub fn migrations(self) -> &'static [Migration] {
        match self {
            FileKind::Registry => migrations!("registry": "0001_init"),
            FileKind::Search => migrations!("search": "0001_init"),
            FileKind::Auth => migrations!("auth": "0001_init"),
            FileKind::Project => migrations!("project": "0001_init"),
            FileKind::Session => {
                migrations!("session": "0001_init", "0002_memories_fts", "0003_turn_action_runs", "0004_deferred_fts")
            }
            FileKind::Jobs => migrations!("jobs": "0001_init"),
            FileKind::Cache => migrations!("cache": "0001_init"),
        }
    }

    pub fn latest(self) -> u32 {
        self.migrations().len() as u32
    }

    pub fn from_application_id(id: i32) -> Option<FileKind> {
        FileKind::ALL.into_iter().find(|k| k.application_id() == id)
    }
}

/// What a file says about itself, read without writing anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileState {
    pub application_id: i32,
    pub user_version: u32,
    /// No schema objects at all: a file we may initialize.
    pub empty: bool,
}

pub fn inspect(conn: &Connection) -> AppResult<FileState> {
    let application_id: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let user_version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let any: Option<i64> = conn.query_row("SELECT 1 FROM sqlite_schema LIMIT 1", [], |r| r.get(0)).optional()?;
    Ok(FileState { application_id, user_version, empty: any.is_none() })
}

pub fn wrong_kind(expected: FileKind, found: i32) -> AppError {
    let found_name = FileKind::from_application_id(found).map(FileKind::name).unwrap_or("unknown");
    AppError::new(
        422,
        "wrong_file_kind",
        "storage",
        format!("expected a {} file, found a {found_name} file", expected.name()),
    )
    .with_details(json!({"reason": "wrong_file_kind", "expected": expected.name(), "found": found_name}))
}

pub fn too_new(kind: FileKind, version: u32, latest: u32) -> AppError {
    AppError::new(
        422,
        "schema_too_new",
        "storage",
        format!(
            "this {} file has schema version {version}, newer than this Planbase knows ({latest}); upgrade Planbase",
            kind.name()
        ),
    )
    .with_details(json!({"reason": "schema_too_new", "version": version, "latest": latest}))
}

/// Refuses a file of another kind or a newer schema. Reads only.
pub fn check(conn: &Connection, kind: FileKind) -> AppResult<FileState> {
    check_with(conn, kind.application_id(), kind, kind.migrations().len() as u32)
}

fn check_with(conn: &Connection, app_id: i32, kind: FileKind, latest: u32) -> AppResult<FileState> {
    let st = inspect(conn)?;
    let fresh = st.empty && st.application_id == 0 && st.user_version == 0;
    if !fresh && st.application_id != app_id {
        return Err(wrong_kind(kind, st.application_id));
    }
    if st.user_version > latest {
        return Err(too_new(kind, st.user_version, latest));
    }
    Ok(st)
}

/// Applies pending migrations; returns `(from, to)`. Call [`check`] first (open does).
pub fn migrate(conn: &mut Connection, kind: FileKind) -> AppResult<(u32, u32)> {
    migrate_with(conn, kind, kind.migrations())
}

/// [`migrate`] with an explicit list, so tests can run a failing migration.
pub fn migrate_with(conn: &mut Connection, kind: FileKind, migrations: &[Migration]) -> AppResult<(u32, u32)> {
    let latest = migrations.len() as u32;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // Re-read inside the write lock: another process may have migrated meanwhile.
    let from = check_with(&tx, kind.application_id(), kind, latest)?.user_version;
    if from == latest {
        return Ok((from, from));
    }
    for (i, m) in migrations.iter().enumerate().skip(from as usize) {
        tx.execute_batch(m.sql)
            .map_err(|e| AppError::internal(format!("{} migration {} ({}) failed: {e}", kind.name(), i + 1, m.name)))?;
    }
    tx.execute_batch(&format!("PRAGMA application_id = {}; PRAGMA user_version = {latest};", kind.application_id()))?;
    tx.commit()?;
    Ok((from, latest))
}

/// The `sqlite_schema` SQL of a freshly migrated file of `kind` at `version`, built in memory.
/// Import compares an uploaded file against it.
pub fn expected_schema(kind: FileKind, version: u32) -> AppResult<Vec<(String, String, Option<String>)>> {
    let mut conn = Connection::open_in_memory()?;
    migrate_with(&mut conn, kind, &kind.migrations()[..version as usize])?;
    schema_of(&conn)
}

/// `(type, name, sql)` of every schema object, sorted, for comparisons.
pub fn schema_of(conn: &Connection) -> AppResult<Vec<(String, String, Option<String>)>> {
    let mut stmt = conn.prepare("SELECT type, name, sql FROM sqlite_schema ORDER BY type, name")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests;
