//! Project files: CRUD over the shard's `files` table. Any YAML that parses is stored with
//! its parsed `content`; YAML that does not parse is 400 `script_parse_error` and changes
//! nothing.

use rusqlite::Connection;
use serde_json::json;
use uuid::Uuid;

use super::model::{FileInput, ProjectFile, SetFile, FILE_TYPES};
use super::{service, store};
use crate::error::{AppError, AppResult};
use crate::paging;
use crate::script::{self, Limits};
use crate::storage::{ShardKind, Storage};

/// Parses YAML for storage; a failure names the file and the position.
pub fn parse(yaml: &str, file_name: &str, limits: &Limits) -> AppResult<serde_json::Value> {
    script::parse_yaml(yaml, limits).map_err(|e| {
        AppError::new(
            400,
            "script_parse_error",
            "script",
            format!("{file_name}: line {}, column {}: {}", e.line, e.column, e.message),
        )
        .with_details(json!({"file": file_name, "line": e.line, "column": e.column}))
    })
}

pub fn check_type(t: &str) -> AppResult<()> {
    if FILE_TYPES.contains(&t) {
        return Ok(());
    }
    Err(AppError::validation("file_type", format!("unknown file_type {t:?}; one of {FILE_TYPES:?}")))
}

pub fn check_name(n: &str) -> AppResult<()> {
    let ok = !n.trim().is_empty() && n.chars().count() <= 255 && !n.contains(['/', '\\', '\0']);
    if ok {
        return Ok(());
    }
    Err(AppError::validation("file_name", "file_name must be 1..255 characters without slashes or NUL"))
}

/// Inserts a file of a set (used when creating a project). Its YAML is trusted to parse.
pub fn insert_new(c: &Connection, f: &SetFile, now: &str) -> AppResult<()> {
    let content = script::parse_yaml(&f.yaml_content, &Limits::default()).unwrap_or(serde_json::Value::Null);
    let row = ProjectFile {
        id: Uuid::now_v7().to_string(),
        file_type: f.file_type.clone(),
        file_name: f.file_name.clone(),
        file_path: None,
        content,
        yaml_content: f.yaml_content.clone(),
        created_at: now.to_string(),
        updated_at: now.to_string(),
    };
    store::save_file(c, &row)
}

pub async fn list(
    st: &Storage,
    id: Uuid,
    cursor: Option<String>,
    limit: Option<i64>,
    max: usize,
) -> AppResult<(Vec<ProjectFile>, Option<String>)> {
    let limit = paging::check_limit(limit, max)?;
    let after = cursor.as_deref().map(paging::decode::<String>).transpose()?;
    service::get(st, id).await?;
    let rows =
        st.shards.read(ShardKind::Project, id, move |c| store::list_files(c, after.as_deref(), limit + 1)).await?;
    Ok(paging::page(rows, limit, |f| paging::encode(&f.id)))
}

pub async fn get(st: &Storage, id: Uuid, file_id: String) -> AppResult<ProjectFile> {
    service::get(st, id).await?;
    st.shards.read(ShardKind::Project, id, move |c| store::get_file(c, &file_id)).await
}

/// Creates (`file_id` None) or replaces a file; the project's `updated_at` moves with it.
pub async fn save(
    st: &Storage,
    id: Uuid,
    file_id: Option<String>,
    input: FileInput,
    limits: Limits,
) -> AppResult<ProjectFile> {
    let creating = file_id.is_none();
    if creating {
        let missing = [
            ("file_type", input.file_type.is_none()),
            ("file_name", input.file_name.is_none()),
            ("yaml_content", input.yaml_content.is_none()),
        ];
        if let Some((field, _)) = missing.iter().find(|(_, m)| *m) {
            return Err(AppError::validation(field, format!("{field} is required")));
        }
    }
    input.file_type.as_deref().map(check_type).transpose()?;
    input.file_name.as_deref().map(check_name).transpose()?;
    let parsed = match &input.yaml_content {
        Some(y) => Some(parse(y, input.file_name.as_deref().unwrap_or("file"), &limits)?),
        None => None,
    };
    let file_id = file_id.unwrap_or_else(|| Uuid::now_v7().to_string());
    let (_, saved) = service::update_with(st, id, move |c, _| {
        let f = merge(c, &file_id, creating, &input, parsed.clone())?;
        store::save_file(c, &f)?;
        Ok(f)
    })
    .await?;
    Ok(saved)
}

fn merge(
    c: &Connection,
    file_id: &str,
    creating: bool,
    input: &FileInput,
    parsed: Option<serde_json::Value>,
) -> AppResult<ProjectFile> {
    let now = crate::clock::now();
    let mut f = if creating {
        ProjectFile {
            id: file_id.into(),
            file_type: String::new(),
            file_name: String::new(),
            file_path: None,
            content: serde_json::Value::Null,
            yaml_content: String::new(),
            created_at: now.clone(),
            updated_at: now.clone(),
        }
    } else {
        store::get_file(c, file_id)?
    };
    if let Some(t) = &input.file_type {
        f.file_type = t.clone();
    }
    if let Some(n) = &input.file_name {
        f.file_name = n.clone();
    }
    if input.file_path.is_some() {
        f.file_path = input.file_path.clone();
    }
    if let (Some(y), Some(p)) = (&input.yaml_content, parsed) {
        f.yaml_content = y.clone();
        f.content = p;
    }
    f.updated_at = now;
    Ok(f)
}

pub async fn delete(st: &Storage, id: Uuid, file_id: String) -> AppResult<()> {
    service::update(st, id, move |c, _| store::delete_file(c, &file_id)).await.map(|_| ())
}
