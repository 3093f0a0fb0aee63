//! `planbase migrate` and `planbase check`: walk every file under DB_ROOT.

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Config;
use crate::storage::connection::{self, Mode, Pragmas};
use crate::storage::lock::RootLock;
use crate::storage::migrate::{self, FileKind};
use crate::storage::{scan_files, DbRoot};

fn progress(len: usize, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len as u64);
    let style = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} files ({eta})").expect("valid template");
    pb.set_style(style.progress_chars("=> "));
    pb.set_message(what.to_string());
    pb
}

/// Upgrades every file. Each file migrates in its own transaction, so a killed run resumes
/// where it stopped. Refuses while a server holds DB_ROOT (and holds the lock itself so no
/// server starts meanwhile).
pub fn migrate(config: &Config, dry_run: bool) -> anyhow::Result<()> {
    let root = DbRoot::new(&config.storage.db_root);
    if !root.path().exists() {
        anyhow::bail!("storage.db_root: {} does not exist; nothing to migrate", root.path().display());
    }
    let _lock = RootLock::acquire(&root).map_err(|e| anyhow::anyhow!("{e}"))?;
    let pragmas = Pragmas::from_config(&config.storage);
    let files = scan_files(&root);
    let pb = progress(files.len(), if dry_run { "checking" } else { "migrating" });
    let (mut upgraded, mut failed) = (0usize, Vec::new());
    for (path, kind) in &files {
        match migrate_one(path, *kind, &pragmas, dry_run) {
            Ok(true) => upgraded += 1,
            Ok(false) => {}
            Err(e) => failed.push(format!("{}: {e}", path.display())),
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let verb = if dry_run { "need an upgrade" } else { "upgraded" };
    println!("{} files, {upgraded} {verb}, {} failed", files.len(), failed.len());
    report(failed)
}

fn migrate_one(path: &Path, kind: FileKind, pragmas: &Pragmas, dry_run: bool) -> anyhow::Result<bool> {
    let conn = connection::open(path, kind, pragmas, Mode::ReadOnly).map_err(|e| anyhow::anyhow!("{e}"))?;
    let version = migrate::inspect(&conn).map_err(|e| anyhow::anyhow!("{e}"))?.user_version;
    drop(conn);
    if version == kind.latest() || dry_run {
        return Ok(version != kind.latest());
    }
    connection::open(path, kind, pragmas, Mode::Existing).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(true)
}

/// Read-only integrity check of every file: works beside a running server.
pub fn check(config: &Config) -> anyhow::Result<()> {
    let root = DbRoot::new(&config.storage.db_root);
    let files = scan_files(&root);
    let pb = progress(files.len(), "checking");
    let mut problems = Vec::new();
    for (path, kind) in &files {
        problems.extend(check_one(path, *kind).into_iter().map(|p| format!("{}: {p}", path.display())));
        pb.inc(1);
    }
    pb.finish_and_clear();
    problems.extend(quarantined(&root));
    println!("{} files checked, {} problems", files.len(), problems.len());
    report(problems)
}

/// Every shard in quarantine/ is a problem until an operator deals with it.
fn quarantined(root: &DbRoot) -> Vec<String> {
    let mut out = Vec::new();
    for kind in ["project", "session"] {
        let Ok(dir) = std::fs::read_dir(root.quarantine().join(kind)) else { continue };
        for e in dir.filter_map(|e| e.ok()) {
            let reason = std::fs::read_to_string(e.path().join("reason.txt")).unwrap_or_default();
            let why = reason.lines().nth(1).unwrap_or("no reason recorded").to_string();
            out.push(format!("{}: quarantined ({why})", e.path().display()));
        }
    }
    out
}

/// Problems of one file: unreadable, wrong kind, too new, damaged pages or indexes, or rows
/// that break a CHECK, NOT NULL or foreign key constraint.
pub fn check_one(path: &Path, kind: FileKind) -> Vec<String> {
    let run = || -> Result<Vec<String>, crate::error::AppError> {
        migrate::check(&connection::open_untrusted(path)?, kind)?;
        connection::constraint_problems(path, false)
    };
    run().unwrap_or_else(|e| vec![format!("{}", e.operator_message())])
}

fn report(problems: Vec<String>) -> anyhow::Result<()> {
    if problems.is_empty() {
        return Ok(());
    }
    for p in &problems {
        println!("  {p}");
    }
    anyhow::bail!("{} file(s) have problems", problems.len())
}
