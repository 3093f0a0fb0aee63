//! The DB_ROOT layout (DESIGN.md §2). Every path of a shard is built here, and only from a
//! parsed [`Uuid`], so no user text ever reaches the file system.

use std::path::{Path, PathBuf};

use uuid::Uuid;

use crate::error::AppError;

/// The kinds of per-entity shard files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ShardKind {
    Project,
    Session,
}

impl ShardKind {
    pub fn name(self) -> &'static str {
        match self {
            ShardKind::Project => "project",
            ShardKind::Session => "session",
        }
    }

    fn dir(self) -> &'static str {
        match self {
            ShardKind::Project => "projects",
            ShardKind::Session => "sessions",
        }
    }

    pub fn all() -> [ShardKind; 2] {
        [ShardKind::Project, ShardKind::Session]
    }
}

/// Parses an id from a URL or a body. Only the canonical 36-character hyphenated form is
/// accepted (any case), so `../`, NUL, percent-encoded slashes and long strings all fail
/// before anything touches a path. `thing` names what the id is for (`session`, …).
pub fn parse_id(raw: &str, thing: &'static str, code: &'static str) -> Result<Uuid, AppError> {
    let ok = raw.len() == 36 && raw.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    ok.then(|| Uuid::try_parse(raw).ok())
        .flatten()
        .ok_or_else(|| AppError::not_found(code, thing, format!("no {thing} with this id (ids are UUIDs)")))
}

#[derive(Debug, Clone)]
pub struct DbRoot {
    root: PathBuf,
}

impl DbRoot {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DbRoot { root: root.into() }
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    pub fn lock_file(&self) -> PathBuf {
        self.root.join(".lock")
    }

    pub fn registry(&self) -> PathBuf {
        self.root.join("main/registry.sqlite")
    }

    pub fn search(&self) -> PathBuf {
        self.root.join("main/search.sqlite")
    }

    pub fn auth(&self) -> PathBuf {
        self.root.join("main/auth.sqlite")
    }

    pub fn system_jobs(&self) -> PathBuf {
        self.root.join("jobs/system_jobs.sqlite")
    }

    pub fn llm_cache(&self) -> PathBuf {
        self.root.join("cache/llm_cache.sqlite")
    }

    pub fn embedding_cache(&self) -> PathBuf {
        self.root.join("cache/embedding_cache.sqlite")
    }

    pub fn shard_dir(&self, kind: ShardKind) -> PathBuf {
        self.root.join(kind.dir())
    }

    /// `projects/project_<uuid>.sqlite` or `sessions/session_<uuid>.sqlite`.
    pub fn shard(&self, kind: ShardKind, id: Uuid) -> PathBuf {
        self.shard_dir(kind).join(format!("{}_{}.sqlite", kind.name(), id.as_hyphenated()))
    }

    pub fn temp(&self) -> PathBuf {
        self.root.join("temp")
    }

    pub fn trash(&self) -> PathBuf {
        self.root.join("trash")
    }

    pub fn quarantine(&self) -> PathBuf {
        self.root.join("quarantine")
    }

    pub fn backups(&self) -> PathBuf {
        self.root.join("backups")
    }

    /// Every directory of the layout; created on start.
    pub fn dirs(&self) -> Vec<PathBuf> {
        ["main", "projects", "sessions", "jobs", "cache", "backups", "trash", "temp", "quarantine"]
            .iter()
            .map(|d| self.root.join(d))
            .collect()
    }

    /// Ids of every well-named shard file of `kind`, sorted (names that do not parse as
    /// `<kind>_<uuid>.sqlite` are skipped). Empty when the directory is missing.
    pub fn shard_ids(&self, kind: ShardKind) -> Vec<Uuid> {
        let Ok(dir) = std::fs::read_dir(self.shard_dir(kind)) else {
            return Vec::new();
        };
        let mut ids: Vec<Uuid> = dir
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|n| Self::shard_id_of(kind, n)))
            .collect();
        ids.sort();
        ids
    }

    /// Parses a shard file name back into its id (`session_<uuid>.sqlite`), for scans.
    pub fn shard_id_of(kind: ShardKind, file_name: &str) -> Option<Uuid> {
        let rest = file_name.strip_prefix(kind.name())?.strip_prefix('_')?.strip_suffix(".sqlite")?;
        Uuid::try_parse(rest).ok().filter(|u| u.as_hyphenated().to_string() == rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_ids_are_rejected_before_any_path_exists() {
        let long = "a".repeat(5000);
        let hostile = [
            "../../etc/passwd",
            "/etc/passwd",
            "abc\0def",
            &long,
            "..%2F..%2Fetc%2Fpasswd",
            "0191f0c4-9d4a-7000-8000-00000000000%2F",
            "{0191f0c4-9d4a-7000-8000-000000000000}",
            "urn:uuid:0191f0c4-9d4a-7000-8000-000000000000",
            "0191f0c49d4a70008000000000000000",
            "",
            "0191f0c4-9d4a-7000-8000-00000000000g",
        ];
        for h in hostile {
            let e = parse_id(h, "session", "session_not_found").unwrap_err();
            assert_eq!((e.status, e.code), (404, "session_not_found"), "{h:?}");
        }
    }

    #[test]
    fn shard_paths_use_canonical_lowercase_ids() {
        let id = parse_id("0191F0C4-9D4A-7000-8000-00000000000A", "session", "session_not_found").unwrap();
        let root = DbRoot::new("/r");
        let p = root.shard(ShardKind::Session, id);
        assert_eq!(p, PathBuf::from("/r/sessions/session_0191f0c4-9d4a-7000-8000-00000000000a.sqlite"));
        assert_eq!(DbRoot::shard_id_of(ShardKind::Session, p.file_name().unwrap().to_str().unwrap()), Some(id));
        assert_eq!(DbRoot::shard_id_of(ShardKind::Project, "session_x.sqlite"), None);
        assert_eq!(
            DbRoot::shard_id_of(ShardKind::Session, "session_0191F0C4-9D4A-7000-8000-00000000000A.sqlite"),
            None
        );
    }
}
