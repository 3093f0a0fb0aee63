//! Project copy, export and import (DESIGN.md §5 "Copy and export", "Import").
//!
//! Every path goes through temp/: a consistent snapshot (`VACUUM INTO`) or an upload is
//! completed there and hard-linked into projects/, so a shard appears whole or not at all.
//! A [`TempFile`] guard removes the file (and its -wal/-shm/-journal) on every exit path,
//! including a dropped request, so a failure leaves nothing behind. Each guard is moved into
//! the blocking closure that works on its file, so it cannot be dropped (and the file
//! removed) while SQLite is still writing it.

use std::fs::File;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::model::{Project, STATUSES};
use super::{service, store};
use crate::error::{AppError, AppResult};
use crate::storage::connection::{self, Mode, Pragmas};
use crate::storage::migrate::{self, FileKind};
use crate::storage::pools::with_conn;
use crate::storage::{DbRoot, ShardKind, Storage};

const P: ShardKind = ShardKind::Project;

/// A file under temp/ that is removed, with its SQLite side files, when the guard drops.
#[derive(Debug)]
pub struct TempFile {
    path: PathBuf,
}

impl TempFile {
    /// `temp/<purpose>_<uuidv7>.sqlite`; nothing is created yet.
    pub fn new(root: &DbRoot, purpose: &str) -> TempFile {
        TempFile { path: root.temp().join(format!("{purpose}_{}.sqlite", Uuid::now_v7())) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        remove_with_side_files(&self.path);
    }
}

/// Removes a database file and whatever SQLite left beside it.
pub fn remove_with_side_files(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// Runs blocking work (SQLite, file I/O) off the runtime, in the caller's span.
pub async fn blocking<T, F>(f: F) -> AppResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> AppResult<T> + Send + 'static,
{
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f)).await.map_err(AppError::internal)?
}

/// Writes a consistent, compact single-file copy of `conn`'s database to `dest`, which must
/// not exist. The copy is one read transaction, so writers keep going meanwhile.
///
/// Shard readers (and read-only CLI opens) run with `query_only=ON`, which refuses
/// `VACUUM INTO` although it writes only `dest`; it is lifted for this one statement. The
/// main file stays untouched: a reader never writes it, and a read-only open cannot.
pub fn vacuum_into(conn: &Connection, dest: &Path) -> AppResult<()> {
    let dest = dest.to_str().ok_or_else(|| AppError::internal("temp path is not UTF-8"))?;
    conn.execute_batch("PRAGMA query_only = OFF;")?;
    let done = conn.execute("VACUUM INTO ?1", [dest]);
    conn.execute_batch("PRAGMA query_only = ON;")?;
    done?;
    Ok(())
}

/// A consistent snapshot of a project shard in temp/ (the base of copy and export).
pub async fn snapshot(st: &Storage, id: Uuid) -> AppResult<TempFile> {
    let tmp = TempFile::new(&st.root, "snapshot");
    st.shards
        .read(P, id, move |conn| {
            vacuum_into(conn, tmp.path())?;
            Ok(tmp)
        })
        .await
}

/// Hex SHA-256 of a reader's remaining bytes.
pub fn sha256_hex(r: &mut impl Read) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match r.read(&mut buf)? {
            0 => break,
            n => hasher.update(&buf[..n]),
        }
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// An export ready to stream: an open, already unlinked file positioned at its start.
pub struct Export {
    pub file: File,
    pub len: u64,
    pub sha256: String,
}

/// Snapshots the project and hashes the copy. The temp file is unlinked before this returns
/// (the open handle keeps its data readable), so an abandoned download leaves nothing.
pub async fn export(st: &Storage, id: Uuid) -> AppResult<Export> {
    service::get(st, id).await?;
    let tmp = snapshot(st, id).await?;
    blocking(move || {
        let mut file = File::open(tmp.path())?;
        drop(tmp);
        let sha256 = sha256_hex(&mut file)?;
        let len = file.stream_position()?;
        file.rewind()?;
        Ok(Export { file, len, sha256 })
    })
    .await
}

/// `POST /projects/{id}/copy`.
#[derive(Debug, Clone, Deserialize)]
pub struct CopyRequest {
    pub name: Option<String>,
    #[serde(default = "yes")]
    pub include_versions: bool,
}

fn yes() -> bool {
    true
}

impl Default for CopyRequest {
    fn default() -> Self {
        CopyRequest { name: None, include_versions: true }
    }
}

/// Longest project name (as `POST /projects` checks it).
const MAX_NAME: usize = 200;

fn copy_name(requested: Option<&str>, original: &str) -> String {
    if let Some(n) = requested {
        return n.trim().to_string();
    }
    let base: String = original.chars().take(MAX_NAME - " (copy)".len()).collect();
    format!("{base} (copy)")
}

/// Copies a project from one consistent snapshot: new id and timestamps, optionally
/// without its versions; then registers the copy.
pub async fn copy(st: &Storage, pragmas: &Pragmas, id: Uuid, req: CopyRequest) -> AppResult<Project> {
    if let Some(n) = &req.name {
        if n.trim().is_empty() || n.chars().count() > MAX_NAME {
            return Err(AppError::validation("name", format!("name must be 1..{MAX_NAME} characters")));
        }
    }
    service::get(st, id).await?;
    let tmp = snapshot(st, id).await?;
    let (root, pragmas, new_id) = (st.root.clone(), pragmas.clone(), Uuid::now_v7());
    let p = blocking(move || {
        let p = rewrite_copy(tmp.path(), &pragmas, new_id, &req)?;
        link_into_place(tmp.path(), &root.shard(P, new_id))?;
        Ok(p)
    })
    .await?;
    service::register(st, p).await
}

fn rewrite_copy(path: &Path, pragmas: &Pragmas, new_id: Uuid, req: &CopyRequest) -> AppResult<Project> {
    let mut conn = connection::open(path, FileKind::Project, pragmas, Mode::Existing)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut p = store::read_meta(&tx)?;
    let now = crate::clock::now();
    set_identity(&tx, new_id, Some(&now))?;
    (p.id, p.name, p.created_at, p.updated_at) =
        (new_id.to_string(), copy_name(req.name.as_deref(), &p.name), now.clone(), now);
    // Job ids are global (job_index maps each to one file): the copy starts without the
    // original's jobs and their logs (ON DELETE CASCADE). Action logs are free text; kept.
    tx.execute("DELETE FROM jobs", [])?;
    if !req.include_versions {
        // One statement: the rollback_from_version_id references are checked at its end.
        tx.execute("DELETE FROM versions", [])?;
        (p.current_version_id, p.status) = (None, "draft".into());
    }
    store::write_meta(&tx, &p)?;
    tx.commit()?;
    drop(conn); // closing the last connection checkpoints: the file is whole before its link
    Ok(p)
}

/// Rewrites the base meta rows that identify a shard (plain text, not JSON).
fn set_identity(conn: &Connection, id: Uuid, created_at: Option<&str>) -> AppResult<()> {
    let mut stmt = conn.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)")?;
    stmt.execute(["id", &id.as_hyphenated().to_string()])?;
    if let Some(at) = created_at {
        stmt.execute(["created_at", at])?;
    }
    Ok(())
}

/// A hard link fails when the target exists, so nothing is ever clobbered.
pub fn link_into_place(tmp: &Path, target: &Path) -> AppResult<()> {
    match std::fs::hard_link(tmp, target) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(AppError::conflict("a project with this id already exists"))
        }
        Err(e) => Err(e.into()),
    }
}

/// The 422 of every refused import, with the failed step as `details.reason`.
pub fn invalid(reason: &'static str, message: impl Into<String>) -> AppError {
    AppError::new(422, "invalid_project_file", "project", message.into())
        .with_details(json!({ "reason": reason }))
        .with_suggestion("upload a file made by GET /api/v1/projects/{id}/export (or `planbase export`)")
}

/// Turns any error of a verification step into that step's 422 (the cause goes to the log).
fn at_step<T>(reason: &'static str, message: &str, r: AppResult<T>) -> AppResult<T> {
    r.map_err(|e| invalid(reason, message).with_internal(e.operator_message()))
}

/// The SQLite header magic; anything else (an empty file included, which SQLite would
/// happily treat as an empty database) is not a project file.
const MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Checks an untrusted file, in order: SQLite header, structural integrity (read-only),
/// application id, schema version, every schema object, row constraints and foreign keys,
/// meta. Returns the id in its meta. Nothing here writes to the file.
pub fn verify(path: &Path) -> AppResult<Uuid> {
    check_header(path)?;
    let conn = at_step("not_sqlite", "the file is not a SQLite database", connection::open_untrusted(path))?;
    let problems = at_step("integrity", "the file is damaged", connection::integrity_problems(&conn))?;
    if !problems.is_empty() {
        return Err(invalid("integrity", "the file is damaged").with_internal(problems.join("; ")));
    }
    let state = at_step("integrity", "the file is damaged", migrate::inspect(&conn))?;
    if state.application_id != FileKind::Project.application_id() {
        let found = FileKind::from_application_id(state.application_id).map(FileKind::name).unwrap_or("unknown");
        return Err(invalid("wrong_file_kind", format!("expected a project file, found a {found} file")));
    }
    let latest = FileKind::Project.latest();
    if state.user_version > latest {
        let msg = format!("schema version {} is newer than this Planbase knows ({latest})", state.user_version);
        return Err(invalid("schema_too_new", msg).with_suggestion("upgrade Planbase, then import again"));
    }
    check_schema(&conn, state.user_version)?;
    check_rows(path)?;
    check_meta(&conn)
}

fn check_header(path: &Path) -> AppResult<()> {
    let mut head = [0u8; 100];
    let read = File::open(path).and_then(|mut f| f.read_exact(&mut head));
    if read.is_err() || &head[..16] != MAGIC {
        return Err(invalid("not_sqlite", "the file is not a SQLite database"));
    }
    // The in-header page count is trusted by SQLite when the change counter matches; a file
    // shorter than that lost its tail.
    let be = |at: usize| u32::from_be_bytes(head[at..at + 4].try_into().expect("4 bytes")) as u64;
    let page_size = match u16::from_be_bytes([head[16], head[17]]) {
        1 => 65536,
        n => n as u64,
    };
    let len =
        std::fs::metadata(path).map_err(|e| invalid("not_sqlite", "the file cannot be read").with_internal(e))?.len();
    if be(24) == be(92) && be(28) * page_size > len {
        return Err(invalid("integrity", "the file is truncated"));
    }
    Ok(())
}

/// Every `sqlite_schema` row must equal what this binary's migrations produce at the file's
/// version: no extra trigger, view, index or changed column, so nothing hostile runs later.
fn check_schema(conn: &Connection, version: u32) -> AppResult<()> {
    let expected = migrate::expected_schema(FileKind::Project, version)?;
    let found = at_step("unexpected_schema", "the file's schema is not a project schema", migrate::schema_of(conn))?;
    if found != expected {
        let extra: Vec<&str> = found.iter().filter(|r| !expected.contains(r)).map(|r| r.1.as_str()).collect();
        return Err(invalid("unexpected_schema", "the file's schema differs from a project schema")
            .with_internal(format!("unexpected or changed objects: {extra:?}")));
    }
    Ok(())
}

/// CHECK and NOT NULL constraints and foreign keys of every row, on the private temp copy
/// (see [`connection::constraint_problems`]); it runs only once the schema is known to be
/// ours, so the constraint expressions it evaluates are ours too.
fn check_rows(path: &Path) -> AppResult<()> {
    let problems = at_step("integrity", "the file is damaged", connection::constraint_problems(path, true))?;
    match problems.is_empty() {
        true => Ok(()),
        false => {
            Err(invalid("integrity", "the file breaks the project schema's constraints")
                .with_internal(problems.join("; ")))
        }
    }
}

/// meta must say `kind = project`, carry a UUID id, and read as a project.
fn check_meta(conn: &Connection) -> AppResult<Uuid> {
    let get = |key: &str| -> AppResult<Option<String>> {
        let v = conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?;
        Ok(v)
    };
    let bad = |what: &str| invalid("bad_meta", format!("the file's meta {what}"));
    let kind = get("kind").map_err(|e| bad("cannot be read").with_internal(e.operator_message()))?;
    if kind.as_deref() != Some("project") {
        return Err(bad("does not describe a project"));
    }
    let id = get("id").ok().flatten().and_then(|s| Uuid::try_parse(&s).ok()).ok_or_else(|| bad("has no valid id"))?;
    let p = store::read_meta(conn).map_err(|e| bad("is incomplete").with_internal(e.operator_message()))?;
    let name_ok = !p.name.trim().is_empty() && p.name.chars().count() <= MAX_NAME;
    if !name_ok || !STATUSES.contains(&p.status.as_str()) {
        return Err(bad("has an invalid name or status"));
    }
    Ok(id)
}

/// Verifies an uploaded file, migrates it, gives it its id (a fresh UUIDv7, or its own with
/// `keep_id` when that is free: else 409), links it into projects/ and registers it.
pub async fn import(st: &Storage, pragmas: &Pragmas, tmp: TempFile, keep_id: bool) -> AppResult<Project> {
    let (tmp, found) = blocking(move || verify(tmp.path()).map(|id| (tmp, id))).await?;
    let id = if keep_id { free_id(st, found).await? } else { Uuid::now_v7() };
    let (root, pragmas) = (st.root.clone(), pragmas.clone());
    let p = blocking(move || {
        let p = install(tmp.path(), &pragmas, id)?;
        link_into_place(tmp.path(), &root.shard(P, id))?;
        Ok(p)
    })
    .await?;
    let p = service::register(st, p).await?;
    // The imported file's jobs become reachable by id (ids already indexed stay where they are).
    let jobs = st.shards.read(P, id, crate::jobs::index::job_rows).await?;
    let pid = p.id.clone();
    with_conn(&st.shared.registry, move |c| crate::jobs::index::insert_absent(c, Some(&pid), &jobs)).await?;
    Ok(p)
}

async fn free_id(st: &Storage, id: Uuid) -> AppResult<Uuid> {
    let taken = st.shards.exists(P, id) || service::get(st, id).await.is_ok();
    if taken {
        return Err(AppError::conflict("a project with this id already exists")
            .with_suggestion("import without keep_id to give the project a new id"));
    }
    Ok(id)
}

/// Migrates the verified file and writes its final id. A failure here is still the file's
/// fault unless storage itself is busy or full.
fn install(path: &Path, pragmas: &Pragmas, id: Uuid) -> AppResult<Project> {
    let run = || -> AppResult<Project> {
        let mut conn = connection::open(path, FileKind::Project, pragmas, Mode::Existing)?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        set_identity(&tx, id, None)?;
        let p = store::read_meta(&tx)?;
        tx.commit()?;
        drop(conn); // checkpoint on close: the file is whole before its link
        Ok(p)
    };
    run().map_err(|e| match e.status {
        503 | 507 => e,
        _ => invalid("integrity", "the file could not be upgraded").with_internal(e.operator_message()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_names_fit_the_name_limit() {
        assert_eq!(copy_name(None, "Plan"), "Plan (copy)");
        assert_eq!(copy_name(Some("  New "), "Plan"), "New");
        assert_eq!(copy_name(None, &"x".repeat(MAX_NAME)).chars().count(), MAX_NAME);
    }

    #[test]
    fn an_empty_file_is_not_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("empty.sqlite");
        std::fs::write(&p, b"").unwrap();
        assert_eq!(verify(&p).unwrap_err().details["reason"], "not_sqlite");
    }

    #[test]
    fn temp_files_take_their_side_files_along() {
        let dir = tempfile::tempdir().unwrap();
        let root = DbRoot::new(dir.path());
        std::fs::create_dir_all(root.temp()).unwrap();
        let t = TempFile::new(&root, "x");
        for suffix in ["", "-wal", "-shm"] {
            std::fs::write(format!("{}{suffix}", t.path().display()), b"x").unwrap();
        }
        drop(t);
        assert_eq!(std::fs::read_dir(root.temp()).unwrap().count(), 0);
    }
}
