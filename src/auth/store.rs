//! Token SQL.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::{hash, new_secret, same_hash, Caller};
use crate::error::{AppError, AppResult};

/// A token as listed: never its secret or hash.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TokenInfo {
    pub id: String,
    pub user_id: String,
    pub role: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

fn info_of(r: &Row) -> rusqlite::Result<TokenInfo> {
    Ok(TokenInfo {
        id: r.get(0)?,
        user_id: r.get(1)?,
        role: r.get(2)?,
        created_at: r.get(3)?,
        last_used_at: r.get(4)?,
        revoked_at: r.get(5)?,
    })
}

/// Creates a token; returns its info and the secret, which is shown once and never stored.
pub fn create(conn: &Connection, user_id: &str, admin: bool) -> AppResult<(TokenInfo, String)> {
    if user_id.trim().is_empty() || user_id.len() > 200 {
        return Err(AppError::validation("user_id", "user_id must be 1..200 characters"));
    }
    let secret = new_secret();
    let info = TokenInfo {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: user_id.to_string(),
        role: if admin { "admin" } else { "user" }.into(),
        created_at: crate::clock::now(),
        last_used_at: None,
        revoked_at: None,
    };
    conn.execute(
        "INSERT INTO tokens(id, token_hash, user_id, role, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![info.id, hash(&secret), info.user_id, info.role, info.created_at],
    )?;
    Ok((info, secret))
}

/// The caller a secret stands for, when it is a live token. Marks it used (at most once a
/// minute, so authentication does not write on every request).
pub fn authenticate(conn: &Connection, secret: &str) -> AppResult<Option<Caller>> {
    let h = hash(secret);
    let row: Option<(String, String, String, String, Option<String>)> = conn
        .prepare_cached("SELECT id, token_hash, user_id, role, last_used_at FROM tokens WHERE token_hash = ?1 AND revoked_at IS NULL")?
        .query_row([&h], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .optional()?;
    let Some((id, _, user_id, role, last)) = row.filter(|r| same_hash(&r.1, &h)) else { return Ok(None) };
    let now = crate::clock::now();
    if last.as_deref().is_none_or(|l| l[..16] != now[..16]) {
        conn.prepare_cached("UPDATE tokens SET last_used_at = ?2 WHERE id = ?1")?.execute(params![id, now])?;
    }
    Ok(Some(Caller { token_id: id, user_id, admin: role == "admin" }))
}

pub fn list(conn: &Connection, after: Option<&str>, fetch: usize) -> AppResult<Vec<TokenInfo>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, user_id, role, created_at, last_used_at, revoked_at FROM tokens WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after.unwrap_or(""), fetch as i64], info_of)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Revokes a token (kept for the record). Unknown ids are 404.
pub fn revoke(conn: &Connection, id: &str) -> AppResult<()> {
    let n = conn.execute(
        "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![id, crate::clock::now()],
    )?;
    if n == 0 {
        let exists: bool =
            conn.query_row("SELECT count(*) FROM tokens WHERE id = ?1", [id], |r| r.get::<_, i64>(0))? > 0;
        if !exists {
            return Err(AppError::not_found("token_not_found", "token", "no token with this id"));
        }
    }
    Ok(())
}
