//! The `meta(key, value)` table every shard carries. Base rows (`kind`, `id`,
//! `schema_version`, `created_at`, `planbase_version`) are plain text; a domain's own keys
//! hold JSON values, so optional fields round-trip as `null`.

use rusqlite::{params, Connection};
use serde_json::{Map, Value};

use crate::error::{AppError, AppResult};

/// Writes `keys` of the object `value`, each as JSON text.
pub fn write_json(conn: &Connection, keys: &[&str], value: &Value) -> AppResult<()> {
    let mut stmt = conn.prepare_cached("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)")?;
    for key in keys {
        stmt.execute(params![key, value[*key].to_string()])?;
    }
    Ok(())
}

/// The meta rows as one object: the base rows `id`, `created_at` and `kind` as strings, and
/// `keys` parsed from JSON. Refuses a shard whose `kind` is not `kind`.
pub fn read_json(conn: &Connection, keys: &[&str], kind: &str) -> AppResult<Map<String, Value>> {
    let mut stmt = conn.prepare_cached("SELECT key, value FROM meta")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut obj = Map::new();
    for row in rows {
        let (k, v) = row?;
        let value = match k.as_str() {
            "id" | "created_at" | "kind" => Value::String(v),
            _ if keys.contains(&k.as_str()) => serde_json::from_str(&v).unwrap_or(Value::Null),
            _ => continue,
        };
        obj.insert(k, value);
    }
    if obj.get("kind").and_then(Value::as_str) != Some(kind) {
        return Err(AppError::internal(format!("shard meta does not describe a {kind}")));
    }
    Ok(obj)
}
