use rusqlite::Connection;
use serde_json::json;

use super::*;
use crate::jobs::model::NewActionLog;
use crate::storage::migrate::{migrate, FileKind};

fn db(kind: FileKind) -> Connection {
    let mut conn = Connection::open_in_memory().unwrap();
    migrate(&mut conn, kind).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    conn
}

fn job(id: &str, created_at: &str, status: &str) -> Job {
    Job {
        job_id: id.into(),
        project_id: None,
        job_type: "decompose".into(),
        mode: Some("auto".into()),
        target_task_id: Some(3),
        status: status.into(),
        error: None,
        params: json!({"depth": 2}),
        stats: json!({}),
        result: None,
        metadata: json!({}),
        created_at: created_at.into(),
        started_at: None,
        finished_at: None,
    }
}

fn action(job_id: &str) -> NewActionLog {
    NewActionLog {
        job_id: job_id.into(),
        job_type: None,
        session_id: None,
        user_message: None,
        action_kind: "task".into(),
        action_name: "create".into(),
        status: "ok".into(),
        success: true,
        message: None,
        details: Some(json!({"k": 1})),
    }
}

#[test]
fn jobs_round_trip_in_both_file_kinds() {
    for kind in [FileKind::Project, FileKind::Jobs] {
        let c = db(kind);
        let mut j = job("j1", "2026-01-01T00:00:00.000Z", "pending");
        insert_job(&c, &j).unwrap();
        assert_eq!(get_job(&c, "j1").unwrap().unwrap(), j);
        j.status = "running".into();
        j.stats = json!({"done": 1});
        j.result = Some(json!([1, 2]));
        j.started_at = Some("2026-01-01T00:00:01.000Z".into());
        update_job(&c, &j).unwrap();
        assert_eq!(get_job(&c, "j1").unwrap().unwrap(), j);
        assert!(get_job(&c, "nope").unwrap().is_none());
    }
}

#[test]
fn job_lists_page_newest_first_and_filter_by_status() {
    let c = db(FileKind::Project);
    for (i, s) in ["pending", "running", "pending", "completed"].iter().enumerate() {
        insert_job(&c, &job(&format!("j{i}"), &format!("2026-01-01T00:00:0{i}.000Z"), s)).unwrap();
    }
    let ids = |v: Vec<Job>| v.into_iter().map(|j| j.job_id).collect::<Vec<_>>();
    assert_eq!(ids(list_jobs(&c, None, None, 10).unwrap()), ["j3", "j2", "j1", "j0"]);
    assert_eq!(ids(list_jobs(&c, Some("pending"), None, 10).unwrap()), ["j2", "j0"]);
    let after = ("2026-01-01T00:00:02.000Z", "j2");
    assert_eq!(ids(list_jobs(&c, None, Some(after), 10).unwrap()), ["j1", "j0"]);
}

#[test]
fn logs_need_their_job_and_list_ascending_after_an_id() {
    let c = db(FileKind::Jobs);
    assert!(insert_log(&c, "ghost", "t", "info", "m", None).is_err(), "foreign key");
    insert_job(&c, &job("j", "2026-01-01T00:00:00.000Z", "pending")).unwrap();
    let a = insert_log(&c, "j", "2026-01-01T00:00:00.000Z", "info", "one", Some(&json!({"x": 1}))).unwrap();
    let b = insert_log(&c, "j", "2026-01-01T00:00:01.000Z", "error", "two", None).unwrap();
    assert_eq!((a.message.as_str(), a.metadata.clone()), ("one", Some(json!({"x": 1}))));
    assert_eq!(list_logs(&c, "j", 0, 10).unwrap(), vec![a.clone(), b.clone()]);
    assert_eq!(list_logs(&c, "j", a.id, 10).unwrap(), vec![b]);
    assert_eq!(list_logs(&c, "j", 0, 1).unwrap(), vec![a]);
}

#[test]
fn action_log_sequences_count_per_job() {
    let c = db(FileKind::Project);
    let seqs: Vec<i64> = ["a", "a", "b", "a", "b"]
        .iter()
        .map(|j| insert_action_log(&c, &action(j), "2026-01-01T00:00:00.000Z").unwrap().sequence)
        .collect();
    assert_eq!(seqs, [1, 2, 1, 3, 2]);
    let a = list_action_logs(&c, Some("a"), 0, 10).unwrap();
    assert_eq!(a.iter().map(|l| l.sequence).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(a[0].details, Some(json!({"k": 1})));
    assert!(a[0].success);
    assert_eq!(list_action_logs(&c, None, a[0].id, 10).unwrap().len(), 4);
    assert_eq!(list_action_logs(&c, Some("a"), a[1].id, 10).unwrap().len(), 1);
}

#[test]
fn action_log_retention_by_age_and_by_count() {
    let c = db(FileKind::Project);
    for (job_id, day) in [("a", 1), ("a", 2), ("a", 3), ("a", 4), ("b", 1), ("b", 5)] {
        insert_action_log(&c, &action(job_id), &format!("2026-01-0{day}T00:00:00.000Z")).unwrap();
    }
    assert_eq!(prune_action_logs(&c, "2026-01-01T00:00:00.000Z", None).unwrap(), 0, "nothing older");
    assert_eq!(prune_action_logs(&c, "2026-01-02T00:00:00.000Z", None).unwrap(), 2, "a@1 and b@1");
    assert_eq!(prune_action_logs(&c, "2000-01-01T00:00:00.000Z", Some(1)).unwrap(), 2, "a keeps its newest");
    let left: Vec<(String, i64)> =
        list_action_logs(&c, None, 0, 10).unwrap().into_iter().map(|l| (l.job_id, l.sequence)).collect();
    assert_eq!(left, [("a".to_string(), 4), ("b".to_string(), 2)]);
    let next = insert_action_log(&c, &action("a"), "2026-01-09T00:00:00.000Z").unwrap();
    assert_eq!(next.sequence, 5, "sequences are not reused after pruning");
}

#[test]
fn job_log_retention_by_age_and_by_count() {
    let c = db(FileKind::Jobs);
    for id in ["x", "y"] {
        insert_job(&c, &job(id, "2026-01-01T00:00:00.000Z", "running")).unwrap();
    }
    for (job_id, day) in [("x", 1), ("x", 2), ("x", 3), ("y", 3)] {
        insert_log(&c, job_id, &format!("2026-01-0{day}T00:00:00.000Z"), "info", "m", None).unwrap();
    }
    assert_eq!(prune_job_logs(&c, "2026-01-02T00:00:00.000Z", Some(1)).unwrap(), 2);
    assert_eq!(list_logs(&c, "x", 0, 10).unwrap().len(), 1);
    assert_eq!(list_logs(&c, "y", 0, 10).unwrap().len(), 1);
}
