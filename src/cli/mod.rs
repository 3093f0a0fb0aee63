//! The command line (clap). `planbase` with no subcommand serves.

mod backup;
mod files;
mod project;
mod token;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, Overrides};

#[derive(Debug, Parser)]
#[command(name = "planbase", version, about = "Storage server for AI-agent applications")]
pub struct Cli {
    /// Config file (default: ./config.toml when present). Also PLANBASE_CONFIG.
    #[arg(long, global = true, env = "PLANBASE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory; overrides storage.db_root, DB_ROOT and PLANBASE_STORAGE_DB_ROOT.
    #[arg(long, global = true)]
    pub db_root: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API.
    Serve(ServeArgs),
    /// Upgrade every file under DB_ROOT to the current schema.
    Migrate {
        /// Only report what would be upgraded.
        #[arg(long)]
        dry_run: bool,
    },
    /// Run integrity_check over every file (or verify a backup); exits non-zero on any problem.
    Check {
        /// Verify this backup directory instead of DB_ROOT.
        #[arg(long)]
        backup: Option<PathBuf>,
    },
    /// Write a consistent online copy of every file into backups/<UTC timestamp>/.
    Backup {
        /// Also copy the LLM and embedding caches.
        #[arg(long)]
        include_caches: bool,
    },
    /// Restore a backup into an empty DB_ROOT (or over it with --force), after verifying it.
    Restore {
        dir: PathBuf,
        #[arg(long)]
        force: bool,
    },
    /// Print the effective config (secrets redacted).
    Config,
    /// Write a consistent copy of a project's file to FILE (read-only; works beside a server).
    Export { project: String, file: PathBuf },
    /// Import a project file (the checks of POST /api/v1/projects/import).
    Import {
        file: PathBuf,
        /// Keep the file's project id (refused when a project already has it).
        #[arg(long)]
        keep_id: bool,
    },
    /// Rebuild the registry's project rows from the project files.
    Reindex,
    /// Create the demo project (refuses while a server holds DB_ROOT).
    SeedDemo,
    /// Create or revoke API tokens (writes main/auth.sqlite; works beside a server).
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Run a benchmark (`storage`) and print its table.
    Bench(crate::bench::BenchArgs),
}

#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Create a token and print it once (the last word of the last line).
    Create {
        #[arg(long)]
        user: String,
        #[arg(long)]
        admin: bool,
    },
    /// Revoke a token by id.
    Revoke { id: String },
}

#[derive(Debug, Default, clap::Args)]
pub struct ServeArgs {
    /// Listen address, host:port (overrides server.bind).
    #[arg(long)]
    pub bind: Option<String>,
    /// Allow a non-loopback bind without authentication.
    #[arg(long)]
    pub insecure: bool,
    /// Load the demo project when DB_ROOT has no projects (the default without a subcommand).
    #[arg(long)]
    pub demo: bool,
}

/// Parses arguments, runs the command and returns the process exit code.
pub fn run() -> ExitCode {
    // Before any command can open a database (see storage::engine).
    crate::storage::engine::configure();
    let cli = Cli::parse();
    let bind = match &cli.command {
        Some(Command::Serve(a)) => a.bind.clone(),
        _ => None,
    };
    let overrides = Overrides { db_root: cli.db_root.clone(), bind };
    let config = match Config::from_env(cli.config.as_deref(), &overrides) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    crate::telemetry::init(config.server.log_format);
    let result = match cli.command {
        None => serve(config, &ServeArgs { demo: true, ..ServeArgs::default() }),
        Some(Command::Serve(args)) => serve(config, &args),
        Some(Command::Migrate { dry_run }) => files::migrate(&config, dry_run),
        Some(Command::Check { backup: None }) => files::check(&config),
        Some(Command::Check { backup: Some(dir) }) => backup::run_check(&dir),
        Some(Command::Backup { include_caches }) => backup::run_backup(&config, include_caches),
        Some(Command::Restore { dir, force }) => backup::run_restore(&config, &dir, force),
        Some(Command::Config) => {
            print!("{}", config.to_redacted_toml());
            Ok(())
        }
        Some(Command::Export { project, file }) => project::export(&config, &project, &file),
        Some(Command::Import { file, keep_id }) => project::import(&config, &file, keep_id),
        Some(Command::Reindex) => project::reindex(&config),
        Some(Command::Token { action: TokenAction::Create { user, admin } }) => token::create(&config, &user, admin),
        Some(Command::Token { action: TokenAction::Revoke { id } }) => token::revoke(&config, &id),
        Some(Command::SeedDemo) => seed_demo(&config),
        Some(Command::Bench(args)) => crate::bench::run(&config, args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

/// One line on stderr; the exit code says it failed.
fn fail(e: impl std::fmt::Display) -> ExitCode {
    let line = e.to_string().replace('\n', " ");
    eprintln!("planbase: {line}");
    ExitCode::FAILURE
}

fn serve(config: Config, args: &ServeArgs) -> anyhow::Result<()> {
    let ip = config.server.bind.ip();
    if !ip.is_loopback() && config.auth.mode == crate::config::AuthMode::None && !args.insecure {
        anyhow::bail!(
            "server.bind: {ip} is not loopback and auth.mode is none; set auth.mode = \"token\" or pass --insecure"
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let demo = args.demo;
    rt.block_on(async move {
        let limits = crate::script::Limits::from_config(&config.limits);
        let app = crate::App::build(config).await?;
        if demo {
            let seeded = crate::project::demo::seed_if_empty(&app.state().storage, limits).await;
            match seeded.map_err(|e| anyhow::anyhow!("demo: {}", e.operator_message()))? {
                Some(p) => {
                    tracing::info!(project = %p.id, "loaded the demo project; create a session with it and chat")
                }
                None => tracing::debug!("DB_ROOT has projects; the demo is not loaded"),
            }
        }
        app.run_until_stopped().await
    })
}

/// `planbase seed-demo`: holds the DB_ROOT lock while it writes.
fn seed_demo(config: &Config) -> anyhow::Result<()> {
    let root = crate::storage::DbRoot::new(&config.storage.db_root);
    std::fs::create_dir_all(root.path())?;
    let _lock = crate::storage::lock::RootLock::acquire(&root).map_err(|e| anyhow::anyhow!("{e}"))?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let limits = crate::script::Limits::from_config(&config.limits);
    let storage =
        crate::storage::Storage::open(&config.storage).map_err(|e| anyhow::anyhow!("{}", e.operator_message()))?;
    let p = rt
        .block_on(crate::project::demo::seed(&storage, limits))
        .map_err(|e| anyhow::anyhow!("{}", e.operator_message()))?;
    storage.shards.shutdown();
    println!("demo project {} created", p.id);
    Ok(())
}
