//! Session and message types shared by the store, the service and the HTTP layer.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const STATUSES: [&str; 5] = ["active", "paused", "completed", "failed", "archived"];
pub const ROLES: [&str; 4] = ["user", "assistant", "system", "tool"];

/// A registry row (plus the summary overlay when served).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Session {
    pub id: String,
    pub project_id: Option<String>,
    pub user_id: Option<String>,
    pub name: Option<String>,
    pub name_source: String,
    pub status: String,
    pub execution_status: String,
    pub message_count: i64,
    pub last_message_at: Option<String>,
    pub summary_seq: i64,
    pub created_at: String,
    pub updated_at: String,
    pub current_task_id: Option<i64>,
    pub metadata: Value,
    pub health: String,
}

/// The shard's meta rows that describe the session (DESIGN.md §2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SessionMeta {
    #[serde(default)]
    pub id: String,
    pub name: Option<String>,
    #[serde(default = "auto")]
    pub name_source: String,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub version_id: Option<String>,
    pub script_file_id: Option<String>,
    #[serde(default = "active")]
    pub status: String,
    pub current_task_id: Option<i64>,
    #[serde(default)]
    pub metadata: Value,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
}

fn auto() -> String {
    "auto".into()
}

fn active() -> String {
    "active".into()
}

/// `POST /sessions`.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct NewSession {
    pub project_id: Option<String>,
    pub script_file_id: Option<String>,
    pub version_id: Option<String>,
    pub user_id: Option<String>,
    pub name: Option<String>,
    pub variables: Option<serde_json::Map<String, Value>>,
    pub metadata: Option<Value>,
}

/// `PATCH /sessions/{id}`.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct SessionPatch {
    pub name: Option<String>,
    pub status: Option<String>,
    pub metadata: Option<Value>,
}

/// `GET /sessions` query.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct SessionFilter {
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub status: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// The shard's `state` row, as served with a session.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionState {
    pub status: String,
    pub execution_status: String,
    pub position: Value,
    pub variables: Value,
}

/// `POST /sessions`: the registry row and what the script said before any user message.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedSession {
    #[serde(flatten)]
    pub session: Session,
    /// The opening's assistant message (DESIGN.md §5: starting a session runs actions until
    /// the first that needs input). Null without a script, or when the opening failed.
    pub opening_message: Option<Message>,
}

/// `GET /sessions/{id}`: the registry row and the shard's state.
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    #[serde(flatten)]
    pub session: Session,
    /// The pinned project version and script file (shard meta; not in the registry).
    pub version_id: Option<String>,
    pub script_file_id: Option<String>,
    pub state: SessionState,
}

/// A stored message, as the API returns it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Message {
    pub id: String,
    pub seq: i64,
    pub role: String,
    pub parts: Vec<Value>,
    pub metadata: Option<Value>,
    pub attachments: Option<Value>,
    pub content: String,
    pub created_at: String,
    pub updated_at: String,
}

/// A validated incoming UIMessage.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: String,
    pub role: String,
    pub parts: Vec<Value>,
    pub metadata: Option<Value>,
}

/// `GET /sessions/{id}/messages` query.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct HistoryQuery {
    pub before: Option<i64>,
    pub after: Option<i64>,
    pub limit: Option<i64>,
}
