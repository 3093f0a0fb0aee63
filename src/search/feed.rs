//! The in-memory queue between the append path and the search index.

use parking_lot::Mutex;
use tokio::sync::Notify;

/// One message to (re)index. A merge re-sends the same `(session_id, seq)` with the new text.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub session_id: String,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub seq: i64,
    pub text: String,
}

impl Entry {
    /// The entry of message `seq` of session `sid`, whose owner is `(user_id, project_id)`.
    pub fn new(sid: uuid::Uuid, owner: &(Option<String>, Option<String>), seq: i64, text: &str) -> Entry {
        let (user_id, project_id) = owner.clone();
        Entry { session_id: sid.to_string(), user_id, project_id, seq, text: text.to_string() }
    }
}

/// Batches entries for the feeder task. Enqueueing is a short lock and a wake-up; the
/// feeder takes everything queued at once.
#[derive(Default)]
pub struct SearchFeed {
    queue: Mutex<Vec<Entry>>,
    wake: Notify,
}

impl SearchFeed {
    pub fn enqueue(&self, e: Entry) {
        self.queue.lock().push(e);
        self.wake.notify_one();
    }

    pub fn pending(&self) -> usize {
        self.queue.lock().len()
    }

    pub fn take(&self) -> Vec<Entry> {
        std::mem::take(&mut *self.queue.lock())
    }

    /// Puts entries that failed to be written back at the head of the queue: anything
    /// queued meanwhile is newer, and the last entry of a `(session, seq)` wins.
    pub fn requeue(&self, mut older: Vec<Entry>) {
        let mut q = self.queue.lock();
        older.append(&mut q);
        *q = older;
        drop(q);
        self.wake.notify_one();
    }

    /// Waits until something is queued (or `max` passes).
    pub async fn wait(&self, max: std::time::Duration) {
        let _ = tokio::time::timeout(max, self.wake.notified()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(seq: i64, text: &str) -> Entry {
        Entry { session_id: "s".into(), user_id: None, project_id: None, seq, text: text.into() }
    }

    #[test]
    fn requeued_entries_go_before_newer_ones() {
        let feed = SearchFeed::default();
        feed.enqueue(e(1, "newer"));
        feed.requeue(vec![e(1, "older"), e(2, "older")]);
        let texts: Vec<_> = feed.take().into_iter().map(|x| (x.seq, x.text)).collect();
        assert_eq!(texts, [(1, "older".into()), (2, "older".into()), (1, "newer".to_string())]);
    }
}
