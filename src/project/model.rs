//! Project types as the API and the registry see them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A project: the registry row, mirrored field for field in the shard's `meta` table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub description: String,
    pub status: String,
    pub owner: Option<String>,
    pub author: Option<String>,
    pub tags: Vec<String>,
    pub engine_version: Option<String>,
    pub engine_version_min: Option<String>,
    pub current_version_id: Option<String>,
    pub metadata: Value,
    pub created_at: String,
    pub updated_at: String,
    /// Size of the shard file (registry only; not in meta).
    #[serde(default)]
    pub file_bytes: i64,
    /// `ok` or `quarantined` (registry only).
    #[serde(default = "ok")]
    pub health: String,
}

fn ok() -> String {
    "ok".into()
}

pub const STATUSES: [&str; 4] = ["draft", "published", "archived", "deprecated"];
pub const FILE_TYPES: [&str; 7] = ["global", "roles", "skills", "forms", "rules", "session", "template"];

/// `POST /projects`.
#[derive(Debug, Clone, Deserialize)]
pub struct NewProject {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub author: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub engine_version: Option<String>,
    pub engine_version_min: Option<String>,
    #[serde(default = "empty_object")]
    pub metadata: Value,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// `PATCH /projects/{id}`: absent fields stay; `null` clears an optional one.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProjectPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde(default, with = "double_option")]
    pub author: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    #[serde(default, with = "double_option")]
    pub engine_version: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    pub engine_version_min: Option<Option<String>>,
    pub metadata: Option<Value>,
}

/// Distinguishes an absent field (None) from an explicit `null` (Some(None)).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// List filters of `GET /projects`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProjectFilter {
    pub status: Option<String>,
    pub author: Option<String>,
    pub tag: Option<String>,
    pub q: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// A script file of a project.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProjectFile {
    pub id: String,
    pub file_type: String,
    pub file_name: String,
    pub file_path: Option<String>,
    /// The parsed YAML as JSON.
    pub content: Value,
    pub yaml_content: String,
    pub created_at: String,
    pub updated_at: String,
}

/// `POST /projects/{id}/files` and `PUT …/files/{file_id}` (all fields optional on PUT).
#[derive(Debug, Clone, Deserialize)]
pub struct FileInput {
    pub file_type: Option<String>,
    pub file_name: Option<String>,
    pub file_path: Option<String>,
    pub yaml_content: Option<String>,
}

/// One file of a draft or a version: the file set is what gets validated and published.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SetFile {
    pub file_type: String,
    pub file_name: String,
    pub yaml_content: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Draft {
    pub files: Vec<SetFile>,
    pub validation_status: String,
    pub validation_errors: Value,
    pub updated_by: Option<String>,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Version {
    pub id: String,
    pub version_number: String,
    pub release_note: String,
    pub is_rollback: bool,
    pub rollback_from_version_id: Option<String>,
    pub published_at: String,
    pub published_by: Option<String>,
    /// Present on `GET …/versions/{vid}`, absent in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<SetFile>>,
}
