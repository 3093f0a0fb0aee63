//! Online backups and restores of a whole DB_ROOT.
//!
//! A backup copies every file through SQLite's backup API in one step per file (so each
//! copy is a consistent snapshot) while a server keeps writing, into
//! `backups/<UTC timestamp>/` with a `manifest.json` of every file's kind, id, size,
//! SHA-256 and schema version. It is written under a `.partial` name and renamed when
//! complete, so a crashed backup is never mistaken for a good one. A restore verifies every
//! checksum and `integrity_check` before it copies anything.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::connection::{self, Mode, Pragmas};
use super::migrate::{self, FileKind};
use super::{scan_files, DbRoot};
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    /// Path relative to DB_ROOT, e.g. `sessions/session_<id>.sqlite`.
    pub file: String,
    pub kind: String,
    pub id: Option<String>,
    pub bytes: u64,
    pub sha256: String,
    pub user_version: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub created_at: String,
    pub planbase_version: String,
    pub complete: bool,
    pub include_caches: bool,
    pub files: Vec<Entry>,
}

fn rel(root: &DbRoot, p: &Path) -> String {
    p.strip_prefix(root.path()).unwrap_or(p).to_string_lossy().into_owned()
}

pub fn sha256_file(p: &Path) -> AppResult<String> {
    use sha2::{Digest, Sha256};
    let mut f = std::fs::File::open(p)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Copies one file as a consistent snapshot (read-only source; works beside a server).
fn copy_one(src: &Path, kind: FileKind, dest: &Path, pragmas: &Pragmas) -> AppResult<u32> {
    let source = connection::open(src, kind, pragmas, Mode::ReadOnly)?;
    let version = migrate::inspect(&source)?.user_version;
    let mut target = rusqlite::Connection::open(dest)?;
    {
        use rusqlite::backup::StepResult;
        let b = rusqlite::backup::Backup::new(&source, &mut target)?;
        // All pages in one step (-1): the copy is the state of one read transaction.
        let mut done = false;
        for _ in 0..250 {
            match b.step(-1)? {
                StepResult::Done => {
                    done = true;
                    break;
                }
                StepResult::More => continue,
                _ => std::thread::sleep(std::time::Duration::from_millis(20)), // busy or locked
            }
        }
        if !done {
            return Err(AppError::storage_busy().with_internal(format!("{} stayed locked for 5 s", src.display())));
        }
    }
    target.execute_batch("PRAGMA journal_mode = DELETE;")?;
    Ok(version)
}

/// Backs up every file (caches only with `include_caches`) into `backups/<timestamp>/`.
/// `tick(done, total)` reports progress. Returns the backup directory.
pub fn backup(
    root: &DbRoot,
    pragmas: &Pragmas,
    include_caches: bool,
    mut tick: impl FnMut(usize, usize),
) -> AppResult<PathBuf> {
    let created_at = crate::clock::now();
    std::fs::create_dir_all(root.backups())?;
    let (name, partial) = claim_name(&root.backups(), &created_at.replace([':', '-'], "").replace('.', "_"))?;
    let files: Vec<_> = scan_files(root).into_iter().filter(|(_, k)| include_caches || *k != FileKind::Cache).collect();
    let mut entries = Vec::with_capacity(files.len());
    for (i, (path, kind)) in files.iter().enumerate() {
        let r = rel(root, path);
        let dest = partial.join(&r);
        std::fs::create_dir_all(dest.parent().expect("files sit in a directory"))?;
        let user_version = match copy_one(path, *kind, &dest, pragmas) {
            Ok(v) => v,
            // Deleted (to trash) since the scan: the backup is of what exists, not an error.
            Err(_) if !path.exists() => {
                let _ = std::fs::remove_file(&dest);
                tick(i + 1, files.len());
                continue;
            }
            Err(e) => return Err(e.with_internal(format!("backing up {r}"))),
        };
        let id =
            path.file_stem().and_then(|s| s.to_str()).and_then(|s| s.split_once('_')).map(|(_, id)| id.to_string());
        let id = id.filter(|i| uuid::Uuid::try_parse(i).is_ok());
        entries.push(Entry {
            file: r,
            kind: kind.name().into(),
            id,
            bytes: std::fs::metadata(&dest)?.len(),
            sha256: sha256_file(&dest)?,
            user_version,
        });
        tick(i + 1, files.len());
    }
    let m = Manifest {
        created_at,
        planbase_version: env!("CARGO_PKG_VERSION").into(),
        complete: true,
        include_caches,
        files: entries,
    };
    std::fs::write(partial.join("manifest.json"), serde_json::to_vec_pretty(&m).map_err(AppError::internal)?)?;
    let done = root.backups().join(&name);
    std::fs::rename(&partial, &done)?;
    Ok(done)
}

/// A name no other backup has or is writing: `base`, else `base-1`, `base-2`, … Two backups
/// started in the same millisecond (a scheduled one and a requested one) must not share a
/// partial directory; `create_dir` is atomic, so each claims its own.
fn claim_name(dir: &Path, base: &str) -> AppResult<(String, PathBuf)> {
    for i in 0..1000 {
        let name = if i == 0 { base.to_string() } else { format!("{base}-{i}") };
        let partial = dir.join(format!(".{name}.partial"));
        if dir.join(&name).exists() {
            continue;
        }
        match std::fs::create_dir(&partial) {
            Ok(()) => return Ok((name, partial)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::conflict("too many backups started at the same moment"))
}

fn bad(msg: String) -> AppError {
    AppError::new(422, "invalid_backup", "backup", msg)
}

fn kind_named(name: &str) -> Option<FileKind> {
    FileKind::ALL.into_iter().find(|k| k.name() == name)
}

/// Checks a backup: a complete manifest, every file present with its checksum, the right
/// kind and version, and a clean `integrity_check`. Returns the manifest.
pub fn verify(dir: &Path) -> AppResult<Manifest> {
    let text =
        std::fs::read(dir.join("manifest.json")).map_err(|_| bad("no manifest.json: not a complete backup".into()))?;
    let m: Manifest = serde_json::from_slice(&text).map_err(|e| bad(format!("manifest.json does not parse: {e}")))?;
    if !m.complete {
        return Err(bad("the manifest says the backup is incomplete".into()));
    }
    for e in &m.files {
        let p = dir.join(&e.file);
        if e.file.contains("..") || !p.exists() {
            return Err(bad(format!("{} is missing", e.file)));
        }
        if sha256_file(&p)? != e.sha256 {
            return Err(bad(format!("{}: checksum mismatch", e.file)));
        }
        let kind = kind_named(&e.kind).ok_or_else(|| bad(format!("{}: unknown kind {}", e.file, e.kind)))?;
        let conn = connection::open_untrusted(&p)?;
        migrate::check(&conn, kind).map_err(|x| bad(format!("{}: {}", e.file, x.message)))?;
        drop(conn);
        let problems = connection::constraint_problems(&p, false)?;
        if !problems.is_empty() {
            return Err(bad(format!("{}: integrity_check: {}", e.file, problems.join("; "))));
        }
    }
    Ok(m)
}

/// Whether DB_ROOT holds any database file (the layout's empty directories do not count).
pub fn has_data(root: &DbRoot) -> bool {
    !scan_files(root).is_empty()
}

/// Restores a verified backup into `root`. Without `force`, `root` must hold no database
/// file. Each file is copied to temp/ first and renamed into place. The caller holds the
/// DB_ROOT lock.
pub fn restore(dir: &Path, root: &DbRoot, force: bool, mut tick: impl FnMut(usize, usize)) -> AppResult<Manifest> {
    let m = verify(dir)?;
    if has_data(root) && !force {
        return Err(AppError::conflict(format!(
            "{} already holds data; restore into an empty DB_ROOT or pass --force",
            root.path().display()
        )));
    }
    super::ensure_layout(root)?;
    for (i, e) in m.files.iter().enumerate() {
        let target = root.path().join(&e.file);
        let tmp = root.temp().join(format!("restore-{i}.sqlite"));
        std::fs::copy(dir.join(&e.file), &tmp)?;
        for side in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{side}", target.display()));
        }
        std::fs::create_dir_all(target.parent().expect("files sit in a directory"))?;
        std::fs::rename(&tmp, &target)?;
        tick(i + 1, m.files.len());
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the reliability suite: two backups started in the same millisecond shared
    /// one partial directory, and the second failed ("Directory not empty").
    #[test]
    fn backups_started_together_claim_distinct_names() {
        let t = tempfile::tempdir().unwrap();
        let (a, pa) = claim_name(t.path(), "20261125T000000_000Z").unwrap();
        let (b, pb) = claim_name(t.path(), "20261125T000000_000Z").unwrap();
        assert_eq!((a.as_str(), b.as_str()), ("20261125T000000_000Z", "20261125T000000_000Z-1"));
        assert!(pa.is_dir() && pb.is_dir() && pa != pb);
        std::fs::rename(&pa, t.path().join(&a)).unwrap();
        let (c, _) = claim_name(t.path(), "20261125T000000_000Z").unwrap();
        assert_eq!(c, "20261125T000000_000Z-2", "a finished backup's name is taken too");
    }
}
