//! Plan types: tasks, their tree form, dependencies and snapshots.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const TASK_STATUSES: [&str; 5] = ["pending", "running", "completed", "failed", "skipped"];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Task {
    pub id: i64,
    pub name: String,
    pub status: String,
    pub instruction: Option<String>,
    pub parent_id: Option<i64>,
    pub position: i64,
    pub path: String,
    pub depth: i64,
    pub metadata: Value,
    pub execution_result: Option<String>,
    pub context_combined: Option<String>,
    pub context_sections: Option<Value>,
    pub context_meta: Option<Value>,
    pub context_updated_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// `POST /projects/{id}/tasks`: `position`, or `before`/`after` a sibling anchor.
#[derive(Debug, Clone, Deserialize)]
pub struct NewTask {
    pub name: String,
    pub parent_id: Option<i64>,
    pub position: Option<i64>,
    pub before: Option<i64>,
    pub after: Option<i64>,
    pub instruction: Option<String>,
    pub metadata: Option<Value>,
    pub status: Option<String>,
}

/// `PATCH /projects/{id}/tasks/{tid}`: absent fields stay.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TaskPatch {
    pub name: Option<String>,
    pub status: Option<String>,
    pub instruction: Option<String>,
    pub metadata: Option<Value>,
    pub execution_result: Option<String>,
    pub context_combined: Option<String>,
    pub context_sections: Option<Value>,
    pub context_meta: Option<Value>,
}

/// `POST …/move`: `parent_id: null` makes the task a root.
#[derive(Debug, Clone, Deserialize)]
pub struct Move {
    pub parent_id: Option<i64>,
    pub position: Option<i64>,
}

/// One node of the nested tree document (GET tree, PUT upsert, snapshots).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TreeNode {
    pub id: Option<i64>,
    pub name: String,
    #[serde(default = "pending")]
    pub status: String,
    pub instruction: Option<String>,
    #[serde(default)]
    pub metadata: Value,
    pub execution_result: Option<String>,
    pub context_combined: Option<String>,
    pub context_sections: Option<Value>,
    pub context_meta: Option<Value>,
    #[serde(default)]
    pub dependencies: Vec<i64>,
    #[serde(default)]
    pub children: Vec<TreeNode>,
}

fn pending() -> String {
    "pending".into()
}

/// `PUT /projects/{id}/tasks`.
#[derive(Debug, Clone, Deserialize)]
pub struct TreeDoc {
    pub tasks: Vec<TreeNode>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    pub id: i64,
    pub note: Option<String>,
    pub created_at: String,
    /// The tree as nested [`TreeNode`]s; omitted in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tasks: Option<Vec<TreeNode>>,
}
