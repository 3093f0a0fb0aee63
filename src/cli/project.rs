//! `planbase export`, `planbase import` and `planbase reindex`.
//!
//! Export only reads, so it works beside a running server (DESIGN.md §1.6). Import and
//! reindex write, so they take the DB_ROOT lock first and refuse while a server holds it;
//! both share their code with the HTTP routes (`project::transfer`, `project::reindex`).

use std::path::Path;

use anyhow::{anyhow, bail, Context};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Config;
use crate::error::AppError;
use crate::project::{reindex, transfer};
use crate::storage::connection::{self, Mode, Pragmas};
use crate::storage::lock::RootLock;
use crate::storage::migrate::FileKind;
use crate::storage::{parse_id, DbRoot, ShardKind, Storage};

fn op(e: AppError) -> anyhow::Error {
    anyhow!("{}", e.operator_message())
}

/// Writes a consistent copy of the project's shard to `file` (which must not exist) and
/// prints its SHA-256. Opens the shard read-only: the server may keep running.
pub fn export(config: &Config, project: &str, file: &Path) -> anyhow::Result<()> {
    let root = DbRoot::new(&config.storage.db_root);
    let id = parse_id(project, "project", "project_not_found").map_err(|e| anyhow!("{}: {project}", e.message))?;
    let shard = root.shard(ShardKind::Project, id);
    if !shard.exists() {
        bail!("no project {id} under {}", root.path().display());
    }
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    // VACUUM INTO needs a missing or empty file; a temp file beside the target is renamed
    // over it only when whole, and never over an existing file.
    let partial = tempfile::Builder::new().prefix(".planbase-export-").tempfile_in(dir)?;
    let conn = connection::open(&shard, FileKind::Project, &Pragmas::from_config(&config.storage), Mode::ReadOnly)
        .map_err(op)?;
    transfer::vacuum_into(&conn, partial.path()).map_err(op)?;
    drop(conn);
    let sha256 = transfer::sha256_hex(&mut std::fs::File::open(partial.path())?)?;
    partial.persist_noclobber(file).map_err(|e| anyhow!("{}: {}", file.display(), e.error))?;
    println!("exported project {id} to {}", file.display());
    println!("sha256 {sha256}");
    Ok(())
}

/// Imports a project file with the same checks as `POST /api/v1/projects/import`.
pub fn import(config: &Config, file: &Path, keep_id: bool) -> anyhow::Result<()> {
    let root = DbRoot::new(&config.storage.db_root);
    std::fs::create_dir_all(root.path())
        .with_context(|| format!("storage.db_root: cannot create {}", root.path().display()))?;
    let _lock = RootLock::acquire(&root).map_err(|e| anyhow!("{e}; use POST /api/v1/projects/import instead"))?;
    let storage = Storage::open(&config.storage).map_err(op)?;
    let tmp = transfer::TempFile::new(&root, "import");
    std::fs::copy(file, tmp.path()).with_context(|| format!("cannot read {}", file.display()))?;
    let pragmas = Pragmas::from_config(&config.storage);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = rt.block_on(transfer::import(&storage, &pragmas, tmp, keep_id));
    storage.shards.shutdown();
    let p = result.map_err(|e| match e.details.get("reason").and_then(|r| r.as_str()) {
        Some(reason) => anyhow!("{}: refused ({reason}): {}", file.display(), e.operator_message()),
        None => op(e),
    })?;
    println!("imported project {} ({:?})", p.id, p.name);
    Ok(())
}

/// Rebuilds the registry's project rows from the shards, with a progress bar.
pub fn reindex(config: &Config) -> anyhow::Result<()> {
    let root = DbRoot::new(&config.storage.db_root);
    if !root.path().exists() {
        bail!("storage.db_root: {} does not exist; nothing to reindex", root.path().display());
    }
    let _lock = RootLock::acquire(&root).map_err(|e| anyhow!("{e}; use POST /api/v1/admin/reindex instead"))?;
    crate::storage::ensure_layout(&root).map_err(op)?;
    let pragmas = Pragmas::from_config(&config.storage);
    let ids = root.shard_ids(crate::storage::ShardKind::Project);
    let pb = ProgressBar::new(ids.len() as u64);
    let style = ProgressStyle::with_template("reindexing [{bar:40}] {pos}/{len} projects ({eta})")?;
    pb.set_style(style.progress_chars("=> "));
    let found = reindex::scan(&root, &pragmas, &ids, || pb.inc(1));
    pb.finish_and_clear();
    let mut registry = connection::open(&root.registry(), FileKind::Registry, &pragmas, Mode::Create).map_err(op)?;
    let report = reindex::apply(&mut registry, &root, found).map_err(op)?;
    let jobs = crate::jobs::index::rebuild(&root, &pragmas, &ids, &mut registry).map_err(op)?;
    println!("{jobs} jobs indexed");
    reindex_sessions(&root, &pragmas, &mut registry)?;
    let mut search = connection::open(&root.search(), FileKind::Search, &pragmas, Mode::Create).map_err(op)?;
    let indexed = crate::session::recover::rebuild_search(&root, &pragmas, &mut search).map_err(op)?;
    println!("{indexed} messages indexed for search");
    println!(
        "{} projects indexed, {} adopted, {} removed, {} failed",
        report.projects,
        report.adopted,
        report.removed,
        report.failed.len()
    );
    for f in &report.failed {
        println!("  {}: {} ({})", f.id, f.message, f.code);
    }
    if !report.failed.is_empty() {
        bail!("{} project file(s) could not be read", report.failed.len());
    }
    Ok(())
}

/// Rebuilds the session rows (meta and message counts) from the session shards.
fn reindex_sessions(root: &DbRoot, pragmas: &Pragmas, registry: &mut rusqlite::Connection) -> anyhow::Result<()> {
    let found = crate::session::recover::scan(root, pragmas);
    let r = crate::session::recover::apply(registry, root, found).map_err(op)?;
    let (n, adopted, removed, failed) = (r.sessions, r.adopted, r.removed, r.failed.len());
    println!("{n} sessions indexed, {adopted} adopted, {removed} removed, {failed} failed");
    for id in &r.failed {
        println!("  session {id}: could not be read");
    }
    Ok(())
}
