//! `planbase backup`, `planbase restore DIR` and `planbase check --backup DIR`.

use std::path::Path;

use anyhow::{anyhow, bail};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Config;
use crate::storage::backup;
use crate::storage::connection::Pragmas;
use crate::storage::lock::RootLock;
use crate::storage::DbRoot;

fn bar(what: &str) -> ProgressBar {
    let pb = ProgressBar::new(0);
    let style = ProgressStyle::with_template(&format!("{what} [{{bar:40}}] {{pos}}/{{len}} files ({{eta}})"))
        .expect("template");
    pb.set_style(style.progress_chars("=> "));
    pb
}

/// Read-only on the sources, so it runs beside a server.
pub fn run_backup(config: &Config, include_caches: bool) -> anyhow::Result<()> {
    let root = DbRoot::new(&config.storage.db_root);
    if !root.path().exists() {
        bail!("storage.db_root: {} does not exist; nothing to back up", root.path().display());
    }
    let pb = bar("backing up");
    let dir = backup::backup(&root, &Pragmas::from_config(&config.storage), include_caches, |done, total| {
        pb.set_length(total as u64);
        pb.set_position(done as u64);
    })
    .map_err(|e| anyhow!("{}", e.operator_message()))?;
    pb.finish_and_clear();
    println!("backup written to {}", dir.display());
    Ok(())
}

/// Verifies first; refuses while a server holds DB_ROOT, and a non-empty root without --force.
pub fn run_restore(config: &Config, dir: &Path, force: bool) -> anyhow::Result<()> {
    let root = DbRoot::new(&config.storage.db_root);
    std::fs::create_dir_all(root.path())?;
    let _lock = RootLock::acquire(&root).map_err(|e| anyhow!("{e}"))?;
    let pb = bar("restoring");
    let m = backup::restore(dir, &root, force, |done, total| {
        pb.set_length(total as u64);
        pb.set_position(done as u64);
    })
    .map_err(|e| anyhow!("{}", e.operator_message()))?;
    pb.finish_and_clear();
    println!("restored {} files from the backup of {} into {}", m.files.len(), m.created_at, root.path().display());
    Ok(())
}

pub fn run_check(dir: &Path) -> anyhow::Result<()> {
    let m = backup::verify(dir).map_err(|e| anyhow!("{}", e.operator_message()))?;
    println!("backup of {} is complete: {} files verified", m.created_at, m.files.len());
    Ok(())
}
