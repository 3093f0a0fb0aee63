//! Plan operations on a project's shard. Reads go to a reader connection; every change is
//! one write transaction on the project's writer, so the tree is never seen half-moved.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use uuid::Uuid;

use super::model::{Move, NewTask, Snapshot, Task, TaskPatch, TreeDoc, TreeNode, TASK_STATUSES};
use super::{doc, store};
use crate::error::{AppError, AppResult};
use crate::paging;
use crate::project::service as projects;
use crate::storage::{ShardKind, Storage};

const P: ShardKind = ShardKind::Project;

async fn write<T, F>(st: &Storage, id: Uuid, f: F) -> AppResult<T>
where
    T: Send + 'static,
    F: Fn(&Connection, &str) -> AppResult<T> + Send + 'static,
{
    projects::get(st, id).await?;
    st.shards.write(P, id, move |c| f(c, &crate::clock::now())).await
}

async fn read<T, F>(st: &Storage, id: Uuid, f: F) -> AppResult<T>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> AppResult<T> + Send + 'static,
{
    projects::get(st, id).await?;
    st.shards.read(P, id, f).await
}

fn check_status(s: Option<&str>) -> AppResult<()> {
    match s {
        Some(s) if !TASK_STATUSES.contains(&s) => {
            Err(AppError::validation("status", format!("unknown status {s:?}; one of {TASK_STATUSES:?}")))
        }
        _ => Ok(()),
    }
}

fn check_name(n: &str) -> AppResult<()> {
    if n.trim().is_empty() || n.chars().count() > 500 {
        return Err(AppError::validation("name", "name must be 1..500 characters"));
    }
    Ok(())
}

pub async fn create(st: &Storage, id: Uuid, t: NewTask) -> AppResult<Task> {
    check_name(&t.name)?;
    check_status(t.status.as_deref())?;
    write(st, id, move |c, now| store::create(c, &t, now)).await
}

pub async fn get(st: &Storage, id: Uuid, tid: i64) -> AppResult<Task> {
    read(st, id, move |c| store::get(c, tid)).await
}

pub async fn patch(st: &Storage, id: Uuid, tid: i64, p: TaskPatch) -> AppResult<Task> {
    if let Some(n) = &p.name {
        check_name(n)?;
    }
    check_status(p.status.as_deref())?;
    write(st, id, move |c, now| store::patch(c, tid, &p, now)).await
}

pub async fn delete(st: &Storage, id: Uuid, tid: i64) -> AppResult<usize> {
    write(st, id, move |c, _| store::delete_subtree(c, tid)).await
}

pub async fn move_task(st: &Storage, id: Uuid, tid: i64, m: Move) -> AppResult<Task> {
    write(st, id, move |c, now| store::move_task(c, tid, m.parent_id, m.position, now)).await
}

/// The tree (or the subtree at `root`, `max_depth` levels deep) as nested JSON.
pub async fn tree(st: &Storage, id: Uuid, root: Option<i64>, max_depth: Option<i64>) -> AppResult<Vec<Value>> {
    if max_depth.is_some_and(|d| d < 0) {
        return Err(AppError::validation("max_depth", "max_depth must be 0 or more"));
    }
    read(st, id, move |c| Ok(doc::nest_json(store::load(c, root, max_depth)?, &store::edges(c)?))).await
}

pub async fn dependencies(st: &Storage, id: Uuid, tid: i64) -> AppResult<Vec<i64>> {
    read(st, id, move |c| {
        store::get(c, tid)?;
        Ok(store::edges(c)?.remove(&tid).unwrap_or_default())
    })
    .await
}

pub async fn add_dependency(st: &Storage, id: Uuid, tid: i64, dep: i64) -> AppResult<Vec<i64>> {
    write(st, id, move |c, _| {
        store::add_dependency(c, tid, dep)?;
        Ok(store::edges(c)?.remove(&tid).unwrap_or_default())
    })
    .await
}

pub async fn remove_dependency(st: &Storage, id: Uuid, tid: i64, dep: i64) -> AppResult<()> {
    write(st, id, move |c, _| store::remove_dependency(c, tid, dep)).await
}

/// Validates the whole document first, then replaces the tree (and snapshots it when a
/// `note` is given) in one transaction. Returns the new tree.
pub async fn upsert(st: &Storage, id: Uuid, d: TreeDoc) -> AppResult<Vec<Value>> {
    doc::validate(&d.tasks)?;
    write(st, id, move |c, now| {
        doc::replace_all(c, &d.tasks, now)?;
        if let Some(note) = &d.note {
            doc::snapshot(c, Some(note), now)?;
        }
        Ok(doc::nest_json(store::load(c, None, None)?, &store::edges(c)?))
    })
    .await
}

pub async fn create_snapshot(st: &Storage, id: Uuid, note: Option<String>) -> AppResult<Snapshot> {
    write(st, id, move |c, now| {
        let sid = doc::snapshot(c, note.as_deref(), now)?;
        get_snapshot_tx(c, sid, false)
    })
    .await
}

fn get_snapshot_tx(c: &Connection, sid: i64, with_tasks: bool) -> AppResult<Snapshot> {
    let row: Option<(Option<String>, String, String)> = c
        .query_row("SELECT note, created_at, snapshot FROM snapshots WHERE id = ?1", [sid], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let (note, created_at, json) =
        row.ok_or_else(|| AppError::not_found("snapshot_not_found", "snapshot", format!("no snapshot {sid}")))?;
    let tasks =
        if with_tasks { Some(serde_json::from_str::<Vec<TreeNode>>(&json).map_err(AppError::internal)?) } else { None };
    Ok(Snapshot { id: sid, note, created_at, tasks })
}

pub async fn get_snapshot(st: &Storage, id: Uuid, sid: i64) -> AppResult<Snapshot> {
    read(st, id, move |c| get_snapshot_tx(c, sid, true)).await
}

pub async fn list_snapshots(
    st: &Storage,
    id: Uuid,
    cursor: Option<String>,
    limit: Option<i64>,
    max: usize,
) -> AppResult<(Vec<Snapshot>, Option<String>)> {
    let limit = paging::check_limit(limit, max)?;
    let before = cursor.as_deref().map(paging::decode::<i64>).transpose()?.unwrap_or(i64::MAX);
    let rows = read(st, id, move |c| {
        let mut stmt =
            c.prepare("SELECT id, note, created_at FROM snapshots WHERE id < ?1 ORDER BY id DESC LIMIT ?2")?;
        let rows = stmt.query_map(params![before, limit as i64 + 1], |r| {
            Ok(Snapshot { id: r.get(0)?, note: r.get(1)?, created_at: r.get(2)?, tasks: None })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    })
    .await?;
    Ok(paging::page(rows, limit, |s| paging::encode(&s.id)))
}

/// Snapshots the current state, then restores tree and dependencies from `sid`, in one
/// transaction. Returns the snapshot taken of the state before the restore.
pub async fn restore_snapshot(st: &Storage, id: Uuid, sid: i64) -> AppResult<Snapshot> {
    write(st, id, move |c, now| {
        let target = get_snapshot_tx(c, sid, true)?;
        let before = doc::snapshot(c, Some(&format!("before restoring snapshot {sid}")), now)?;
        doc::replace_all(c, target.tasks.as_deref().unwrap_or_default(), now)?;
        get_snapshot_tx(c, before, false)
    })
    .await
}
