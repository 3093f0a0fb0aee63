//! The one place where SQLite connections are opened and their PRAGMAs set.
//!
//! Order matters: a file's kind and version are checked *before* any PRAGMA that writes
//! (`journal_mode=WAL` rewrites the header), so a foreign or too-new file is left
//! byte-for-byte untouched.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::busy::set_busy_handler;
use super::migrate::{self, FileKind};
use crate::config::{StorageConfig, Synchronous};
use crate::error::{AppError, AppResult};

/// How a file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Open an existing file read-write and migrate it; a missing file is `not_found`.
    Existing,
    /// Create the file if needed, then migrate it.
    Create,
    /// A shard's reader: opened read-write so SQLite can create the -wal/-shm files it needs
    /// (a truly read-only open of a WAL file without them falls back to a slow heap-memory
    /// WAL index), but `query_only`, and never migrated.
    Reader,
    /// Truly read-only, no migration (CLI commands beside a running server).
    ReadOnly,
}

/// The PRAGMA settings derived from config, copied into every open.
#[derive(Debug, Clone)]
pub struct Pragmas {
    pub busy_timeout: Duration,
    pub synchronous: Synchronous,
    pub cache_size_kib: u64,
    pub max_page_count: u64,
}

impl Pragmas {
    pub fn from_config(cfg: &StorageConfig) -> Pragmas {
        Pragmas {
            busy_timeout: Duration::from_millis(cfg.busy_timeout_ms),
            synchronous: cfg.synchronous,
            cache_size_kib: cfg.cache_size_kib,
            // SQLite's default page size; a file that uses another size is capped a bit off.
            max_page_count: (cfg.max_shard_bytes.0 / 4096).max(1),
        }
    }

    /// Connection-level settings that write nothing to the file.
    pub fn apply_session(&self, conn: &Connection) -> rusqlite::Result<()> {
        set_busy_handler(conn, self.busy_timeout)?;
        let sync = match self.synchronous {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        };
        conn.execute_batch(&format!(
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = {sync}; PRAGMA cache_size = -{}; \
             PRAGMA temp_store = MEMORY; PRAGMA max_page_count = {};",
            self.cache_size_kib, self.max_page_count
        ))
    }

    /// Settings that persist in the file. Only after the kind check.
    pub fn apply_file(&self, conn: &Connection) -> AppResult<()> {
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(AppError::internal(format!("journal_mode is {mode}, expected wal")));
        }
        Ok(())
    }
}

/// Opens `path` as a file of `kind`: checks, sets PRAGMAs and (unless read-only) migrates.
pub fn open(path: &Path, kind: FileKind, pragmas: &Pragmas, mode: Mode) -> AppResult<Connection> {
    super::engine::configure();
    let base = OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let flags = match mode {
        Mode::Existing | Mode::Reader => base | OpenFlags::SQLITE_OPEN_READ_WRITE,
        Mode::Create => base | OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        Mode::ReadOnly => base | OpenFlags::SQLITE_OPEN_READ_ONLY,
    };
    if mode != Mode::Create && !path.exists() {
        return Err(AppError::not_found("not_found", kind.name(), format!("no such {} file", kind.name())));
    }
    let mut conn = Connection::open_with_flags(path, flags)?;
    set_busy_handler(&conn, pragmas.busy_timeout)?;
    let state = migrate::check(&conn, kind)?;
    pragmas.apply_session(&conn)?;
    if matches!(mode, Mode::ReadOnly | Mode::Reader) {
        conn.execute_batch("PRAGMA query_only = ON;")?;
        return Ok(conn);
    }
    pragmas.apply_file(&conn)?;
    // The common case (an up-to-date shard) takes no write lock at all: opens stay cheap.
    if state.empty || state.user_version < kind.latest() {
        migrate::migrate(&mut conn, kind)?;
    }
    Ok(conn)
}

/// Opens a file for inspection only (check, backup, import): read-only, no kind check,
/// untrusted schema, defensive mode.
pub fn open_untrusted(path: &Path) -> AppResult<Connection> {
    open_inspecting(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
}

fn open_inspecting(path: &Path, mode: OpenFlags) -> AppResult<Connection> {
    let conn = Connection::open_with_flags(path, mode | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)?;
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
    conn.execute_batch("PRAGMA query_only = ON;")?;
    Ok(conn)
}

/// Every broken row as well as every broken page: `integrity_check` (or the faster
/// `quick_check`, which skips comparing indexes with their tables) plus `foreign_key_check`.
/// SQLite skips CHECK and NOT NULL constraints in those checks on a read-only connection, so
/// this opens `path` read-write, yet `query_only`, untrusted and defensive: it writes
/// nothing, and it is safe beside a server (in WAL mode a connection that is not the last
/// to close leaves the WAL alone). Call it only on files whose schema is known to be ours,
/// since it evaluates the schema's CHECK expressions.
pub fn constraint_problems(path: &Path, quick: bool) -> AppResult<Vec<String>> {
    let conn = open_inspecting(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    let mut problems = pragma_rows(&conn, if quick { "PRAGMA quick_check" } else { "PRAGMA integrity_check" })?;
    problems.retain(|p| p != "ok");
    let dangling = pragma_rows(&conn, "PRAGMA foreign_key_check")?;
    problems.extend(dangling.into_iter().map(|t| format!("dangling key in {t}")));
    Ok(problems)
}

/// The first column of every row a PRAGMA returns, as text.
fn pragma_rows(conn: &Connection, sql: &str) -> AppResult<Vec<String>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Runs `PRAGMA integrity_check` and returns its problems (empty when the file is fine).
pub fn integrity_problems(conn: &Connection) -> AppResult<Vec<String>> {
    let mut stmt = conn.prepare("PRAGMA integrity_check")?;
    let rows: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(rows.into_iter().filter(|r| r != "ok").collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StorageConfig;

    fn pragmas() -> Pragmas {
        Pragmas::from_config(&StorageConfig::default())
    }

    #[test]
    fn create_sets_wal_and_migrates() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.sqlite");
        let conn = open(&p, FileKind::Session, &pragmas(), Mode::Create).unwrap();
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        let fk: i64 = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).unwrap();
        assert_eq!((mode.as_str(), fk), ("wal", 1));
        assert_eq!(migrate::inspect(&conn).unwrap().user_version, FileKind::Session.latest());
    }

    #[test]
    fn missing_file_is_not_found_and_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("missing.sqlite");
        for mode in [Mode::Existing, Mode::ReadOnly] {
            assert_eq!(open(&p, FileKind::Session, &pragmas(), mode).unwrap_err().status, 404);
        }
        assert!(!p.exists());
    }

    #[test]
    fn refused_files_stay_byte_for_byte_identical() {
        let dir = tempfile::tempdir().unwrap();
        let newer = dir.path().join("newer.sqlite");
        let c = Connection::open(&newer).unwrap();
        let v = FileKind::Session.latest() + 5;
        c.execute_batch(&format!(
            "CREATE TABLE x(a); PRAGMA application_id = {}; PRAGMA user_version = {v};",
            FileKind::Session.application_id()
        ))
        .unwrap();
        drop(c);
        let other = dir.path().join("other.sqlite");
        open(&other, FileKind::Project, &pragmas(), Mode::Create).unwrap();
        for (path, code) in [(&newer, "schema_too_new"), (&other, "wrong_file_kind")] {
            let before = std::fs::read(path).unwrap();
            let e = open(path, FileKind::Session, &pragmas(), Mode::Existing).unwrap_err();
            assert_eq!(e.code, code);
            assert_eq!(std::fs::read(path).unwrap(), before, "{code}: file changed");
        }
    }

    #[test]
    fn max_shard_bytes_caps_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = StorageConfig { max_shard_bytes: crate::config::ByteSize(1 << 20), ..Default::default() };
        let conn =
            open(&dir.path().join("s.sqlite"), FileKind::Session, &Pragmas::from_config(&cfg), Mode::Create).unwrap();
        conn.execute_batch("CREATE TABLE big(b BLOB)").unwrap();
        let mut err = None;
        for _ in 0..400 {
            if let Err(e) = conn.execute("INSERT INTO big VALUES (zeroblob(8192))", []) {
                err = Some(AppError::from(e));
                break;
            }
        }
        assert_eq!(err.expect("the cap was hit").code, "storage_full");
    }
}
