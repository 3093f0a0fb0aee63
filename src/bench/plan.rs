//! `planbase bench plan`: moving a 10k-node subtree and reading a 10k-node tree, through
//! the same service calls the HTTP handlers make.

use std::time::Instant;

use clap::Args;
use serde_json::json;

use super::{percentile, print_table};
use crate::config::Config;
use crate::plan::model::{Move, TreeDoc, TreeNode};
use crate::plan::service as plan;
use crate::project::model::NewProject;
use crate::storage::Storage;

#[derive(Debug, Args)]
pub struct PlanBench {
    /// Nodes in the moved subtree (and in the tree that is read).
    #[arg(long, default_value_t = 10_000)]
    pub nodes: usize,
    /// Repetitions of each case.
    #[arg(long, default_value_t = 10)]
    pub runs: usize,
}

fn node(id: i64, name: String, children: Vec<TreeNode>) -> TreeNode {
    TreeNode {
        id: Some(id),
        name,
        status: "pending".into(),
        instruction: None,
        metadata: json!({}),
        execution_result: None,
        context_combined: None,
        context_sections: None,
        context_meta: None,
        dependencies: vec![],
        children,
    }
}

/// Two roots: `1` holds a subtree of `n` nodes (100 per level below a 3-level spine),
/// `2` is empty and receives the moves.
fn document(n: usize) -> Vec<TreeNode> {
    let mut next = 3i64;
    let mut groups = Vec::new();
    let mut left = n;
    while left > 0 {
        let mut kids = Vec::new();
        let group_id = next;
        next += 1;
        left -= 1;
        while left > 0 && kids.len() < 99 {
            kids.push(node(next, format!("task {next}"), vec![]));
            next += 1;
            left -= 1;
        }
        groups.push(node(group_id, format!("group {group_id}"), kids));
    }
    vec![node(1, "subtree".into(), groups), node(2, "target".into(), vec![])]
}

pub fn run(config: &Config, b: PlanBench) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let mut cfg = config.storage.clone();
    cfg.db_root = tmp.path().join("root");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let st = Storage::open(&cfg).map_err(|e| anyhow::anyhow!("{e}"))?;
    let err = |e: crate::error::AppError| anyhow::anyhow!("{e}");
    let rows = rt.block_on(async {
        let new = NewProject {
            name: "bench".into(),
            description: String::new(),
            author: None,
            tags: vec![],
            engine_version: None,
            engine_version_min: None,
            metadata: json!({}),
        };
        let id = crate::project::service::create(&st, new, None).await.map_err(err)?.id.parse::<uuid::Uuid>()?;
        plan::upsert(&st, id, TreeDoc { tasks: document(b.nodes), note: None }).await.map_err(err)?;
        let (mut moves, mut reads) = (Vec::new(), Vec::new());
        for i in 0..b.runs {
            let to = if i % 2 == 0 { Some(2) } else { None };
            let t = Instant::now();
            plan::move_task(&st, id, 1, Move { parent_id: to, position: Some(0) }).await.map_err(err)?;
            moves.push(t.elapsed().as_secs_f64() * 1000.0);
            let t = Instant::now();
            let tree = plan::tree(&st, id, None, None).await.map_err(err)?;
            reads.push(t.elapsed().as_secs_f64() * 1000.0);
            anyhow::ensure!(!tree.is_empty());
        }
        Ok::<_, anyhow::Error>(vec![
            summary(&format!("move a {}-node subtree", b.nodes + 1), moves),
            summary(&format!("read a {}-node tree (nested JSON)", b.nodes + 2), reads),
        ])
    })?;
    st.shards.shutdown();
    print_table(&["case", "runs", "p50 ms", "max ms"], &rows);
    Ok(())
}

fn summary(name: &str, mut ms: Vec<f64>) -> Vec<String> {
    ms.sort_by(|a, b| a.total_cmp(b));
    vec![
        name.into(),
        ms.len().to_string(),
        format!("{:.1}", percentile(&ms, 50.0)),
        format!("{:.1}", ms.last().copied().unwrap_or(0.0)),
    ]
}
