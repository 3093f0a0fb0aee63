//! The nested tree document: reading the tree as nested nodes, validating an upsert, and
//! replacing the whole tree (upsert and snapshot restore) in one transaction.

use std::collections::{HashMap, HashSet};

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

use super::model::{Task, TreeNode, TASK_STATUSES};
use super::{store, tree};
use crate::error::{AppError, AppResult};

/// Most nodes a document may hold, and how deep it may nest.
pub const MAX_NODES: usize = 100_000;
pub const MAX_DEPTH: usize = 256;

/// Nests `tasks` (parents before children, siblings by position) as JSON, each node with
/// its `dependencies` and `children`. Tasks whose parent is not in the set become roots.
pub fn nest_json(tasks: Vec<Task>, edges: &HashMap<i64, Vec<i64>>) -> Vec<Value> {
    let ids: HashSet<i64> = tasks.iter().map(|t| t.id).collect();
    let mut children: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut roots = Vec::new();
    for t in &tasks {
        match t.parent_id.filter(|p| ids.contains(p)) {
            Some(p) => children.entry(p).or_default().push(t.id),
            None => roots.push(t.id),
        }
    }
    let mut by_id: HashMap<i64, Task> = tasks.into_iter().map(|t| (t.id, t)).collect();
    roots.iter().map(|r| build(*r, &mut by_id, &children, edges)).collect()
}

fn build(
    id: i64,
    by_id: &mut HashMap<i64, Task>,
    children: &HashMap<i64, Vec<i64>>,
    edges: &HashMap<i64, Vec<i64>>,
) -> Value {
    let t = by_id.remove(&id).expect("each task once");
    let mut v = serde_json::to_value(&t).expect("tasks serialize");
    let kids: Vec<Value> = children.get(&id).into_iter().flatten().map(|c| build(*c, by_id, children, edges)).collect();
    v["dependencies"] = json!(edges.get(&id).cloned().unwrap_or_default());
    v["children"] = Value::Array(kids);
    v
}

/// The whole tree as [`TreeNode`]s with their ids: what a snapshot stores.
pub fn to_nodes(tasks: Vec<Task>, edges: &HashMap<i64, Vec<i64>>) -> Vec<TreeNode> {
    let nested = nest_json(tasks, edges);
    serde_json::from_value(Value::Array(nested)).expect("nested tasks are tree nodes")
}

/// The largest task id a document may carry: JavaScript's largest safe integer, so ids
/// survive every JSON client, and fresh ids (max + 1, + 2, …) cannot overflow an i64.
pub const MAX_TASK_ID: i64 = (1 << 53) - 1;

/// Checks a document before anything is written: names, statuses, unique ids, depth,
/// size, dependencies on ids in the document, and no dependency cycle.
pub fn validate(nodes: &[TreeNode]) -> AppResult<()> {
    let mut ids = HashSet::new();
    let mut edges: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut count = 0usize;
    let mut stack: Vec<(&TreeNode, usize)> = nodes.iter().map(|n| (n, 1)).collect();
    while let Some((n, depth)) = stack.pop() {
        count += 1;
        if count > MAX_NODES || depth > MAX_DEPTH {
            return Err(AppError::validation(
                "tasks",
                format!("a tree holds at most {MAX_NODES} tasks, {MAX_DEPTH} levels deep"),
            ));
        }
        check_node(n)?;
        if let Some(id) = n.id {
            if !(1..=MAX_TASK_ID).contains(&id) || !ids.insert(id) {
                return Err(AppError::validation(
                    "tasks",
                    format!("task id {id} is not between 1 and {MAX_TASK_ID} or appears twice"),
                ));
            }
            edges.insert(id, n.dependencies.clone());
        } else if !n.dependencies.is_empty() {
            return Err(AppError::validation("tasks", format!("task {:?} has dependencies but no id", n.name)));
        }
        stack.extend(n.children.iter().map(|c| (c, depth + 1)));
    }
    check_edges(&ids, &edges)
}

fn check_node(n: &TreeNode) -> AppResult<()> {
    if n.name.trim().is_empty() || n.name.chars().count() > 500 {
        return Err(AppError::validation("tasks", "every task needs a name of 1..500 characters"));
    }
    if !TASK_STATUSES.contains(&n.status.as_str()) {
        return Err(AppError::validation("tasks", format!("unknown task status {:?}", n.status)));
    }
    Ok(())
}

fn check_edges(ids: &HashSet<i64>, edges: &HashMap<i64, Vec<i64>>) -> AppResult<()> {
    let mut accepted: HashMap<i64, Vec<i64>> = HashMap::new();
    for (&task, deps) in edges {
        for &d in deps {
            if !ids.contains(&d) {
                return Err(AppError::new(
                    422,
                    "validation_failed",
                    "task",
                    format!("task {task} depends on {d}, which is not in the tree"),
                ));
            }
            if let Some(cycle) = tree::find_cycle(&accepted, task, d) {
                return Err(AppError::new(
                    422,
                    "dependency_cycle",
                    "task",
                    format!("dependencies form a cycle: {cycle:?}"),
                )
                .with_details(json!({"cycle": cycle})));
            }
            accepted.entry(task).or_default().push(d);
        }
    }
    Ok(())
}

/// Replaces every task and dependency with `nodes` (validated first by the caller). Nodes
/// without an id get fresh ones above every id in use or ever used.
pub fn replace_all(c: &Connection, nodes: &[TreeNode], now: &str) -> AppResult<usize> {
    c.execute("DELETE FROM tasks", [])?;
    let seq: i64 =
        c.query_row("SELECT seq FROM sqlite_sequence WHERE name = 'tasks'", [], |r| r.get(0)).optional()?.unwrap_or(0);
    let mut next = max_id(nodes).max(seq) + 1;
    check_fresh_id(next.saturating_add(count_without_id(nodes)) - 1)?;
    let mut count = 0;
    let mut deps = Vec::new();
    let mut stack: Vec<(&TreeNode, Option<i64>, Option<String>, i64)> =
        nodes.iter().enumerate().rev().map(|(i, n)| (n, None, None, i as i64)).collect();
    while let Some((n, parent, parent_path, pos)) = stack.pop() {
        let id = n.id.unwrap_or_else(|| {
            next += 1;
            next - 1
        });
        let path = tree::child_path(parent_path.as_deref(), id);
        insert_node(c, n, id, parent, pos, &path, now)?;
        deps.extend(n.dependencies.iter().map(|d| (id, *d)));
        stack.extend(n.children.iter().enumerate().rev().map(|(i, ch)| (ch, Some(id), Some(path.clone()), i as i64)));
        count += 1;
    }
    for (a, b) in deps {
        c.prepare_cached("INSERT OR IGNORE INTO task_dependencies(task_id, depends_on) VALUES (?1, ?2)")?
            .execute(params![a, b])?;
    }
    Ok(count)
}

/// A newly assigned task id must stay within [`MAX_TASK_ID`] (the transaction is rolled
/// back otherwise), so every id the server hands out can be sent back in a document.
pub fn check_fresh_id(id: i64) -> AppResult<()> {
    if id > MAX_TASK_ID {
        return Err(AppError::validation("tasks", format!("no task ids left: ids end at {MAX_TASK_ID}")));
    }
    Ok(())
}

fn count_without_id(nodes: &[TreeNode]) -> i64 {
    nodes.iter().map(|n| i64::from(n.id.is_none()) + count_without_id(&n.children)).sum()
}

fn max_id(nodes: &[TreeNode]) -> i64 {
    nodes.iter().map(|n| n.id.unwrap_or(0).max(max_id(&n.children))).max().unwrap_or(0)
}

fn insert_node(
    c: &Connection,
    n: &TreeNode,
    id: i64,
    parent: Option<i64>,
    pos: i64,
    path: &str,
    now: &str,
) -> AppResult<()> {
    let metadata = if n.metadata.is_null() { json!({}) } else { n.metadata.clone() };
    c.prepare_cached(
        "INSERT INTO tasks(id, name, status, instruction, parent_id, position, path, depth, metadata, execution_result,
                           context_combined, context_sections, context_meta, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)",
    )?
    .execute(params![
        id,
        n.name,
        n.status,
        n.instruction,
        parent,
        pos,
        path,
        tree::depth_of(path),
        metadata.to_string(),
        n.execution_result,
        n.context_combined,
        n.context_sections.as_ref().map(Value::to_string),
        n.context_meta.as_ref().map(Value::to_string),
        now
    ])?;
    Ok(())
}

/// Stores the current tree as a snapshot; returns its id.
pub fn snapshot(c: &Connection, note: Option<&str>, now: &str) -> AppResult<i64> {
    let nodes = to_nodes(store::load(c, None, None)?, &store::edges(c)?);
    let json = serde_json::to_string(&nodes).map_err(AppError::internal)?;
    c.prepare_cached("INSERT INTO snapshots(snapshot, note, created_at) VALUES (?1, ?2, ?3)")?
        .execute(params![json, note, now])?;
    Ok(c.last_insert_rowid())
}
