//! Project shard SQL: meta, files, draft and versions. Every function takes a connection
//! that the caller got from the shard manager (a reader, or the writer inside its
//! transaction).

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::Value;

use super::model::{Draft, Project, ProjectFile, SetFile, Version};
use crate::error::{AppError, AppResult};

/// Domain keys of `meta`, each holding a JSON value. `id` and `created_at` are base rows
/// (plain text) written when the shard was created.
const META_KEYS: [&str; 11] = [
    "name",
    "description",
    "status",
    "owner",
    "author",
    "tags",
    "engine_version",
    "engine_version_min",
    "current_version_id",
    "metadata",
    "updated_at",
];

pub fn write_meta(conn: &Connection, p: &Project) -> AppResult<()> {
    crate::storage::meta::write_json(conn, &META_KEYS, &serde_json::to_value(p).map_err(AppError::internal)?)
}

pub fn read_meta(conn: &Connection) -> AppResult<Project> {
    let obj = crate::storage::meta::read_json(conn, &META_KEYS, "project")?;
    serde_json::from_value(Value::Object(obj)).map_err(|e| AppError::internal(format!("project meta: {e}")))
}

fn file_of(r: &Row) -> rusqlite::Result<ProjectFile> {
    Ok(ProjectFile {
        id: r.get(0)?,
        file_type: r.get(1)?,
        file_name: r.get(2)?,
        file_path: r.get(3)?,
        content: serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or(Value::Null),
        yaml_content: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
    })
}

const FILE_COLS: &str = "id, file_type, file_name, file_path, content, yaml_content, created_at, updated_at";

/// Files ordered by id (UUIDv7, so by creation), after `after` when given.
pub fn list_files(conn: &Connection, after: Option<&str>, limit: usize) -> AppResult<Vec<ProjectFile>> {
    let sql = format!("SELECT {FILE_COLS} FROM files WHERE id > ?1 ORDER BY id LIMIT ?2");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![after.unwrap_or(""), limit as i64], file_of)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get_file(conn: &Connection, id: &str) -> AppResult<ProjectFile> {
    let sql = format!("SELECT {FILE_COLS} FROM files WHERE id = ?1");
    conn.query_row(&sql, [id], file_of)
        .optional()?
        .ok_or_else(|| AppError::not_found("file_not_found", "file", "no file with this id in this project"))
}

/// Inserts or replaces by id. A `(file_type, file_name)` taken by another file is 409.
pub fn save_file(conn: &Connection, f: &ProjectFile) -> AppResult<()> {
    let r = conn.execute(
        "INSERT INTO files(id, file_type, file_name, file_path, content, yaml_content, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(id) DO UPDATE SET file_type = excluded.file_type, file_name = excluded.file_name,
           file_path = excluded.file_path, content = excluded.content, yaml_content = excluded.yaml_content,
           updated_at = excluded.updated_at",
        params![
            f.id,
            f.file_type,
            f.file_name,
            f.file_path,
            f.content.to_string(),
            f.yaml_content,
            f.created_at,
            f.updated_at
        ],
    );
    match r {
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) => Err(AppError::conflict(
            format!("a {} file named {:?} already exists in this project", f.file_type, f.file_name),
        )),
        other => other.map(|_| ()).map_err(Into::into),
    }
}

pub fn delete_file(conn: &Connection, id: &str) -> AppResult<()> {
    match conn.execute("DELETE FROM files WHERE id = ?1", [id])? {
        0 => Err(AppError::not_found("file_not_found", "file", "no file with this id in this project")),
        _ => Ok(()),
    }
}

pub fn get_draft(conn: &Connection) -> AppResult<Draft> {
    conn.query_row(
        "SELECT files, validation_status, validation_errors, updated_by, updated_at FROM draft WHERE id = 1",
        [],
        |r| {
            let files: String = r.get(0)?;
            let errors: Option<String> = r.get(2)?;
            Ok(Draft {
                files: serde_json::from_str(&files).unwrap_or_default(),
                validation_status: r.get(1)?,
                validation_errors: errors.and_then(|e| serde_json::from_str(&e).ok()).unwrap_or(Value::Array(vec![])),
                updated_by: r.get(3)?,
                updated_at: r.get(4)?,
            })
        },
    )
    .map_err(Into::into)
}

pub fn put_draft(conn: &Connection, d: &Draft) -> AppResult<()> {
    conn.execute(
        "INSERT OR REPLACE INTO draft(id, files, validation_status, validation_errors, updated_by, updated_at)
         VALUES (1, ?1, ?2, ?3, ?4, ?5)",
        params![
            serde_json::to_string(&d.files).map_err(AppError::internal)?,
            d.validation_status,
            d.validation_errors.to_string(),
            d.updated_by,
            d.updated_at
        ],
    )?;
    Ok(())
}

const VERSION_COLS: &str =
    "id, version_number, release_note, is_rollback, rollback_from_version_id, published_at, published_by, files";

fn version_of(r: &Row, with_files: bool) -> rusqlite::Result<Version> {
    let files = if with_files { serde_json::from_str(&r.get::<_, String>(7)?).ok() } else { None };
    Ok(Version {
        id: r.get(0)?,
        version_number: r.get(1)?,
        release_note: r.get(2)?,
        is_rollback: r.get::<_, i64>(3)? != 0,
        rollback_from_version_id: r.get(4)?,
        published_at: r.get(5)?,
        published_by: r.get(6)?,
        files,
    })
}

/// Newest first (ids are UUIDv7), before `before` when given.
pub fn list_versions(conn: &Connection, before: Option<&str>, limit: usize) -> AppResult<Vec<Version>> {
    let sql = format!("SELECT {VERSION_COLS} FROM versions WHERE (?1 IS NULL OR id < ?1) ORDER BY id DESC LIMIT ?2");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![before, limit as i64], |r| version_of(r, false))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get_version(conn: &Connection, id: &str) -> AppResult<Version> {
    let sql = format!("SELECT {VERSION_COLS} FROM versions WHERE id = ?1");
    conn.query_row(&sql, [id], |r| version_of(r, true))
        .optional()?
        .ok_or_else(|| AppError::not_found("version_not_found", "version", "no version with this id in this project"))
}

pub fn version_numbers(conn: &Connection) -> AppResult<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT version_number FROM versions")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn insert_version(conn: &Connection, v: &Version) -> AppResult<()> {
    let files = serde_json::to_string(v.files.as_deref().unwrap_or_default()).map_err(AppError::internal)?;
    let r = conn.execute(
        "INSERT INTO versions(id, version_number, files, release_note, is_rollback, rollback_from_version_id,
                              published_at, published_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            v.id,
            v.version_number,
            files,
            v.release_note,
            v.is_rollback as i64,
            v.rollback_from_version_id,
            v.published_at,
            v.published_by
        ],
    );
    match r {
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) => {
            Err(AppError::conflict(format!("version {} already exists", v.version_number)))
        }
        other => other.map(|_| ()).map_err(Into::into),
    }
}

/// The draft's file set in a stable order, so versions and diffs compare cleanly.
pub fn sort_set(files: &mut [SetFile]) {
    files.sort_by(|a, b| (&a.file_type, &a.file_name).cmp(&(&b.file_type, &b.file_name)));
}
