//! The background side of the search index: the feeder task that drains [`SearchFeed`] at
//! least once a second, and the catch-up that re-reads shards past their watermark.

use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, Connection};

use super::{store, Entry, SearchFeed};
use crate::error::AppResult;
use crate::storage::pools::{with_conn, DbPool};

/// Most entries written in one transaction; bigger queues are drained in several.
const BATCH: usize = 2000;
/// How long the feeder waits after the first queued entry before it writes.
const PILE_UP: Duration = Duration::from_millis(250);

/// Writes whatever is queued, then waits for more (at most `interval`). Returns when `stop`
/// fires, after a last drain, so a clean shutdown loses nothing.
pub async fn run(feed: Arc<SearchFeed>, pool: DbPool, stop: Arc<tokio::sync::Notify>, interval: Duration) {
    loop {
        let stopping = tokio::select! {
            _ = stop.notified() => true,
            _ = feed.wait(interval) => false,
        };
        // Let appends pile up: FTS5 writes a segment per transaction, and its merge work
        // shrinks as batches grow. 250 ms keeps the index well within its 1 s promise.
        tokio::time::sleep(PILE_UP).await;
        if let Err(e) = drain(&feed, &pool).await {
            tracing::warn!(error = %e, "search index write failed; entries kept for the next pass");
        }
        if stopping {
            return;
        }
    }
}

/// Writes everything queued now, in batches of at most [`BATCH`]. On failure the failed
/// batch and every one after it go back to the head of the queue.
pub async fn drain(feed: &SearchFeed, pool: &DbPool) -> AppResult<()> {
    let mut rest = feed.take();
    while !rest.is_empty() {
        let tail = rest.split_off(rest.len().min(BATCH));
        // Shared with the blocking task so that a failure can requeue it without a copy
        // on the path that succeeds.
        let batch = Arc::new(std::mem::replace(&mut rest, tail));
        let written = batch.clone();
        if let Err(e) = with_conn(pool, move |c| store::apply_batch(c, &written)).await {
            feed.requeue(batch.iter().chain(&rest).cloned().collect());
            return Err(e);
        }
    }
    Ok(())
}

/// Indexes the messages of one session shard above the index's watermark for it. Blocking;
/// `shard` is any connection to the session file (read-only is enough).
pub fn catch_up_session(
    search: &mut Connection,
    shard: &Connection,
    session_id: &str,
    user_id: Option<&str>,
    project_id: Option<&str>,
) -> AppResult<usize> {
    let mut from = store::watermark(search, session_id)?;
    let mut total = 0;
    loop {
        let mut stmt =
            shard.prepare_cached("SELECT seq, content FROM messages WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
        let batch: Vec<Entry> = stmt
            .query_map(params![from, BATCH as i64], |r| {
                Ok(Entry {
                    session_id: session_id.to_string(),
                    user_id: user_id.map(str::to_string),
                    project_id: project_id.map(str::to_string),
                    seq: r.get(0)?,
                    text: r.get(1)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let Some(last) = batch.last().map(|e| e.seq) else { return Ok(total) };
        store::apply_batch(search, &batch)?;
        total += batch.len();
        from = last;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::migrate::{self, FileKind};

    #[test]
    fn catch_up_resumes_from_the_watermark() {
        let mut search = Connection::open_in_memory().unwrap();
        migrate::migrate(&mut search, FileKind::Search).unwrap();
        let mut shard = Connection::open_in_memory().unwrap();
        migrate::migrate(&mut shard, FileKind::Session).unwrap();
        let add = |c: &Connection, seq: i64, text: &str| {
            c.execute(
                "INSERT INTO messages(seq, id, role, content, created_at, updated_at) VALUES (?1, ?2, 'user', ?3, 't', 't')",
                params![seq, format!("m{seq}"), text],
            )
            .unwrap();
        };
        add(&shard, 1, "first words");
        add(&shard, 2, "second words");
        assert_eq!(catch_up_session(&mut search, &shard, "s", Some("u"), None).unwrap(), 2);
        add(&shard, 3, "third words");
        assert_eq!(catch_up_session(&mut search, &shard, "s", Some("u"), None).unwrap(), 1);
        assert_eq!(store::search(&search, "words", None, None, 0, 10).unwrap().len(), 3);
        assert_eq!(store::watermark(&search, "s").unwrap(), 3);
    }

    #[tokio::test]
    async fn a_failed_drain_requeues_every_batch_left() {
        let feed = SearchFeed::default();
        for seq in 0..(BATCH as i64 + 5) {
            feed.enqueue(Entry { session_id: "s".into(), user_id: None, project_id: None, seq, text: "t".into() });
        }
        // An empty in-memory database: no search tables, so the first batch fails.
        let pool = r2d2::Pool::builder().max_size(1).build(r2d2_sqlite::SqliteConnectionManager::memory()).unwrap();
        assert!(drain(&feed, &pool).await.is_err());
        assert_eq!(feed.pending(), BATCH + 5, "the failed batch and the one after it are kept");
    }
}
