//! Shards that failed with SQLITE_CORRUPT or SQLITE_NOTADB (DESIGN.md §5 Corruption): they
//! are moved to quarantine/ once, answer 503 `shard_unavailable` from then on, and every
//! other shard keeps serving. A hook tells the registry (its row gets health=quarantined).

use std::collections::HashSet;
use std::sync::OnceLock;

use parking_lot::Mutex;
use uuid::Uuid;

use super::handle::ShardKey;
use super::paths::ShardKind;
use crate::error::AppError;

type Hook = Box<dyn Fn(ShardKind, Uuid) + Send + Sync>;

#[derive(Default)]
pub struct Quarantine {
    keys: Mutex<HashSet<ShardKey>>,
    hook: OnceLock<Hook>,
}

impl Quarantine {
    pub fn set_hook(&self, hook: Hook) {
        let _ = self.hook.set(hook);
    }

    pub fn contains(&self, key: &ShardKey) -> bool {
        self.keys.lock().contains(key)
    }

    /// Records the key; true the first time (the caller then moves the files).
    pub fn insert(&self, key: ShardKey) -> bool {
        self.keys.lock().insert(key)
    }

    pub fn notify(&self, key: ShardKey) {
        if let Some(h) = self.hook.get() {
            h(key.0, key.1);
        }
    }
}

/// Whether an error means the file itself is damaged (and not, say, our own 503 for an
/// already quarantined shard, which carries no SQLite cause).
pub fn is_corruption(e: &AppError) -> bool {
    e.code == "shard_unavailable"
        && e.internal.as_deref().is_some_and(|i| {
            let i = i.to_ascii_lowercase();
            i.contains("malformed") || i.contains("not a database") || i.contains("corrupt")
        })
}
