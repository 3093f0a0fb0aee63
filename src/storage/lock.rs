//! The one-writer-per-DB_ROOT lock: an exclusive `flock` on `DB_ROOT/.lock`.
//!
//! The OS releases a flock when its process dies, so a stale `.lock` file means nothing and a
//! restart after `kill -9` just works. flock locks belong to the open file description, so
//! even a second lock attempt inside the same process conflicts (tests rely on that).

use std::fs::{File, OpenOptions};
use std::io::Write;

use super::paths::DbRoot;

#[derive(Debug)]
pub struct RootLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another Planbase server holds {0} (pid {1}); stop it or use its HTTP API instead")]
    Held(String, String),
    #[error("cannot open {0}: {1}")]
    Io(String, std::io::Error),
}

impl RootLock {
    pub fn acquire(root: &DbRoot) -> Result<RootLock, LockError> {
        let path = root.lock_file();
        let shown = path.display().to_string();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| LockError::Io(shown.clone(), e))?;
        if file.try_lock().is_err() {
            let pid = std::fs::read_to_string(&path).unwrap_or_default().trim().to_string();
            return Err(LockError::Held(shown, if pid.is_empty() { "unknown".into() } else { pid }));
        }
        // The pid is informational only; the lock is what counts.
        let _ = file.set_len(0).and_then(|_| write!(file, "{}", std::process::id()));
        Ok(RootLock { _file: file })
    }

    /// True when a server holds the lock (for CLI commands that must not write beside it).
    pub fn is_held(root: &DbRoot) -> bool {
        match OpenOptions::new().read(true).open(root.lock_file()) {
            Ok(f) => {
                let held = f.try_lock_shared().is_err();
                let _ = f.unlock();
                held
            }
            Err(_) => false,
        }
    }
}
