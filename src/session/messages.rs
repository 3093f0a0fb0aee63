//! Messages: validation of AI SDK UIMessages, append with merge (DESIGN.md §5), idempotent
//! retries, and history pages.
//!
//! An append is one closure on the session shard's writer (one transaction, group-committed
//! with its neighbours); the registry summary is recorded in memory after the commit.

use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};
use tracing::Instrument;
use uuid::Uuid;

use super::model::{HistoryQuery, Message, NewMessage, ROLES};
use super::service::{shard_err, S};
use super::store::{self, MSG_COLS};
use super::summary::Summaries;
use crate::config::LimitsConfig;
use crate::error::{AppError, AppResult};
use crate::search::{Entry, SearchFeed};
use crate::storage::Storage;

/// How long an Idempotency-Key answers retries.
const IDEMPOTENCY_TTL_SECS: i64 = 24 * 3600;

/// Checks a UIMessage before anything is written. `size` is its JSON size in bytes.
/// Deepest nesting of arrays and objects a message may hold. Stored messages are parsed
/// again inside wrappers (Idempotency-Key replays, seed 002 pages) that add levels, and
/// serde_json stops at 128: well below that, every stored message can always be served.
pub const MAX_DEPTH: usize = 64;

/// Nesting depth of a JSON value (a scalar is 0), without recursion.
fn depth(v: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, d)) = stack.pop() {
        match v {
            Value::Array(a) => stack.extend(a.iter().map(|c| (c, d + 1))),
            Value::Object(o) => stack.extend(o.values().map(|c| (c, d + 1))),
            _ => continue,
        }
        deepest = deepest.max(d + 1);
    }
    deepest
}

pub fn validate(body: Value, size: usize, limits: &LimitsConfig) -> AppResult<NewMessage> {
    if size as u64 > limits.max_message_bytes.0 {
        return Err(AppError::from_status(413)
            .with_details(json!({"limit_bytes": limits.max_message_bytes.0, "field": "message"})));
    }
    let Value::Object(mut obj) = body else {
        return Err(AppError::validation("body", "a message must be a JSON object"));
    };
    let role = match obj.get("role") {
        Some(Value::String(r)) if ROLES.contains(&r.as_str()) => r.clone(),
        _ => return Err(AppError::validation("role", format!("role must be one of {ROLES:?}"))),
    };
    let parts = match obj.remove("parts") {
        Some(Value::Array(p)) => p,
        _ => return Err(AppError::validation("parts", "parts must be an array")),
    };
    check_parts(&parts, limits.max_parts)?;
    let parts_depth = 1 + parts.iter().map(depth).max().unwrap_or(0);
    let meta_depth = obj.get("metadata").map_or(0, depth);
    if let Some(field) = [("parts", parts_depth), ("metadata", meta_depth)].iter().find(|(_, d)| *d > MAX_DEPTH) {
        return Err(AppError::validation(field.0, format!("{} nests deeper than {MAX_DEPTH} levels", field.0)));
    }
    let metadata = match obj.remove("metadata") {
        None | Some(Value::Null) => None,
        Some(m @ Value::Object(_)) => Some(m),
        Some(_) => return Err(AppError::validation("metadata", "metadata must be an object")),
    };
    let id = match obj.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err(AppError::validation("id", "id must be a string")),
    };
    Ok(NewMessage { id: message_id(id), role, parts, metadata })
}

fn check_parts(parts: &[Value], max: usize) -> AppResult<()> {
    if parts.len() > max {
        return Err(AppError::validation("parts", format!("at most {max} parts")));
    }
    for (i, p) in parts.iter().enumerate() {
        let field = format!("parts[{i}].type");
        match p {
            Value::Object(o) if o.get("type").is_some_and(Value::is_string) => {}
            Value::Object(_) => return Err(AppError::validation(&field, "every part needs a string `type`")),
            _ => return Err(AppError::validation(&format!("parts[{i}]"), "every part must be an object")),
        }
    }
    Ok(())
}

/// A client id is kept when it is 1..=128 characters of `[A-Za-z0-9_-]`; else a UUIDv7.
pub fn message_id(client: Option<&str>) -> String {
    match client {
        Some(s)
            if !s.is_empty()
                && s.len() <= 128
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            s.to_string()
        }
        _ => Uuid::now_v7().to_string(),
    }
}

fn part_type(p: &Value) -> &str {
    p.get("type").and_then(Value::as_str).unwrap_or("")
}

fn is_tool(p: &Value) -> bool {
    let t = part_type(p);
    t.starts_with("tool-") || t == "dynamic-tool"
}

fn tool_call_id(p: &Value) -> Option<&str> {
    p.get("toolCallId").and_then(Value::as_str)
}

/// The plain text of the text and reasoning parts, for search.
pub fn plain_text(parts: &[Value]) -> String {
    let texts = parts
        .iter()
        .filter(|p| matches!(part_type(p), "text" | "reasoning"))
        .filter_map(|p| p.get("text").and_then(Value::as_str));
    texts.collect::<Vec<_>>().join("\n")
}

/// Seed 002's merge: tool parts with a known toolCallId update in place (new fields win,
/// missing kept); the other parts are appended unless they already form the stored tail.
pub fn merge_parts(stored: &mut Vec<Value>, incoming: &[Value]) {
    let mut others = Vec::new();
    for part in incoming {
        let target = tool_call_id(part)
            .filter(|_| is_tool(part))
            .and_then(|id| stored.iter_mut().find(|s| is_tool(s) && tool_call_id(s) == Some(id)));
        match (target, part) {
            (Some(Value::Object(old)), Value::Object(new)) => {
                new.iter().for_each(|(k, v)| {
                    old.insert(k.clone(), v.clone());
                });
            }
            _ if is_tool(part) => stored.push(part.clone()),
            _ => others.push(part.clone()),
        }
    }
    if !others.is_empty() && !stored.ends_with(&others) {
        stored.extend(others);
    }
}

/// What an append answered: the stored message and whether it was created.
#[derive(Debug, Clone)]
pub struct Appended {
    pub message: Message,
    pub created: bool,
    pub title: Option<String>,
}

/// The answer to an append: its status (201 created, 200 merged or replayed) and the stored
/// message.
#[derive(Debug, Clone)]
pub struct AppendOutcome {
    pub status: u16,
    /// The stored message as JSON text (serialized once, on the writer thread).
    pub body: String,
}

/// What a committed append leaves to do off the shard: the summary delta (seq, created_at,
/// a new auto title) and, when the text changed, the cross-session search entry.
struct Followups {
    summary: Option<(i64, String, Option<String>)>,
    search: Option<Entry>,
}

/// Appends (or merges) one message in one shard transaction; records the summary delta.
pub async fn append(
    st: &Storage,
    sums: &Summaries,
    feed: &Arc<SearchFeed>,
    sid: Uuid,
    msg: NewMessage,
    idem_key: Option<String>,
) -> AppResult<AppendOutcome> {
    // Spawned, so a client that disconnects mid-append cannot cancel the summary record or
    // the search entry of a write that commits anyway.
    let (shards, sums, feed) = (st.shards.clone(), sums.clone(), feed.clone());
    let task = tokio::spawn(
        async move {
            let (out, then) = shards.write(S, sid, move |c| append_tx(c, sid, &msg, idem_key.as_deref())).await?;
            if let Some((seq, at, title)) = then.summary {
                sums.record(sid, seq, &at, title);
            }
            if let Some(entry) = then.search {
                feed.enqueue(entry);
            }
            Ok::<_, AppError>(out)
        }
        .instrument(tracing::Span::current()),
    );
    task.await.map_err(AppError::internal)?.map_err(shard_err)
}

fn append_tx(c: &Connection, sid: Uuid, msg: &NewMessage, key: Option<&str>) -> AppResult<(AppendOutcome, Followups)> {
    let now = crate::clock::now();
    if let Some(k) = key {
        if let Some((status, body)) = replay(c, k, &now)? {
            return Ok((AppendOutcome { status, body }, Followups { summary: None, search: None }));
        }
    }
    let (a, indexed_for) = upsert_message(c, msg, &now)?;
    let status = if a.created { 201 } else { 200 };
    let body = serde_json::to_string(&a.message).map_err(AppError::internal)?;
    if let Some(k) = key {
        remember(c, k, a.message.seq, status, &body, &now)?;
    }
    let search = indexed_for.map(|owner| Entry::new(sid, &owner, a.message.seq, &a.message.content));
    let summary = Some((a.message.seq, a.message.created_at.clone(), a.title));
    Ok((AppendOutcome { status, body }, Followups { summary, search }))
}

/// The stored message and, when its searchable text changed, the session's owner (for the
/// search entry).
fn upsert_message(c: &Connection, msg: &NewMessage, now: &str) -> AppResult<(Appended, Option<store::Owner>)> {
    let mut m = Message {
        id: msg.id.clone(),
        seq: 0,
        role: msg.role.clone(),
        parts: msg.parts.clone(),
        metadata: msg.metadata.clone(),
        attachments: None,
        content: plain_text(&msg.parts),
        created_at: now.to_string(),
        updated_at: now.to_string(),
    };
    if let Some(seq) = store::insert_message_if_new(c, &m)? {
        m.seq = seq;
        if m.content.is_empty() {
            return Ok((Appended { message: m, created: true, title: None }, None));
        }
        // One meta read serves both the auto title and the search entry.
        let meta = store::probe_meta(c)?;
        let titled = m.role == "user" && !m.content.trim().is_empty() && meta.takes_auto_title;
        let title = if titled { Some(store::put_auto_title(c, &m.content)?) } else { None };
        return Ok((Appended { message: m, created: true, title }, Some(meta.owner)));
    }
    let mut m = store::get_message(c, &msg.id)?.ok_or_else(|| AppError::internal("a conflicting id vanished"))?;
    let before = (m.parts.clone(), m.metadata.clone(), m.content.clone());
    merge_parts(&mut m.parts, &msg.parts);
    merge_metadata(&mut m.metadata, msg.metadata.as_ref());
    if (&m.parts, &m.metadata) != (&before.0, &before.1) {
        m.content = plain_text(&m.parts);
        m.updated_at = now.to_string();
        store::update_message(c, &m)?;
    }
    let owner = if m.content != before.2 { Some(store::owner(c)?) } else { None };
    Ok((Appended { message: m, created: false, title: None }, owner))
}

/// New metadata fields win; missing ones are kept.
fn merge_metadata(stored: &mut Option<Value>, incoming: Option<&Value>) {
    match (stored.as_mut(), incoming) {
        (Some(Value::Object(old)), Some(Value::Object(new))) => {
            new.iter().for_each(|(k, v)| {
                old.insert(k.clone(), v.clone());
            });
        }
        (None, Some(new)) => *stored = Some(new.clone()),
        _ => {}
    }
}

fn cutoff(now: &str) -> String {
    let t = time::OffsetDateTime::parse(now, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    crate::clock::format(t - time::Duration::seconds(IDEMPOTENCY_TTL_SECS))
}

/// The stored answer to a key used within the last 24 h.
fn replay(c: &Connection, key: &str, now: &str) -> AppResult<Option<(u16, String)>> {
    let sql = "SELECT response FROM idempotency WHERE key = ?1 AND created_at > ?2";
    let stored: Option<String> =
        c.prepare_cached(sql)?.query_row(params![key, cutoff(now)], |r| r.get(0)).optional()?;
    let Some(text) = stored else { return Ok(None) };
    let v: Value = serde_json::from_str(&text).map_err(AppError::internal)?;
    let status = v["status"].as_u64().unwrap_or(201) as u16;
    Ok(Some((status, v["body"].to_string())))
}

fn remember(c: &Connection, key: &str, seq: i64, status: u16, body: &str, now: &str) -> AppResult<()> {
    // Expired keys are purged now and then, not on every append: the table has no index
    // on created_at (each index costs a page per session file).
    if seq % 256 == 0 {
        c.prepare_cached("DELETE FROM idempotency WHERE created_at <= ?1")?.execute([cutoff(now)])?;
    }
    let response = format!("{{\"status\":{status},\"body\":{body}}}");
    c.prepare_cached(
        "INSERT OR REPLACE INTO idempotency(key, message_seq, response, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![key, seq, response, now])?;
    Ok(())
}

/// A history page, ascending by seq, with the integer cursor for the next one: the JSON
/// response body, built on the blocking pool.
pub async fn history(st: &Storage, sid: Uuid, q: HistoryQuery) -> AppResult<Vec<u8>> {
    if q.before.is_some() && q.after.is_some() {
        return Err(AppError::validation("before", "give before or after, not both"));
    }
    let limit = match q.limit {
        None => 50,
        Some(n) if (1..=200).contains(&n) => n,
        Some(n) => return Err(AppError::validation("limit", format!("limit must be between 1 and 200, got {n}"))),
    };
    st.shards.read(S, sid, move |c| page_json(c, q.before, q.after, limit)).await.map_err(shard_err)
}

/// Inserts `n` plain text messages in the caller's transaction (tests, benchmarks):
/// the same statements as an append, without the HTTP and merge work.
pub fn bulk_insert(c: &Connection, n: usize, text: impl Fn(usize) -> String) -> AppResult<()> {
    let now = crate::clock::now();
    for i in 0..n {
        let body = text(i);
        let m = Message {
            id: Uuid::now_v7().to_string(),
            seq: 0,
            role: if i % 2 == 0 { "user" } else { "assistant" }.into(),
            parts: vec![json!({"type": "text", "text": body})],
            metadata: None,
            attachments: None,
            content: body,
            created_at: now.clone(),
            updated_at: now.clone(),
        };
        store::insert_message(c, &m)?;
    }
    Ok(())
}

/// A history page as the finished response body, `{"items": [...], "next_cursor": …}`.
/// Range scans on the INTEGER PRIMARY KEY with LIMIT: constant time at any depth. Written
/// straight from the row bytes: `parts`, `metadata` and `attachments` are stored as valid
/// JSON (CHECK json_valid), so the hottest read never builds a `Value` tree per message.
pub fn page_json(c: &Connection, before: Option<i64>, after: Option<i64>, limit: i64) -> AppResult<Vec<u8>> {
    let (sql, bound, asc) = match after {
        Some(a) => (format!("SELECT {MSG_COLS} FROM messages WHERE seq > ?1 ORDER BY seq ASC LIMIT ?2"), a, true),
        None => (
            format!("SELECT {MSG_COLS} FROM messages WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2"),
            before.unwrap_or(i64::MAX),
            false,
        ),
    };
    let mut stmt = c.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![bound, limit + 1])?;
    let mut items: Vec<(i64, Vec<u8>)> = Vec::with_capacity(limit as usize + 1);
    while let Some(r) = rows.next()? {
        items.push(row_json(r)?);
    }
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    if !asc {
        items.reverse();
    }
    let next = if !more {
        None
    } else if asc {
        items.last()
    } else {
        items.first()
    }
    .map(|(seq, _)| *seq);
    let mut out = Vec::with_capacity(items.iter().map(|(_, b)| b.len() + 1).sum::<usize>() + 40);
    out.extend_from_slice(b"{\"items\":[");
    for (i, (_, b)) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b);
    }
    out.extend_from_slice(b"],\"next_cursor\":");
    out.extend_from_slice(next.map(|n| n.to_string()).unwrap_or_else(|| "null".into()).as_bytes());
    out.push(b'}');
    Ok(out)
}

/// One message row (columns [`MSG_COLS`]) as the JSON object [`Message`] serializes to.
fn row_json(r: &rusqlite::Row) -> AppResult<(i64, Vec<u8>)> {
    let seq: i64 = r.get(0)?;
    let text = |i: usize| -> AppResult<&str> { r.get_ref(i)?.as_str().map_err(AppError::internal) };
    let raw = |i: usize| -> AppResult<&str> {
        Ok(r.get_ref(i)?.as_str_or_null().map_err(AppError::internal)?.unwrap_or("null"))
    };
    let mut b = Vec::with_capacity(256);
    let str_field = |b: &mut Vec<u8>, key: &str, v: &str| {
        b.extend_from_slice(key.as_bytes());
        serde_json::to_writer(&mut *b, v).expect("writing to a Vec cannot fail");
    };
    str_field(&mut b, "{\"id\":", text(1)?);
    b.extend_from_slice(format!(",\"seq\":{seq}").as_bytes());
    str_field(&mut b, ",\"role\":", text(2)?);
    for (key, i) in [(",\"parts\":", 4), (",\"metadata\":", 6), (",\"attachments\":", 5)] {
        b.extend_from_slice(key.as_bytes());
        b.extend_from_slice(raw(i)?.as_bytes());
    }
    str_field(&mut b, ",\"content\":", text(3)?);
    str_field(&mut b, ",\"created_at\":", text(7)?);
    str_field(&mut b, ",\"updated_at\":", text(8)?);
    b.push(b'}');
    Ok((seq, b))
}
