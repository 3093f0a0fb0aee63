//! Registry SQL for project rows. The row mirrors the shard's meta plus `file_bytes` and
//! `health`; it is always written after the shard.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::error::AppResult;
use crate::paging::UpdatedKey;
use crate::project::model::Project;

const COLS: &str = "id, name, description, status, owner, author, tags, engine_version, engine_version_min,
                    current_version_id, metadata, created_at, updated_at, file_bytes, health";

fn project_of(r: &Row) -> rusqlite::Result<Project> {
    let json = |i: usize| -> rusqlite::Result<serde_json::Value> {
        Ok(serde_json::from_str(&r.get::<_, String>(i)?).unwrap_or_default())
    };
    Ok(Project {
        id: r.get(0)?,
        name: r.get(1)?,
        description: r.get(2)?,
        status: r.get(3)?,
        owner: r.get(4)?,
        author: r.get(5)?,
        tags: serde_json::from_value(json(6)?).unwrap_or_default(),
        engine_version: r.get(7)?,
        engine_version_min: r.get(8)?,
        current_version_id: r.get(9)?,
        metadata: json(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
        file_bytes: r.get(13)?,
        health: r.get(14)?,
    })
}

pub fn upsert(conn: &Connection, p: &Project) -> AppResult<()> {
    let sql = format!(
        "INSERT INTO projects({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
         ON CONFLICT(id) DO UPDATE SET name = excluded.name, description = excluded.description,
           status = excluded.status, owner = excluded.owner, author = excluded.author, tags = excluded.tags,
           engine_version = excluded.engine_version, engine_version_min = excluded.engine_version_min,
           current_version_id = excluded.current_version_id, metadata = excluded.metadata,
           created_at = excluded.created_at, updated_at = excluded.updated_at,
           file_bytes = excluded.file_bytes, health = excluded.health"
    );
    conn.prepare_cached(&sql)?.execute(params![
        p.id,
        p.name,
        p.description,
        p.status,
        p.owner,
        p.author,
        serde_json::to_string(&p.tags).unwrap_or_else(|_| "[]".into()),
        p.engine_version,
        p.engine_version_min,
        p.current_version_id,
        p.metadata.to_string(),
        p.created_at,
        p.updated_at,
        p.file_bytes,
        p.health,
    ])?;
    Ok(())
}

pub fn get(conn: &Connection, id: &str) -> AppResult<Option<Project>> {
    let sql = format!("SELECT {COLS} FROM projects WHERE id = ?1");
    Ok(conn.query_row(&sql, [id], project_of).optional()?)
}

pub fn delete(conn: &Connection, id: &str) -> AppResult<()> {
    conn.execute("DELETE FROM projects WHERE id = ?1", [id])?;
    Ok(())
}

/// Resolved list filters (all optional) for [`list`].
#[derive(Debug, Default)]
pub struct ListQuery<'a> {
    pub status: Option<&'a str>,
    pub author: Option<&'a str>,
    pub tag: Option<&'a str>,
    pub q: Option<&'a str>,
    pub after: Option<UpdatedKey>,
    /// Rows to fetch: the page size plus one, to know whether more exist.
    pub fetch: usize,
}

/// Newest first by `(updated_at, id)`; each filter is an index range or a cheap predicate.
pub fn list(conn: &Connection, q: &ListQuery) -> AppResult<Vec<Project>> {
    let sql = format!(
        "SELECT {COLS} FROM projects
         WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR author = ?2)
           AND (?3 IS NULL OR EXISTS (SELECT 1 FROM json_each(projects.tags) WHERE value = ?3))
           AND (?4 IS NULL OR name LIKE ?4 ESCAPE '\\' OR description LIKE ?4 ESCAPE '\\')
           AND (?5 IS NULL OR updated_at < ?5 OR (updated_at = ?5 AND id < ?6))
         ORDER BY updated_at DESC, id DESC LIMIT ?7"
    );
    let like = q.q.map(|s| format!("%{}%", s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
    let (au, ai) = q.after.as_ref().map(|k| (Some(k.u.as_str()), Some(k.i.as_str()))).unwrap_or((None, None));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![q.status, q.author, q.tag, like, au, ai, q.fetch as i64], project_of)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Replaces every project row with `rows` (reindex). Runs in the caller's transaction.
pub fn replace_all(conn: &Connection, rows: &[Project]) -> AppResult<()> {
    conn.execute("DELETE FROM projects", [])?;
    for p in rows {
        upsert(conn, p)?;
    }
    Ok(())
}

/// Ids of every registered project (for reindex reports).
pub fn ids(conn: &Connection) -> AppResult<Vec<String>> {
    let mut stmt = conn.prepare("SELECT id FROM projects ORDER BY id")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
