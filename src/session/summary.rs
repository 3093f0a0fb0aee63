//! Registry summaries fed behind the append path (DESIGN.md §1, §5).
//!
//! An append records a delta here after its shard commit and before it is acknowledged;
//! reads overlay the pending deltas on registry rows, so they include every acknowledged
//! append. A background task flushes them in one registry transaction at least once a
//! second, and once more on shutdown. Deltas are idempotent (see
//! [`registry::SummaryDelta`]), so a delta that lands twice, or races a flush, counts once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use uuid::Uuid;

use super::model::Session;
use crate::error::AppResult;
use crate::registry::sessions::{self as registry, SummaryDelta};
use crate::storage::pools::{with_conn, DbPool};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Delta {
    pub max_seq: i64,
    pub last_message_at: Option<String>,
    pub title: Option<String>,
    /// The script's state after the latest turn (`waiting_input`, `completed`, …); turns of
    /// a session run one at a time, so the last one recorded is the current one.
    pub execution_status: Option<String>,
}

#[derive(Clone, Default)]
pub struct Summaries {
    pending: Arc<Mutex<HashMap<Uuid, Delta>>>,
    stop: Arc<tokio::sync::Notify>,
}

impl Summaries {
    pub fn new() -> Summaries {
        Summaries::default()
    }

    /// Records an acknowledged append (new or merged message).
    pub fn record(&self, id: Uuid, seq: i64, created_at: &str, title: Option<String>) {
        let mut map = self.pending.lock();
        let d = map.entry(id).or_default();
        if seq > d.max_seq {
            d.max_seq = seq;
        }
        if d.last_message_at.as_deref().is_none_or(|t| t < created_at) {
            d.last_message_at = Some(created_at.to_string());
        }
        if title.is_some() {
            d.title = title;
        }
    }

    /// Records the execution status a chat turn left (listed by `GET /sessions`).
    pub fn record_status(&self, id: Uuid, status: &str) {
        self.pending.lock().entry(id).or_default().execution_status = Some(status.to_string());
    }

    /// Sessions with a summary change not yet flushed to the registry.
    pub fn queued(&self) -> usize {
        self.pending.lock().len()
    }

    pub fn pending(&self, id: Uuid) -> Option<Delta> {
        self.pending.lock().get(&id).cloned()
    }

    /// Drops what is pending for a session (deleted, or just recounted from its shard).
    pub fn forget(&self, id: Uuid) {
        self.pending.lock().remove(&id);
    }

    /// Applies the pending delta to a row exactly as the flush will.
    pub fn overlay(&self, s: &mut Session) {
        let Some(d) = uuid::Uuid::parse_str(&s.id).ok().and_then(|id| self.pending(id)) else {
            return;
        };
        apply(s, &d);
    }

    /// Writes every pending delta in one registry transaction, then drops those the flush
    /// covered (a delta that grew meanwhile stays for the next flush).
    pub async fn flush(&self, pool: &DbPool) -> AppResult<usize> {
        // Stamped before the snapshot: every shard written after it may hold appends this
        // flush does not cover, which is what the catch-up scan compares mtimes against.
        let stamp = crate::clock::now();
        let batch: Vec<(Uuid, Delta)> = self.pending.lock().iter().map(|(k, v)| (*k, v.clone())).collect();
        let n = batch.len();
        if n == 0 {
            return Ok(0);
        }
        let rows = batch.clone();
        with_conn(pool, move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            for (id, d) in &rows {
                let delta = SummaryDelta {
                    id: id.to_string(),
                    max_seq: d.max_seq,
                    last_message_at: d.last_message_at.clone(),
                    title: d.title.clone(),
                    execution_status: d.execution_status.clone(),
                };
                registry::apply_delta(&tx, &delta)?;
            }
            registry::set_flushed(&tx, &stamp)?;
            Ok(tx.commit()?)
        })
        .await?;
        let mut map = self.pending.lock();
        for (id, d) in batch {
            if map.get(&id) == Some(&d) {
                map.remove(&id);
            }
        }
        Ok(n)
    }

    /// Ends the flusher task; the caller flushes once more after.
    pub fn stop_flusher(&self) {
        self.stop.notify_one();
    }

    /// Flushes every `period` until [`Summaries::stop_flusher`].
    pub fn spawn_flusher(&self, pool: DbPool, period: Duration) {
        let me = self.clone();
        let stop = self.stop.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.notified() => return,
                }
                if let Err(e) = me.flush(&pool).await {
                    tracing::warn!(cause = %e.operator_message(), "summary flush failed; retrying next tick");
                }
            }
        });
    }
}

/// The row's view after the delta: the same arithmetic as `registry::apply_delta`.
pub fn apply(s: &mut Session, d: &Delta) {
    s.message_count += (d.max_seq - s.summary_seq).max(0);
    s.summary_seq = s.summary_seq.max(d.max_seq);
    if let Some(t) = &d.last_message_at {
        if s.last_message_at.as_deref().is_none_or(|l| l < t.as_str()) {
            s.last_message_at = Some(t.clone());
        }
        if s.updated_at < *t {
            s.updated_at = t.clone();
        }
    }
    if s.name.is_none() && s.name_source == "auto" {
        s.name = d.title.clone().or(s.name.take());
    }
    if let Some(st) = &d.execution_status {
        s.execution_status = st.clone();
    }
}
