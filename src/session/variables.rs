//! `GET /sessions/{id}/variables`: the current store per scope, resolved topic → phase →
//! session → global, and one variable's history.

use rusqlite::params;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::service::{shard_err, S};
use super::store;
use crate::error::AppResult;
use crate::paging;
use crate::storage::Storage;

/// Lookup order of interpolation, most specific first.
const SCOPES: [&str; 4] = ["topic", "phase", "session", "global"];

/// `{scopes: {global, session, phase, topic}, resolved: {name: value}}`.
pub fn resolve(store_json: &Value) -> Value {
    let mut resolved = Map::new();
    for scope in SCOPES.iter().rev() {
        if let Some(Value::Object(vars)) = store_json.get(*scope) {
            vars.iter().for_each(|(k, v)| {
                resolved.insert(k.clone(), v.clone());
            });
        }
    }
    let scopes: Map<String, Value> =
        SCOPES.iter().map(|s| (s.to_string(), store_json.get(*s).cloned().unwrap_or_else(|| json!({})))).collect();
    json!({"scopes": scopes, "resolved": resolved})
}

pub async fn current(st: &Storage, sid: Uuid) -> AppResult<Value> {
    let state = st.shards.read(S, sid, store::read_state).await.map_err(shard_err)?;
    Ok(resolve(&state.variables))
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HistoryRow {
    pub id: i64,
    pub message_seq: Option<i64>,
    pub name: String,
    pub value: Value,
    pub scope: String,
    pub value_type: Option<String>,
    pub source: Option<String>,
    pub created_at: String,
}

#[derive(Serialize, Deserialize)]
struct IdKey {
    i: i64,
}

/// One variable's rows, oldest first, paged by id (index `variable_history(name, id)`).
pub async fn history(
    st: &Storage,
    sid: Uuid,
    name: String,
    cursor: Option<String>,
    limit: usize,
) -> AppResult<(Vec<HistoryRow>, Option<String>)> {
    let after = cursor.as_deref().map(paging::decode::<IdKey>).transpose()?.map(|k| k.i).unwrap_or(0);
    let rows = st
        .shards
        .read(S, sid, move |c| {
            let sql = "SELECT id, message_seq, name, value, scope, value_type, source, created_at
                       FROM variable_history WHERE name = ?1 AND id > ?2 ORDER BY id LIMIT ?3";
            let mut stmt = c.prepare_cached(sql)?;
            let rows = stmt.query_map(params![name, after, limit as i64 + 1], |r| {
                Ok(HistoryRow {
                    id: r.get(0)?,
                    message_seq: r.get(1)?,
                    name: r.get(2)?,
                    value: serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or(Value::Null),
                    scope: r.get(4)?,
                    value_type: r.get(5)?,
                    source: r.get(6)?,
                    created_at: r.get(7)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
        .map_err(shard_err)?;
    Ok(paging::page(rows, limit, |r| paging::encode(&IdKey { i: r.id })))
}
