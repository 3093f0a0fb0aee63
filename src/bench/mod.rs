//! `planbase bench`: rerunnable benchmarks that print a table. Never part of `cargo test`.
//! Each run measures its own ceiling (raw rusqlite on the same machine, same moment), so
//! figures are read as ratios on a noisy machine.

mod plan;
mod projects;
mod sessions;
mod storage;

use clap::{Args, Subcommand};

use crate::config::Config;

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub which: Which,
}

#[derive(Debug, Subcommand)]
pub enum Which {
    /// The storage engine: raw ceiling, shard manager writes, cold opens, RSS and fds.
    Storage(storage::StorageBench),
    /// Projects: creates per second, export and import of a 10 MiB project.
    Projects(projects::ProjectsBench),
    /// Plans: moving a 10k-node subtree and reading a 10k-node tree.
    Plan(plan::PlanBench),
    /// Sessions over HTTP: appends (spread and to one session), page reads, HTTP-only, ceiling.
    Sessions(sessions::SessionsBench),
}

pub fn run(config: &Config, args: BenchArgs) -> anyhow::Result<()> {
    match args.which {
        Which::Storage(b) => storage::run(config, b),
        Which::Projects(b) => projects::run(config, b),
        Which::Plan(b) => plan::run(config, b),
        Which::Sessions(b) => sessions::run(config, b),
    }
}

/// Prints rows as an aligned Markdown table (pastes straight into the README).
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| rows.iter().map(|r| r[i].len()).chain([headers[i].len()]).max().unwrap_or(0))
        .collect();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("| {} |", padded.join(" | "));
    };
    line(headers.to_vec());
    println!("|{}|", widths.iter().map(|w| "-".repeat(w + 2)).collect::<Vec<_>>().join("|"));
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
}

/// p-th percentile (0..=100) of sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Resident set size of this process in MiB (Linux).
pub fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}
