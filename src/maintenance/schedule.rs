//! The schedule: a backup when the newest complete backup is older than
//! `maintenance.backup_interval`, a maintenance run when the last one is older than
//! `maintenance.interval`, and every `maintenance.wal_sweep_interval` the idle-shard sweep
//! (checkpoint and remove the WAL that closed shards keep, see `storage::handle`).
//!
//! Both clocks survive restarts: the backup clock is the newest complete backup's
//! `created_at` (a manual backup counts), the maintenance clock is `last_maintenance_at` in
//! the registry's `meta` table. A fresh root starts the maintenance clock at the first tick,
//! so a new server does not begin with a maintenance run. The ticker wakes every minute at
//! most (sooner for short intervals) and does one thing at a time, so a slow backup delays
//! maintenance rather than overlapping it.

use std::time::{Duration, Instant};

use rusqlite::OptionalExtension;

use crate::api::SharedState;
use crate::config::MaintenanceConfig;
use crate::error::AppResult;
use crate::storage::connection::Pragmas;
use crate::storage::pools::with_conn;

const META_KEY: &str = "last_maintenance_at";

/// Spawns the ticker; it ends when the server begins to shut down (`ready` goes false).
pub fn spawn(state: SharedState) {
    let cfg = state.config.maintenance.clone();
    let Some(tick) = tick_period(&cfg) else { return };
    tokio::spawn(async move {
        let mut last_sweep = std::time::Instant::now();
        let mut backoff = Backoff::default();
        let mut timer = tokio::time::interval(tick);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            timer.tick().await;
            // Spawned once ready: not ready any more means shutting down, so no new backup.
            if !state.ready.load(std::sync::atomic::Ordering::Acquire) {
                return;
            }
            if let Some(every) = cfg.backup_interval.0 {
                backup_step(&state, &cfg, &mut backoff, tick, Duration::from_secs(every)).await;
            }
            if let Err(e) = tick_once(&state, &cfg).await {
                tracing::warn!(cause = %e.operator_message(), "scheduled maintenance step failed");
            }
            if cfg.wal_sweep_interval.0.is_some_and(|every| last_sweep.elapsed().as_secs() >= every) {
                last_sweep = std::time::Instant::now();
                sweep(&state).await;
            }
        }
    });
}

/// Checkpoints the WAL of shards that are closed and removes it (with its -shm).
async fn sweep(state: &SharedState) {
    let pragmas = Pragmas::from_config(&state.config.storage);
    match super::compact::idle_shards(&state.storage, &pragmas, false).await {
        Ok(c) if c.checkpointed > 0 => tracing::debug!(shards = c.checkpointed, "idle WALs checkpointed"),
        Ok(_) => {}
        Err(e) => tracing::warn!(cause = %e.operator_message(), "idle WAL sweep failed"),
    }
}

/// A quarter of the shortest interval, between 1 s and 60 s; None when all are off.
fn tick_period(cfg: &MaintenanceConfig) -> Option<Duration> {
    let shortest = [cfg.backup_interval.0, cfg.interval.0, cfg.wal_sweep_interval.0].into_iter().flatten().min()?;
    Some(Duration::from_secs((shortest / 4).clamp(1, 60)))
}

/// Runs the scheduled backup when the newest complete one is older than the interval, unless
/// a recent failure is still backing off.
async fn backup_step(
    state: &SharedState,
    cfg: &MaintenanceConfig,
    backoff: &mut Backoff,
    tick: Duration,
    every: Duration,
) {
    if !backoff.ready(Instant::now()) {
        return;
    }
    let dir = state.storage.root.backups();
    let newest = tokio::task::spawn_blocking(move || super::backups::newest_complete(&dir).map(|(_, at)| at)).await;
    if !is_due(newest.ok().flatten().as_deref(), every.as_secs()) {
        return;
    }
    match scheduled_backup(state, cfg).await {
        Ok(()) => backoff.succeeded(),
        Err(e) => {
            backoff.failed(Instant::now(), tick, every);
            tracing::warn!(cause = %e.operator_message(), failures = backoff.failures, "scheduled backup failed");
        }
    }
}

/// After a scheduled backup fails (a full disk, say) the next attempt waits one tick, then
/// twice as long after each further failure, never longer than the backup interval. Without
/// it every tick (as often as once a second) would start copying the whole root again.
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
    until: Option<Instant>,
}

impl Backoff {
    fn ready(&self, now: Instant) -> bool {
        self.until.is_none_or(|u| now >= u)
    }

    fn failed(&mut self, now: Instant, tick: Duration, cap: Duration) {
        self.failures += 1;
        let wait = tick.saturating_mul(1 << (self.failures - 1).min(16)).min(cap.max(tick));
        self.until = Some(now + wait);
    }

    fn succeeded(&mut self) {
        *self = Backoff::default();
    }
}

async fn tick_once(state: &SharedState, cfg: &MaintenanceConfig) -> AppResult<()> {
    if let Some(every) = cfg.interval.0 {
        let last = last_maintenance(state).await?;
        if last.is_none() {
            set_last_maintenance(state).await?;
        } else if is_due(last.as_deref(), every) {
            // A run already under way (started over HTTP) counts: the clock waits for the next
            // interval rather than queueing a second run behind it.
            set_last_maintenance(state).await?;
            match super::job::start(state, true).await {
                Ok((_, run)) => run.await.map_err(crate::error::AppError::internal)?,
                Err(e) if e.code == "maintenance_running" => {
                    tracing::info!("scheduled maintenance: a run is under way")
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

async fn scheduled_backup(state: &SharedState, cfg: &MaintenanceConfig) -> AppResult<()> {
    let job = super::backups::create_job(&state.storage, false, true).await?;
    let pragmas = Pragmas::from_config(&state.config.storage);
    let dir =
        super::backups::run_job(&state.storage, &state.jobs, &pragmas, &job.job_id, false, cfg.backup_keep).await?;
    tracing::info!(backup = %dir.display(), "scheduled backup written");
    Ok(())
}

/// Due when there is no previous run, or it is at least `every` seconds old (an unreadable
/// stamp counts as due: better one run too many than none).
fn is_due(last: Option<&str>, every: u64) -> bool {
    let Some(last) = last else { return true };
    match time::OffsetDateTime::parse(last, &time::format_description::well_known::Rfc3339) {
        Ok(t) => (time::OffsetDateTime::now_utc() - t).whole_seconds() >= every as i64,
        Err(_) => true,
    }
}

async fn last_maintenance(state: &SharedState) -> AppResult<Option<String>> {
    with_conn(&state.storage.shared.registry, |c| {
        Ok(c.query_row("SELECT value FROM meta WHERE key = ?1", [META_KEY], |r| r.get(0)).optional()?)
    })
    .await
}

async fn set_last_maintenance(state: &SharedState) -> AppResult<()> {
    let now = crate::clock::now();
    with_conn(&state.storage.shared.registry, move |c| {
        c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)", [META_KEY, now.as_str()])?;
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Interval;

    #[test]
    fn due_when_never_run_stale_or_unreadable() {
        let hour_ago = crate::clock::format(time::OffsetDateTime::now_utc() - time::Duration::hours(1));
        assert!(is_due(None, 60));
        assert!(is_due(Some(&hour_ago), 3600));
        assert!(!is_due(Some(&hour_ago), 7200));
        assert!(is_due(Some("yesterday"), 7200));
    }

    #[test]
    fn failed_backups_back_off_up_to_the_interval() {
        let (t0, tick, every) = (Instant::now(), Duration::from_secs(1), Duration::from_secs(10));
        let mut b = Backoff::default();
        assert!(b.ready(t0));
        let mut waits = Vec::new();
        for _ in 0..6 {
            b.failed(t0, tick, every);
            waits.push((b.until.unwrap() - t0).as_secs());
        }
        assert_eq!(waits, [1, 2, 4, 8, 10, 10]);
        assert!(!b.ready(t0 + Duration::from_secs(9)));
        assert!(b.ready(t0 + every));
        b.succeeded();
        assert!(b.ready(t0));
        assert_eq!(b.failures, 0);
    }

    #[test]
    fn ticks_follow_the_shortest_interval_within_bounds() {
        let mut cfg =
            MaintenanceConfig { interval: Interval(None), wal_sweep_interval: Interval(None), ..Default::default() };
        assert_eq!(tick_period(&cfg), None);
        cfg.backup_interval = Interval(Some(2));
        assert_eq!(tick_period(&cfg), Some(Duration::from_secs(1)));
        cfg.interval = Interval(Some(86_400));
        assert_eq!(tick_period(&cfg), Some(Duration::from_secs(1)));
        cfg.backup_interval = Interval(None);
        assert_eq!(tick_period(&cfg), Some(Duration::from_secs(60)));
    }
}
