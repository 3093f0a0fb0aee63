//! Following a job: replay its logs, then send new ones as they commit, and end with the
//! job. Knows nothing of HTTP; the API turns each item into a Server-Sent Event.
//!
//! The stream subscribes to [`JobEvents`](super::JobEvents) before its first read, then
//! re-reads the store (the job, then its logs after the last id sent) on every wake-up, on a
//! slow poll as a safety net (a writer whose request was dropped between COMMIT and notify
//! never wakes anyone), and never holds a lock or a task of its own: dropping the stream
//! (the client went away) drops everything it holds.

use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;

use futures::Stream;
use tokio::time::Instant;

use super::events::Subscription;
use super::model::{Job, JobLog};
use crate::error::AppResult;

/// Logs read per poll.
pub const BATCH: usize = 200;

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Log(JobLog),
    /// The job reached a terminal state; nothing follows.
    End(Box<Job>),
}

#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Re-read even without a wake-up this often.
    pub poll: Duration,
    /// End the stream (without `End`) after this long with no new log; a client that
    /// reconnects with `Last-Event-ID` resumes where it was.
    pub idle: Duration,
}

struct State<F> {
    sub: Subscription,
    fetch: F,
    after: i64,
    queue: VecDeque<AppResult<Item>>,
    done: bool,
    timing: Timing,
    idle_until: Instant,
}

/// Items of a job from log id `after` on. `fetch(after)` reads the job and up to [`BATCH`]
/// logs with a greater id, in that order (see `service::poll`). An error is yielded once and
/// ends the stream.
pub fn follow<F, Fut>(sub: Subscription, after: i64, timing: Timing, fetch: F) -> impl Stream<Item = AppResult<Item>>
where
    F: Fn(i64) -> Fut,
    Fut: Future<Output = AppResult<(Job, Vec<JobLog>)>>,
{
    let state = State {
        sub,
        fetch,
        after,
        queue: VecDeque::new(),
        done: false,
        timing,
        idle_until: Instant::now() + timing.idle,
    };
    futures::stream::unfold(state, |mut s| async move {
        let item = next(&mut s).await?;
        Some((item, s))
    })
}

async fn next<F, Fut>(s: &mut State<F>) -> Option<AppResult<Item>>
where
    F: Fn(i64) -> Fut,
    Fut: Future<Output = AppResult<(Job, Vec<JobLog>)>>,
{
    loop {
        if let Some(item) = s.queue.pop_front() {
            return Some(item);
        }
        if s.done {
            return None;
        }
        match (s.fetch)(s.after).await {
            Err(e) => {
                s.done = true;
                return Some(Err(e));
            }
            Ok((_, logs)) if !logs.is_empty() => {
                s.after = logs.last().map_or(s.after, |l| l.id);
                s.queue.extend(logs.into_iter().map(|l| Ok(Item::Log(l))));
                s.idle_until = Instant::now() + s.timing.idle;
            }
            Ok((job, _)) if job.is_terminal() => {
                s.done = true;
                return Some(Ok(Item::End(Box::new(job))));
            }
            Ok(_) => {
                if !wait(s).await {
                    return None;
                }
            }
        }
    }
}

/// Sleeps until a wake-up or the poll interval; `false` once the idle time is up or the
/// server is shutting down.
async fn wait<F>(s: &mut State<F>) -> bool {
    let poll = tokio::time::sleep(s.timing.poll);
    tokio::select! {
        woken = s.sub.changed() => woken,
        _ = poll => Instant::now() < s.idle_until,
        _ = tokio::time::sleep_until(s.idle_until) => false,
    }
}

#[cfg(test)]
mod tests;
