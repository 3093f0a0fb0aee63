//! SQLite's busy handler, counted.
//!
//! `busy_timeout` installs SQLite's own handler, which sleeps and retries while another
//! connection holds the lock; nothing outside SQLite can see how often that happens. This
//! handler does the same (the same back-off steps, the same total budget) and counts each
//! lock wait, so `/metrics` can show `planbase_sqlite_busy_waits_total`: a number that should
//! stay near zero, since every shard has one writer thread and readers never block it in WAL.
//!
//! rusqlite takes a plain `fn` pointer, so the budget is process-wide: the largest
//! `busy_timeout` any connection was opened with (one config per process in practice).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::Connection;

static WAITS: AtomicU64 = AtomicU64::new(0);
static BUDGET_MS: AtomicU64 = AtomicU64::new(5000);

/// SQLite's back-off (sqlite3.c `sqliteDefaultBusyCallback`): sleep steps in ms.
const DELAYS: [u64; 12] = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100];

/// Installs the counting handler with `timeout` as the budget.
pub fn set_busy_handler(conn: &Connection, timeout: Duration) -> rusqlite::Result<()> {
    BUDGET_MS.fetch_max(timeout.as_millis() as u64, Ordering::Relaxed);
    conn.busy_handler(Some(on_busy))
}

/// Lock waits so far (one per statement that found the database locked).
pub fn waits() -> u64 {
    WAITS.load(Ordering::Relaxed)
}

/// The sleep before retry number `n` (0-based), or None once the budget is spent.
fn delay(n: usize, budget_ms: u64) -> Option<u64> {
    let spent: u64 = if n < DELAYS.len() {
        DELAYS[..n].iter().sum()
    } else {
        DELAYS.iter().sum::<u64>() + (n - DELAYS.len()) as u64 * 100
    };
    let step = DELAYS.get(n).copied().unwrap_or(100);
    (spent < budget_ms).then(|| step.min(budget_ms - spent))
}

fn on_busy(n: i32) -> bool {
    if n == 0 {
        WAITS.fetch_add(1, Ordering::Relaxed);
    }
    match delay(n.max(0) as usize, BUDGET_MS.load(Ordering::Relaxed)) {
        Some(ms) => {
            std::thread::sleep(Duration::from_millis(ms));
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_back_off_follows_sqlite_and_stops_at_the_budget() {
        assert_eq!(delay(0, 5000), Some(1));
        assert_eq!(delay(11, 5000), Some(100));
        assert_eq!(delay(20, 5000), Some(100));
        let total: u64 = (0..).map_while(|n| delay(n, 5000)).sum();
        assert_eq!(total, 5000, "sleeps add up to the budget exactly");
        assert_eq!(delay(3, 3), None, "1 + 2 ms spent: a 3 ms budget is gone");
        assert_eq!(delay(2, 4), Some(1), "the last sleep is cut to what is left");
    }

    #[test]
    fn a_locked_database_is_waited_for_and_counted() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("x.sqlite");
        let a = Connection::open(&p).unwrap();
        a.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t(x); BEGIN IMMEDIATE; INSERT INTO t VALUES (1);")
            .unwrap();
        let b = Connection::open(&p).unwrap();
        set_busy_handler(&b, Duration::from_millis(2000)).unwrap();
        let before = waits();
        let holder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            a.execute_batch("COMMIT").unwrap();
        });
        let started = std::time::Instant::now();
        b.execute_batch("BEGIN IMMEDIATE; INSERT INTO t VALUES (2); COMMIT;").unwrap();
        holder.join().unwrap();
        assert!(waits() > before, "the wait was counted");
        assert!(started.elapsed() >= Duration::from_millis(40), "it waited for the lock instead of failing");
        assert_eq!(b.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0)).unwrap(), 2);
    }
}
