//! Task-tree SQL in the project shard. Every mutating function runs inside the caller's
//! write transaction (the shard manager's), so a move or a delete is atomic, and keeps the
//! invariants: `path` = parent's path + `/id`, `depth` = parent's depth + 1, and sibling
//! positions dense `0..n-1`.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::Value;

use super::model::{NewTask, Task, TaskPatch};
use super::tree;
use crate::error::{AppError, AppResult};

pub const COLS: &str = "id, name, status, instruction, parent_id, position, path, depth, metadata, execution_result,
     context_combined, context_sections, context_meta, context_updated_at, created_at, updated_at";

fn json_opt(r: &Row, i: usize) -> rusqlite::Result<Option<Value>> {
    Ok(r.get::<_, Option<String>>(i)?.and_then(|s| serde_json::from_str(&s).ok()))
}

pub fn task_of(r: &Row) -> rusqlite::Result<Task> {
    Ok(Task {
        id: r.get(0)?,
        name: r.get(1)?,
        status: r.get(2)?,
        instruction: r.get(3)?,
        parent_id: r.get(4)?,
        position: r.get(5)?,
        path: r.get(6)?,
        depth: r.get(7)?,
        metadata: json_opt(r, 8)?.unwrap_or(Value::Object(Default::default())),
        execution_result: r.get(9)?,
        context_combined: r.get(10)?,
        context_sections: json_opt(r, 11)?,
        context_meta: json_opt(r, 12)?,
        context_updated_at: r.get(13)?,
        created_at: r.get(14)?,
        updated_at: r.get(15)?,
    })
}

pub fn task_not_found(id: i64) -> AppError {
    AppError::not_found("task_not_found", "task", format!("no task {id} in this project"))
}

pub fn get(c: &Connection, id: i64) -> AppResult<Task> {
    let sql = format!("SELECT {COLS} FROM tasks WHERE id = ?1");
    c.prepare_cached(&sql)?.query_row([id], task_of).optional()?.ok_or_else(|| task_not_found(id))
}

fn sibling_count(c: &Connection, parent: Option<i64>) -> AppResult<i64> {
    let n = c.prepare_cached("SELECT count(*) FROM tasks WHERE parent_id IS ?1")?.query_row([parent], |r| r.get(0))?;
    Ok(n)
}

/// Opens a gap at `pos` among the children of `parent`.
fn shift_right(c: &Connection, parent: Option<i64>, pos: i64) -> AppResult<()> {
    c.prepare_cached("UPDATE tasks SET position = position + 1 WHERE parent_id IS ?1 AND position >= ?2")?
        .execute(params![parent, pos])?;
    Ok(())
}

/// Closes the gap left at `pos` among the children of `parent`.
fn shift_left(c: &Connection, parent: Option<i64>, pos: i64) -> AppResult<()> {
    c.prepare_cached("UPDATE tasks SET position = position - 1 WHERE parent_id IS ?1 AND position > ?2")?
        .execute(params![parent, pos])?;
    Ok(())
}

/// Resolves where a new task goes: under `parent_id` at `position`, or beside an anchor.
fn placement(c: &Connection, t: &NewTask) -> AppResult<(Option<i64>, i64)> {
    let anchor = match (t.before, t.after) {
        (Some(_), Some(_)) => return Err(AppError::validation("before", "give `before` or `after`, not both")),
        (Some(a), None) => Some((get(c, a)?, 0)),
        (None, Some(a)) => Some((get(c, a)?, 1)),
        (None, None) => None,
    };
    if let Some((a, offset)) = anchor {
        if t.parent_id.is_some() && t.parent_id != a.parent_id {
            return Err(AppError::validation("parent_id", "the anchor task has another parent"));
        }
        return Ok((a.parent_id, a.position + offset));
    }
    if let Some(p) = t.parent_id {
        get(c, p).map_err(|_| AppError::not_found("task_not_found", "task", format!("parent task {p} not found")))?;
    }
    Ok((t.parent_id, tree::insert_position(t.position, sibling_count(c, t.parent_id)?)))
}

pub fn create(c: &Connection, t: &NewTask, now: &str) -> AppResult<Task> {
    let (parent, pos) = placement(c, t)?;
    shift_right(c, parent, pos)?;
    let parent_path = parent.map(|p| get(c, p)).transpose()?.map(|p| p.path);
    let metadata = t.metadata.clone().unwrap_or(Value::Object(Default::default())).to_string();
    c.prepare_cached(
        "INSERT INTO tasks(name, status, instruction, parent_id, position, metadata, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
    )?
    .execute(params![
        t.name,
        t.status.as_deref().unwrap_or("pending"),
        t.instruction,
        parent,
        pos,
        metadata,
        now
    ])?;
    let id = c.last_insert_rowid();
    super::doc::check_fresh_id(id)?;
    let path = tree::child_path(parent_path.as_deref(), id);
    c.prepare_cached("UPDATE tasks SET path = ?1, depth = ?2 WHERE id = ?3")?.execute(params![
        path,
        tree::depth_of(&path),
        id
    ])?;
    get(c, id)
}

pub fn patch(c: &Connection, id: i64, p: &TaskPatch, now: &str) -> AppResult<Task> {
    let mut t = get(c, id)?;
    let context_changed = p.context_combined.is_some() || p.context_sections.is_some() || p.context_meta.is_some();
    if let Some(v) = &p.name {
        t.name = v.clone();
    }
    if let Some(v) = &p.status {
        t.status = v.clone();
    }
    t.instruction = p.instruction.clone().or(t.instruction);
    t.metadata = p.metadata.clone().unwrap_or(t.metadata);
    t.execution_result = p.execution_result.clone().or(t.execution_result);
    t.context_combined = p.context_combined.clone().or(t.context_combined);
    t.context_sections = p.context_sections.clone().or(t.context_sections);
    t.context_meta = p.context_meta.clone().or(t.context_meta);
    if context_changed {
        t.context_updated_at = Some(now.to_string());
    }
    t.updated_at = now.to_string();
    write_fields(c, &t)?;
    Ok(t)
}

fn write_fields(c: &Connection, t: &Task) -> AppResult<()> {
    c.prepare_cached(
        "UPDATE tasks SET name = ?2, status = ?3, instruction = ?4, metadata = ?5, execution_result = ?6,
           context_combined = ?7, context_sections = ?8, context_meta = ?9, context_updated_at = ?10, updated_at = ?11
         WHERE id = ?1",
    )?
    .execute(params![
        t.id,
        t.name,
        t.status,
        t.instruction,
        t.metadata.to_string(),
        t.execution_result,
        t.context_combined,
        t.context_sections.as_ref().map(Value::to_string),
        t.context_meta.as_ref().map(Value::to_string),
        t.context_updated_at,
        t.updated_at
    ])?;
    Ok(())
}

/// Deletes a task and its whole subtree (dependencies go with them by foreign key).
/// Returns how many tasks were deleted.
pub fn delete_subtree(c: &Connection, id: i64) -> AppResult<usize> {
    let t = get(c, id)?;
    let pattern = tree::descendants_pattern(&t.path);
    // Counted first: ON DELETE CASCADE may remove descendants before the DELETE reaches
    // them, and the changes count only covers rows the statement deleted itself.
    let n: i64 = c
        .prepare_cached("SELECT count(*) FROM tasks WHERE path = ?1 OR path LIKE ?2")?
        .query_row(params![t.path, pattern], |r| r.get(0))?;
    c.prepare_cached("DELETE FROM tasks WHERE path = ?1 OR path LIKE ?2")?.execute(params![t.path, pattern])?;
    shift_left(c, t.parent_id, t.position)?;
    Ok(n as usize)
}

/// Moves a task (with its subtree) under `new_parent` at `position`. Refuses a move into
/// the task itself or its descendants (422 `invalid_move`).
pub fn move_task(
    c: &Connection,
    id: i64,
    new_parent: Option<i64>,
    position: Option<i64>,
    now: &str,
) -> AppResult<Task> {
    let t = get(c, id)?;
    let target_path = match new_parent {
        Some(p) => {
            let target = get(c, p).map_err(|_| invalid_move(format!("target parent {p} does not exist")))?;
            if tree::in_subtree(&target.path, &t.path) {
                return Err(invalid_move(format!("task {id} cannot move under itself or its descendant {p}")));
            }
            Some(target.path)
        }
        None => None,
    };
    shift_left(c, t.parent_id, t.position)?;
    let pos = tree::insert_position(position, sibling_count(c, new_parent)? - i64::from(new_parent == t.parent_id));
    shift_right(c, new_parent, pos)?;
    c.prepare_cached("UPDATE tasks SET parent_id = ?2, position = ?3, updated_at = ?4 WHERE id = ?1")?
        .execute(params![id, new_parent, pos, now])?;
    rewrite_paths(c, &t.path, &tree::child_path(target_path.as_deref(), id))?;
    get(c, id)
}

fn invalid_move(msg: String) -> AppError {
    AppError::new(422, "invalid_move", "task", msg)
}

/// Re-roots every path of the subtree at `old` onto `new`, adjusting depths.
fn rewrite_paths(c: &Connection, old: &str, new: &str) -> AppResult<()> {
    let delta = tree::depth_of(new) - tree::depth_of(old);
    c.prepare_cached(
        "UPDATE tasks SET path = ?1 || substr(path, ?2), depth = depth + ?3 WHERE path = ?4 OR path LIKE ?5",
    )?
    .execute(params![new, old.len() as i64 + 1, delta, old, tree::descendants_pattern(old)])?;
    Ok(())
}

/// Every task (or a subtree at `root`, down to `max_depth` levels below it), ordered so
/// parents come before children and siblings by position.
pub fn load(c: &Connection, root: Option<i64>, max_depth: Option<i64>) -> AppResult<Vec<Task>> {
    let (path, base) = match root {
        Some(r) => {
            let t = get(c, r)?;
            (Some(t.path), t.depth)
        }
        None => (None, 0),
    };
    let limit = max_depth.map(|d| base + d).unwrap_or(i64::MAX);
    let pattern = path.as_deref().map(tree::descendants_pattern);
    let sql = format!(
        "SELECT {COLS} FROM tasks WHERE (?1 IS NULL OR path = ?1 OR path LIKE ?2) AND depth <= ?3
         ORDER BY depth, parent_id, position"
    );
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![path, pattern, limit], task_of)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// `task → [depends_on…]` for every edge.
pub fn edges(c: &Connection) -> AppResult<HashMap<i64, Vec<i64>>> {
    let mut stmt =
        c.prepare_cached("SELECT task_id, depends_on FROM task_dependencies ORDER BY task_id, depends_on")?;
    let mut map: HashMap<i64, Vec<i64>> = HashMap::new();
    for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))? {
        let (a, b) = row?;
        map.entry(a).or_default().push(b);
    }
    Ok(map)
}

pub fn add_dependency(c: &Connection, task: i64, depends_on: i64) -> AppResult<()> {
    get(c, task)?;
    get(c, depends_on).map_err(|_| {
        AppError::new(422, "validation_failed", "task", format!("task {depends_on} (depends_on) does not exist"))
    })?;
    if let Some(cycle) = tree::find_cycle(&edges(c)?, task, depends_on) {
        let names: Vec<String> = cycle.iter().map(i64::to_string).collect();
        return Err(AppError::new(
            422,
            "dependency_cycle",
            "task",
            format!("this dependency closes a cycle: {}", names.join(" → ")),
        )
        .with_details(serde_json::json!({"cycle": cycle})));
    }
    c.prepare_cached("INSERT OR IGNORE INTO task_dependencies(task_id, depends_on) VALUES (?1, ?2)")?
        .execute(params![task, depends_on])?;
    Ok(())
}

pub fn remove_dependency(c: &Connection, task: i64, depends_on: i64) -> AppResult<()> {
    let n = c
        .prepare_cached("DELETE FROM task_dependencies WHERE task_id = ?1 AND depends_on = ?2")?
        .execute(params![task, depends_on])?;
    if n == 0 {
        return Err(AppError::not_found(
            "dependency_not_found",
            "task",
            format!("task {task} does not depend on {depends_on}"),
        ));
    }
    Ok(())
}
