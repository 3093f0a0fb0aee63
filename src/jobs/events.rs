//! `JobEvents`: wake-ups for the job streams of this process.
//!
//! A write to a job (a log line, a status change) notifies the job's broadcast channel after
//! it commits. The message carries nothing: a stream that wakes re-reads the store after the
//! last log id it sent, so logs always go out in id order and none is skipped, whichever
//! order concurrent writers publish in. Channels exist only while someone listens: the last
//! [`Subscription`] to go removes its job's sender, and a write to a job nobody follows
//! costs one map lookup. At shutdown every channel closes, which ends every stream.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::broadcast;

/// Wake-ups buffered per job; a stream that falls further behind gets `Lagged`, which it
/// treats as one more wake-up (it re-reads the store anyway).
const CAPACITY: usize = 64;

#[derive(Clone, Default)]
pub struct JobEvents {
    channels: Arc<Mutex<Channels>>,
}

#[derive(Default)]
struct Channels {
    by_job: HashMap<String, broadcast::Sender<()>>,
    /// Set at shutdown: no new channel opens, so no stream outlives the server.
    closed: bool,
}

impl JobEvents {
    pub fn new() -> JobEvents {
        JobEvents::default()
    }

    /// Wakes every stream following `job_id`. Call after the write has committed.
    pub fn notify(&self, job_id: &str) {
        if let Some(tx) = self.channels.lock().by_job.get(job_id) {
            let _ = tx.send(()); // no receiver left: the last Subscription is removing it
        }
    }

    /// Starts following `job_id`. Subscribe before reading the store, so a write that
    /// commits after the read is never missed.
    pub fn subscribe(&self, job_id: &str) -> Subscription {
        let mut ch = self.channels.lock();
        let rx = (!ch.closed)
            .then(|| ch.by_job.entry(job_id.to_string()).or_insert_with(|| broadcast::channel(CAPACITY).0).subscribe());
        Subscription { rx, job_id: job_id.to_string(), events: self.clone() }
    }

    /// Ends every stream (their channels close) so a graceful shutdown, which waits for open
    /// responses, is not held up by clients following jobs.
    pub fn shutdown(&self) {
        let mut ch = self.channels.lock();
        ch.closed = true;
        ch.by_job.clear();
    }

    /// Jobs with at least one live stream (for tests and health).
    pub fn followed_jobs(&self) -> usize {
        self.channels.lock().by_job.len()
    }

    fn release(&self, job_id: &str) {
        let mut ch = self.channels.lock();
        if ch.by_job.get(job_id).is_some_and(|tx| tx.receiver_count() == 0) {
            ch.by_job.remove(job_id);
        }
    }
}

/// One stream's receiver; dropping it (the client went away, or the stream ended) removes
/// the job's channel when it was the last.
pub struct Subscription {
    rx: Option<broadcast::Receiver<()>>,
    job_id: String,
    events: JobEvents,
}

impl Subscription {
    /// Waits for the next wake-up; `false` once the server is shutting down.
    pub async fn changed(&mut self) -> bool {
        let Some(rx) = self.rx.as_mut() else {
            return false;
        };
        match rx.recv().await {
            Ok(()) | Err(broadcast::error::RecvError::Lagged(_)) => true,
            Err(broadcast::error::RecvError::Closed) => false,
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        drop(self.rx.take()); // first, so receiver_count() no longer counts it
        self.events.release(&self.job_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_are_woken_and_the_last_one_out_removes_the_channel() {
        let ev = JobEvents::new();
        ev.notify("j"); // nobody listens: nothing is created
        assert_eq!(ev.followed_jobs(), 0);
        let mut a = ev.subscribe("j");
        let mut b = ev.subscribe("j");
        assert_eq!(ev.followed_jobs(), 1);
        ev.notify("j");
        assert!(a.changed().await && b.changed().await);
        drop(a);
        assert_eq!(ev.followed_jobs(), 1, "b still listens");
        drop(b);
        assert_eq!(ev.followed_jobs(), 0);
    }

    #[tokio::test]
    async fn a_lagging_subscriber_still_wakes() {
        let ev = JobEvents::new();
        let mut s = ev.subscribe("j");
        for _ in 0..CAPACITY * 2 {
            ev.notify("j");
        }
        assert!(s.changed().await);
    }

    #[tokio::test]
    async fn shutdown_ends_every_subscription() {
        let ev = JobEvents::new();
        let mut s = ev.subscribe("j");
        ev.shutdown();
        assert!(!s.changed().await);
        assert!(!ev.subscribe("k").changed().await, "nothing opens after shutdown");
        assert_eq!(ev.followed_jobs(), 0);
    }
}
