use std::sync::Arc;

use futures::StreamExt;
use parking_lot::Mutex;
use serde_json::json;

use super::*;
use crate::jobs::JobEvents;

/// An in-memory job with its logs, read the way `service::poll` reads the store.
#[derive(Clone)]
struct Fake(Arc<Mutex<(Job, Vec<JobLog>)>>);

impl Fake {
    fn new() -> Fake {
        let job = Job {
            job_id: "j".into(),
            project_id: None,
            job_type: "t".into(),
            mode: None,
            target_task_id: None,
            status: "running".into(),
            error: None,
            params: json!({}),
            stats: json!({}),
            result: None,
            metadata: json!({}),
            created_at: "2026-01-01T00:00:00.000Z".into(),
            started_at: None,
            finished_at: None,
        };
        Fake(Arc::new(Mutex::new((job, vec![]))))
    }

    fn log(&self, n: usize) {
        let mut g = self.0.lock();
        for _ in 0..n {
            let id = g.1.len() as i64 + 1;
            let l = JobLog {
                id,
                job_id: "j".into(),
                ts: "t".into(),
                level: "info".into(),
                message: id.to_string(),
                metadata: None,
            };
            g.1.push(l);
        }
    }

    fn finish(&self) {
        self.0.lock().0.status = "completed".into();
    }

    fn fetch(&self) -> impl Fn(i64) -> std::future::Ready<AppResult<(Job, Vec<JobLog>)>> {
        let me = self.clone();
        move |after| {
            let g = me.0.lock();
            let logs = g.1.iter().filter(|l| l.id > after).take(BATCH).cloned().collect();
            std::future::ready(Ok((g.0.clone(), logs)))
        }
    }
}

const SLOW: Timing = Timing { poll: Duration::from_secs(30), idle: Duration::from_secs(60) };

fn ids(items: &[AppResult<Item>]) -> Vec<i64> {
    items
        .iter()
        .filter_map(|i| match i {
            Ok(Item::Log(l)) => Some(l.id),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn replays_in_batches_then_follows_live_logs_and_ends_with_the_job() {
    let (fake, events) = (Fake::new(), JobEvents::new());
    fake.log(BATCH + 5);
    let stream = follow(events.subscribe("j"), 3, SLOW, fake.fetch());
    let (f2, ev2) = (fake.clone(), events.clone());
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        f2.log(2);
        ev2.notify("j");
        tokio::time::sleep(Duration::from_millis(50)).await;
        f2.finish();
        ev2.notify("j");
    });
    let items: Vec<_> = tokio::time::timeout(Duration::from_secs(5), stream.collect()).await.unwrap();
    writer.await.unwrap();
    assert_eq!(ids(&items), (4..=(BATCH as i64 + 7)).collect::<Vec<_>>(), "after 3, in order, none twice");
    assert!(matches!(items.last(), Some(Ok(Item::End(j))) if j.status == "completed"));
    assert_eq!(events.followed_jobs(), 0, "the ended stream released its channel");
}

#[tokio::test]
async fn the_poll_catches_writes_nobody_announced() {
    let fake = Fake::new();
    let events = JobEvents::new();
    let timing = Timing { poll: Duration::from_millis(20), idle: Duration::from_secs(60) };
    let stream = follow(events.subscribe("j"), 0, timing, fake.fetch());
    fake.log(1);
    fake.finish();
    let items: Vec<_> = tokio::time::timeout(Duration::from_secs(5), stream.collect()).await.unwrap();
    assert_eq!(ids(&items), [1]);
    assert!(matches!(items.last(), Some(Ok(Item::End(_)))));
}

#[tokio::test]
async fn an_idle_stream_ends_without_end_and_dropping_releases_the_channel() {
    let (fake, events) = (Fake::new(), JobEvents::new());
    let timing = Timing { poll: Duration::from_millis(10), idle: Duration::from_millis(60) };
    let items: Vec<_> = follow(events.subscribe("j"), 0, timing, fake.fetch()).collect().await;
    assert!(items.is_empty());
    let mut s = Box::pin(follow(events.subscribe("j"), 0, SLOW, fake.fetch()));
    fake.log(1);
    assert!(matches!(s.next().await, Some(Ok(Item::Log(_)))));
    assert_eq!(events.followed_jobs(), 1);
    drop(s);
    assert_eq!(events.followed_jobs(), 0);
}

#[tokio::test]
async fn an_error_is_yielded_once_and_ends_the_stream() {
    let events = JobEvents::new();
    let fetch = |_| std::future::ready(Err::<(Job, Vec<JobLog>), _>(crate::jobs::service::not_found()));
    let items: Vec<_> = follow(events.subscribe("j"), 0, SLOW, fetch).collect().await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].as_ref().unwrap_err().code, "job_not_found");
}
