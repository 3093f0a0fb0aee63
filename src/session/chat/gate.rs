//! One turn at a time per session. A turn holds its session's slot (a one-permit semaphore)
//! from reading the state until its transaction is committed — or its failure recorded — so
//! a second turn waits for the first instead of failing with a conflict. That is what lets
//! a client that dropped a stream send its next turn at once.
//!
//! The slots live in a process-wide map; the short map lock is never held across an await.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// How long a turn waits for the one before it.
const WAIT: Duration = Duration::from_secs(20);

#[derive(Default)]
struct Slots {
    map: HashMap<Uuid, Arc<Semaphore>>,
    /// Size at which idle slots are dropped (doubles with the number of busy ones).
    prune_at: usize,
}

fn slots() -> &'static Mutex<Slots> {
    static S: OnceLock<Mutex<Slots>> = OnceLock::new();
    S.get_or_init(|| Mutex::new(Slots { map: HashMap::new(), prune_at: 1024 }))
}

fn slot(sid: Uuid) -> Arc<Semaphore> {
    let mut s = slots().lock();
    if s.map.len() >= s.prune_at {
        // Only the map holds an idle slot; a held or awaited one has other references.
        s.map.retain(|_, sem| Arc::strong_count(sem) > 1);
        s.prune_at = (s.map.len() * 2).max(1024);
    }
    s.map.entry(sid).or_insert_with(|| Arc::new(Semaphore::new(1))).clone()
}

/// Waits for the session's turn slot; the turn keeps the permit until it is stored.
pub(super) async fn acquire(sid: Uuid) -> AppResult<OwnedSemaphorePermit> {
    let sem = slot(sid);
    match tokio::time::timeout(WAIT, sem.acquire_owned()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => {
            Err(AppError::conflict("another turn of this session is still running; retry when it is done").retryable())
        }
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_second_turn_waits_for_the_first() {
        let sid = uuid::Uuid::now_v7();
        let first = super::acquire(sid).await.unwrap();
        let waiting = tokio::spawn(super::acquire(sid));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        drop(first);
        assert!(waiting.await.unwrap().is_ok());
        assert!(super::acquire(uuid::Uuid::now_v7()).await.is_ok(), "other sessions never wait");
    }
}
