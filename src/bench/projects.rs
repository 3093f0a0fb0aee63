//! `planbase bench projects`: project creates per second through `project::service::create`,
//! then the export of a project filled to `--mib` MiB of files and versions, and the import
//! of that export, on a Storage opened in a temp DB_ROOT.

use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use serde_json::json;
use uuid::Uuid;

use super::{percentile, print_table};
use crate::config::Config;
use crate::error::AppResult;
use crate::project::model::{NewProject, ProjectFile, SetFile, Version};
use crate::project::{service, store, transfer};
use crate::storage::connection::Pragmas;
use crate::storage::{ShardKind, Storage};

#[derive(Debug, Args)]
pub struct ProjectsBench {
    /// Projects created per create case.
    #[arg(long, default_value_t = 1_000)]
    pub creates: usize,
    /// Concurrent tasks of the parallel create case.
    #[arg(long, default_value_t = 8)]
    pub tasks: usize,
    /// Size the exported project is filled to, in MiB.
    #[arg(long, default_value_t = 10)]
    pub mib: u64,
    /// Export and import runs (the table shows their median and max).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Where to put the benchmark's files (default: a temp dir under the system temp).
    #[arg(long)]
    pub dir: Option<std::path::PathBuf>,
}

pub fn run(config: &Config, b: ProjectsBench) -> anyhow::Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix("planbase-bench-")
        .tempdir_in(b.dir.clone().unwrap_or_else(std::env::temp_dir))?;
    let mut cfg = config.storage.clone();
    cfg.db_root = tmp.path().join("root");
    let st = Arc::new(Storage::open(&cfg).map_err(|e| anyhow::anyhow!("{}", e.operator_message()))?);
    let pragmas = Pragmas::from_config(&cfg);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = rt.block_on(async {
        let creates = vec![create_case(&st, b.creates, 1).await?, create_case(&st, b.creates, b.tasks).await?];
        let transfers = transfer_cases(&st, &pragmas, &b).await?;
        AppResult::Ok((creates, transfers))
    });
    st.shards.shutdown();
    let (creates, transfers) = result.map_err(|e| anyhow::anyhow!("{}", e.operator_message()))?;
    print_table(&["case", "projects", "projects/s"], &creates);
    println!();
    print_table(&["case", "file MiB", "runs", "p50 ms", "max ms"], &transfers);
    Ok(())
}

async fn create_case(st: &Arc<Storage>, n: usize, tasks: usize) -> AppResult<Vec<String>> {
    eprintln!("creating {n} projects from {tasks} task(s)…");
    let started = Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let st = st.clone();
        let count = n / tasks + usize::from(t < n % tasks);
        handles.push(tokio::spawn(async move {
            for i in 0..count {
                service::create(&st, new_project(&format!("bench {t}-{i}")), None).await?;
            }
            AppResult::Ok(())
        }));
    }
    for h in handles {
        h.await.map_err(crate::error::AppError::internal)??;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    Ok(vec![format!("create, {tasks} task(s)"), n.to_string(), format!("{rate:.0}")])
}

fn new_project(name: &str) -> NewProject {
    serde_json::from_value(json!({"name": name, "tags": ["bench"]})).expect("a valid NewProject")
}

/// Fills one project, then times export (snapshot, hash, read to the end, as the HTTP
/// stream does) and import (write the bytes to temp/, verify, install, register).
async fn transfer_cases(st: &Arc<Storage>, pragmas: &Pragmas, b: &ProjectsBench) -> AppResult<Vec<Vec<String>>> {
    let id = Uuid::parse_str(&service::create(st, new_project("bench big"), None).await?.id).expect("uuid");
    eprintln!("filling a project to {} MiB…", b.mib);
    fill(st, id, b.mib << 20).await?;
    let (mut exports, mut imports, mut bytes) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..b.runs {
        let started = Instant::now();
        let mut out = transfer::export(st, id).await?;
        bytes = transfer::blocking(move || {
            let mut buf = Vec::with_capacity(out.len as usize);
            std::io::Read::read_to_end(&mut out.file, &mut buf)?;
            Ok(buf)
        })
        .await?;
        exports.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let shared = Arc::new(bytes);
    for _ in 0..b.runs {
        let started = Instant::now();
        let (tmp, data) = (transfer::TempFile::new(&st.root, "import"), shared.clone());
        let tmp = transfer::blocking(move || Ok(std::fs::write(tmp.path(), &*data).map(|()| tmp)?)).await?;
        transfer::import(st, pragmas, tmp, false).await?;
        imports.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let mib = format!("{:.1}", shared.len() as f64 / (1 << 20) as f64);
    Ok(vec![
        timing("export (VACUUM INTO, sha256, read)", &mib, exports),
        timing("import (write, verify, install)", &mib, imports),
    ])
}

fn timing(case: &str, mib: &str, mut ms: Vec<f64>) -> Vec<String> {
    ms.sort_by(f64::total_cmp);
    let max = ms.last().copied().unwrap_or(0.0);
    vec![case.into(), mib.into(), ms.len().to_string(), format!("{:.1}", percentile(&ms, 50.0)), format!("{max:.1}")]
}

/// Adds ~256 KiB files (YAML plus its JSON form), and a version every fourth file, until the
/// shard holds `target` bytes of pages.
async fn fill(st: &Storage, id: Uuid, target: u64) -> AppResult<()> {
    let mut n = 0usize;
    while shard_bytes(st, id).await? < target {
        let (file, version) = bench_file(n);
        st.shards
            .write(ShardKind::Project, id, move |c| {
                store::save_file(c, &file)?;
                version.as_ref().map(|v| store::insert_version(c, v)).transpose()?;
                Ok(())
            })
            .await?;
        n += 1;
    }
    Ok(())
}

fn bench_file(n: usize) -> (ProjectFile, Option<Version>) {
    let lines: Vec<String> = (0..2_000).map(|i| format!("key_{i}: value {n} {i} {}", "x".repeat(100))).collect();
    let content: serde_json::Map<String, serde_json::Value> =
        lines.iter().filter_map(|l| l.split_once(": ")).map(|(k, v)| (k.to_string(), json!(v))).collect();
    let (yaml, now) = (lines.join("\n"), crate::clock::now());
    let set = vec![SetFile { file_type: "rules".into(), file_name: format!("r{n}.yaml"), yaml_content: yaml.clone() }];
    let version = (n % 4 == 3).then(|| Version {
        id: Uuid::now_v7().to_string(),
        version_number: format!("1.0.{n}"),
        release_note: String::new(),
        is_rollback: false,
        rollback_from_version_id: None,
        published_at: now.clone(),
        published_by: None,
        files: Some(set),
    });
    let file = ProjectFile {
        id: Uuid::now_v7().to_string(),
        file_type: "rules".into(),
        file_name: format!("r{n}.yaml"),
        file_path: None,
        content: serde_json::Value::Object(content),
        yaml_content: yaml,
        created_at: now.clone(),
        updated_at: now,
    };
    (file, version)
}

async fn shard_bytes(st: &Storage, id: Uuid) -> AppResult<u64> {
    st.shards
        .read(ShardKind::Project, id, |c| {
            let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            let size: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            Ok((pages * size) as u64)
        })
        .await
}
