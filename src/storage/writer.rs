//! The writer threads: group commit per shard.
//!
//! Shards are hashed onto a small fixed set of threads. A thread takes everything queued,
//! groups it by shard (keeping arrival order), and commits each group in one `BEGIN
//! IMMEDIATE` transaction with one SAVEPOINT per request, so a closure that fails rolls back
//! only itself. Each request is answered only after COMMIT. If the COMMIT itself fails, the
//! group is retried one request per transaction, so one bad request fails alone.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use rusqlite::Connection;
use tokio::sync::oneshot;

use super::checkpointer::Checkpointer;
use super::handle::ShardHandle;
use crate::error::{AppError, AppResult};

/// Most requests committed in one transaction: bounds latency of the first in a batch.
const MAX_BATCH: usize = 256;

/// A type-erased write request.
pub(super) trait WriteJob: Send {
    fn handle(&self) -> &Arc<ShardHandle>;
    /// When the request was queued (for the writer wait metric).
    fn queued(&self) -> std::time::Instant;
    /// Runs the closure inside the current savepoint; keeps its result. Returns success.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller: the closure's result if the transaction committed.
    fn finish(self: Box<Self>, commit: Result<(), AppError>);
}

pub(super) struct Job<T, F> {
    pub handle: Arc<ShardHandle>,
    pub f: F,
    pub out: Option<AppResult<T>>,
    pub reply: Option<oneshot::Sender<AppResult<T>>>,
    pub span: tracing::Span,
    pub queued: std::time::Instant,
}

impl<T, F> WriteJob for Job<T, F>
where
    T: Send + 'static,
    F: Fn(&Connection) -> AppResult<T> + Send + 'static,
{
    fn handle(&self) -> &Arc<ShardHandle> {
        &self.handle
    }

    fn queued(&self) -> std::time::Instant {
        self.queued
    }

    fn run(&mut self, conn: &Connection) -> bool {
        let _entered = self.span.enter();
        // A panicking closure (a bug) fails alone, as an internal error; the writer thread,
        // which every shard hashed onto it depends on, must outlive it. Its savepoint or
        // transaction is rolled back like any failed closure's.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.f)(conn)))
            .unwrap_or_else(|_| Err(AppError::internal("a write closure panicked")));
        let ok = r.is_ok();
        self.out = Some(r);
        ok
    }

    fn finish(mut self: Box<Self>, commit: Result<(), AppError>) {
        let result = match (self.out.take(), commit) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(v)), Ok(())) => Ok(v),
            (_, Err(e)) => Err(e),
            (None, Ok(())) => Err(AppError::internal("write job finished without running")),
        };
        if let Some(tx) = self.reply.take() {
            let _ = tx.send(result); // the caller may have gone away; the write stands.
        }
    }
}

pub(super) enum Msg {
    Job(Box<dyn WriteJob>),
    Stop,
}

#[derive(Default)]
pub struct WriterStats {
    pub batches: AtomicU64,
    pub writes: AtomicU64,
    pub batch_retries: AtomicU64,
    /// Sum over writes of the time from queueing to the start of their transaction (µs):
    /// with `writes`, the mean wait for a writer thread.
    pub wait_micros: AtomicU64,
}

pub(super) struct WriterPool {
    pub senders: Vec<Sender<Msg>>,
    threads: parking_lot::Mutex<Vec<JoinHandle<()>>>,
}

impl WriterPool {
    pub fn start(n: usize, stats: Arc<WriterStats>, ckpt: Checkpointer) -> WriterPool {
        let mut senders = Vec::with_capacity(n);
        let mut threads = Vec::with_capacity(n);
        for i in 0..n {
            let (tx, rx) = crossbeam_channel::unbounded();
            senders.push(tx);
            let (stats, ckpt) = (stats.clone(), ckpt.clone());
            let t = std::thread::Builder::new()
                .name(format!("shard-writer-{i}"))
                .spawn(move || writer_loop(rx, stats, ckpt))
                .expect("spawn writer thread");
            threads.push(t);
        }
        WriterPool { senders, threads: parking_lot::Mutex::new(threads) }
    }

    /// Stops every thread after it has committed what was queued before the stop.
    pub fn stop(&self) {
        for s in &self.senders {
            let _ = s.send(Msg::Stop);
        }
        for t in self.threads.lock().drain(..) {
            let _ = t.join();
        }
    }
}

fn writer_loop(rx: Receiver<Msg>, stats: Arc<WriterStats>, ckpt: Checkpointer) {
    while let Some(first) = next_msg(&rx) {
        let mut stop = false;
        let mut batch = Vec::new();
        let mut push = |m: Msg, batch: &mut Vec<Box<dyn WriteJob>>| match m {
            Msg::Job(j) => batch.push(j),
            Msg::Stop => stop = true,
        };
        push(first, &mut batch);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(m) => push(m, &mut batch),
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let waited: u64 = batch.iter().map(|j| started.saturating_duration_since(j.queued()).as_micros() as u64).sum();
        stats.wait_micros.fetch_add(waited, Ordering::Relaxed);
        for group in group_by_shard(batch) {
            stats.batches.fetch_add(1, Ordering::Relaxed);
            stats.writes.fetch_add(group.len() as u64, Ordering::Relaxed);
            commit_group(group, &stats, &ckpt);
        }
        if stop {
            return;
        }
    }
}

/// How long an idle writer polls before it parks. A caller that awaits one write at a time
/// sends its next one within tens of microseconds; catching it without a futex wake-up
/// saves a context switch per write.
const SPIN: std::time::Duration = std::time::Duration::from_micros(50);

fn next_msg(rx: &Receiver<Msg>) -> Option<Msg> {
    let start = std::time::Instant::now();
    while start.elapsed() < SPIN {
        match rx.try_recv() {
            Ok(m) => return Some(m),
            Err(crossbeam_channel::TryRecvError::Disconnected) => return None,
            Err(crossbeam_channel::TryRecvError::Empty) => std::thread::yield_now(),
        }
    }
    rx.recv().ok()
}

/// Groups jobs by shard, each group in arrival order, groups in order of first arrival.
fn group_by_shard(batch: Vec<Box<dyn WriteJob>>) -> Vec<Vec<Box<dyn WriteJob>>> {
    let mut groups: Vec<Vec<Box<dyn WriteJob>>> = Vec::new();
    for job in batch {
        match groups.iter_mut().find(|g| Arc::ptr_eq(g[0].handle(), job.handle())) {
            Some(g) => g.push(job),
            None => groups.push(vec![job]),
        }
    }
    groups
}

fn commit_group(mut jobs: Vec<Box<dyn WriteJob>>, stats: &WriterStats, ckpt: &Checkpointer) {
    let handle = jobs[0].handle().clone();
    if let Err(e) = handle.ensure_writer() {
        // Normally opened by the caller already; this is the fallback, and it failed.
        return jobs.into_iter().for_each(|j| j.finish(Err(e.clone())));
    }
    let guard = handle.writer.lock();
    let conn = guard.as_ref().expect("ensured above");
    match run_in_tx(conn, &mut jobs) {
        Ok(()) => jobs.into_iter().for_each(|j| j.finish(Ok(()))),
        Err(e) if jobs.len() == 1 => jobs.into_iter().for_each(|j| j.finish(Err(e.clone()))),
        Err(_) => {
            stats.batch_retries.fetch_add(1, Ordering::Relaxed);
            for mut job in jobs {
                let r = run_in_tx(conn, std::slice::from_mut(&mut job));
                job.finish(r);
            }
        }
    }
    // After the callers have their answers: a checkpoint must not delay them.
    ckpt.after_commit(&handle, conn);
}

/// One transaction, one savepoint per job. Err only when the transaction as a whole failed.
/// A lone job needs no savepoint: its failure rolls back the whole (one-job) transaction.
fn run_in_tx(conn: &Connection, jobs: &mut [Box<dyn WriteJob>]) -> AppResult<()> {
    exec(conn, "BEGIN IMMEDIATE")?;
    let body = (|| -> AppResult<()> {
        if let [job] = jobs {
            return if job.run(conn) { exec(conn, "COMMIT") } else { exec(conn, "ROLLBACK") };
        }
        for job in jobs.iter_mut() {
            exec(conn, "SAVEPOINT job")?;
            if !job.run(conn) {
                exec(conn, "ROLLBACK TO job")?;
            }
            exec(conn, "RELEASE job")?;
        }
        exec(conn, "COMMIT")
    })();
    if body.is_err() && !conn.is_autocommit() {
        let _ = exec(conn, "ROLLBACK");
    }
    body
}

/// Transaction control through the statement cache: these run on every write, so they are
/// parsed once per connection instead of once per call.
fn exec(conn: &Connection, sql: &str) -> AppResult<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}
