//! Session shard SQL: meta, state and message rows. Every function takes a connection the
//! caller got from the shard manager (a reader, or the writer inside its transaction), or a
//! short-lived connection of its own (reindex, the recovery scan).

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::Value;

use super::model::{Message, SessionMeta, SessionState};
use crate::error::{AppError, AppResult};

/// Domain keys of `meta`, each holding a JSON value; `id`, `kind` and `created_at` are the
/// plain-text base rows the template wrote.
const META_KEYS: [&str; 10] = [
    "name",
    "name_source",
    "user_id",
    "project_id",
    "version_id",
    "script_file_id",
    "status",
    "current_task_id",
    "metadata",
    "updated_at",
];

pub fn write_meta(conn: &Connection, m: &SessionMeta) -> AppResult<()> {
    crate::storage::meta::write_json(conn, &META_KEYS, &serde_json::to_value(m).map_err(AppError::internal)?)
}

/// Stores a JSON value under an extra meta key (`version_snapshot`).
pub fn put_meta_json(conn: &Connection, key: &str, value: &Value) -> AppResult<()> {
    conn.prepare_cached("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)")?
        .execute(params![key, value.to_string()])?;
    Ok(())
}

pub fn read_meta(conn: &Connection) -> AppResult<SessionMeta> {
    let obj = crate::storage::meta::read_json(conn, &META_KEYS, "session")?;
    serde_json::from_value(Value::Object(obj)).map_err(|e| AppError::internal(format!("session meta: {e}")))
}

/// A session's `(user_id, project_id)`.
pub type Owner = (Option<String>, Option<String>);

/// The session's owner and whether it still takes an auto title, read from its meta in one
/// statement (four key probes): cheaper than [`read_meta`] on the append and chat paths.
pub struct MetaProbe {
    pub owner: Owner,
    pub takes_auto_title: bool,
}

pub fn probe_meta(conn: &Connection) -> AppResult<MetaProbe> {
    let sql =
        "SELECT (SELECT value FROM meta WHERE key = 'user_id'), (SELECT value FROM meta WHERE key = 'project_id'),
                      (SELECT value FROM meta WHERE key = 'name'), (SELECT value FROM meta WHERE key = 'name_source')";
    type Row = (Option<String>, Option<String>, Option<String>, Option<String>);
    let (u, p, name, source): Row =
        conn.prepare_cached(sql)?.query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    Ok(MetaProbe { owner: (json_text(u), json_text(p)), takes_auto_title: takes_auto_title(name, source) })
}

pub fn owner(conn: &Connection) -> AppResult<Owner> {
    Ok(probe_meta(conn)?.owner)
}

/// A meta value (JSON text) as a string, `None` for null or anything else.
fn json_text(v: Option<String>) -> Option<String> {
    v.and_then(|s| serde_json::from_str::<Option<String>>(&s).ok().flatten())
}

/// Unnamed, and not named by the user (a user's name, even a cleared one, is kept).
fn takes_auto_title(name: Option<String>, source: Option<String>) -> bool {
    name.as_deref().is_none_or(|n| n == "null") && source.as_deref() != Some("\"user\"")
}

/// The auto title, set once from the first user text: returns it when this call set it.
pub fn set_auto_title(conn: &Connection, text: &str) -> AppResult<Option<String>> {
    if !probe_meta(conn)?.takes_auto_title {
        return Ok(None);
    }
    put_auto_title(conn, text).map(Some)
}

/// Names the session after `text` (its first line); returns the title.
pub fn put_auto_title(conn: &Connection, text: &str) -> AppResult<String> {
    let title = title_of(text);
    put_meta_json(conn, "name", &Value::String(title.clone()))?;
    Ok(title)
}

/// First line of the text, trimmed to 80 characters.
fn title_of(text: &str) -> String {
    let line = text.trim().lines().next().unwrap_or("").trim();
    let mut t: String = line.chars().take(80).collect();
    if line.chars().count() > 80 {
        t.push('…');
    }
    t
}

pub fn read_state(conn: &Connection) -> AppResult<SessionState> {
    let sql = "SELECT status, execution_status, position, variable_store FROM state WHERE id = 1";
    let json = |s: String| serde_json::from_str(&s).unwrap_or(Value::Null);
    conn.prepare_cached(sql)?
        .query_row([], |r| {
            Ok(SessionState {
                status: r.get(0)?,
                execution_status: r.get(1)?,
                position: json(r.get(2)?),
                variables: json(r.get(3)?),
            })
        })
        .map_err(Into::into)
}

pub fn set_state_status(conn: &Connection, status: &str) -> AppResult<()> {
    conn.prepare_cached("UPDATE state SET status = ?1, updated_at = ?2 WHERE id = 1")?
        .execute(params![status, crate::clock::now()])?;
    Ok(())
}

pub fn set_variables(conn: &Connection, store: &Value) -> AppResult<()> {
    conn.prepare_cached("UPDATE state SET variable_store = ?1, updated_at = ?2 WHERE id = 1")?
        .execute(params![store.to_string(), crate::clock::now()])?;
    Ok(())
}

pub const MSG_COLS: &str = "seq, id, role, content, parts, attachments, metadata, created_at, updated_at";

pub fn message_of(r: &Row) -> rusqlite::Result<Message> {
    let opt = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
    Ok(Message {
        seq: r.get(0)?,
        id: r.get(1)?,
        role: r.get(2)?,
        content: r.get(3)?,
        parts: serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or_default(),
        attachments: opt(r.get(5)?),
        metadata: opt(r.get(6)?),
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
    })
}

pub fn get_message(conn: &Connection, id: &str) -> AppResult<Option<Message>> {
    let sql = format!("SELECT {MSG_COLS} FROM messages WHERE id = ?1");
    Ok(conn.prepare_cached(&sql)?.query_row([id], message_of).optional()?)
}

/// Inserts a new message; returns its seq.
pub fn insert_message(conn: &Connection, m: &Message) -> AppResult<i64> {
    let sql = "INSERT INTO messages(id, role, content, parts, metadata, created_at, updated_at)
               VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)";
    insert_with(conn, sql, m)?;
    Ok(conn.last_insert_rowid())
}

/// Inserts `m` unless its id is taken; returns its seq, or None when a message with that
/// id exists (the caller merges). One probe of the id index instead of a lookup first.
pub fn insert_message_if_new(conn: &Connection, m: &Message) -> AppResult<Option<i64>> {
    let sql = "INSERT INTO messages(id, role, content, parts, metadata, created_at, updated_at)
               VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT(id) DO NOTHING";
    Ok((insert_with(conn, sql, m)? == 1).then(|| conn.last_insert_rowid()))
}

fn insert_with(conn: &Connection, sql: &str, m: &Message) -> AppResult<usize> {
    let parts = serde_json::to_string(&m.parts).map_err(AppError::internal)?;
    let meta = m.metadata.as_ref().map(Value::to_string);
    Ok(conn.prepare_cached(sql)?.execute(params![m.id, m.role, m.content, parts, meta, m.created_at])?)
}

/// Rewrites a merged message's parts, content and metadata (seq and created_at kept).
pub fn update_message(conn: &Connection, m: &Message) -> AppResult<()> {
    let sql = "UPDATE messages SET content = ?2, parts = ?3, metadata = ?4, updated_at = ?5 WHERE seq = ?1";
    let parts = serde_json::to_string(&m.parts).map_err(AppError::internal)?;
    let meta = m.metadata.as_ref().map(Value::to_string);
    conn.prepare_cached(sql)?.execute(params![m.seq, m.content, parts, meta, m.updated_at])?;
    Ok(())
}

/// Whether messages newer than the full-text watermark wait to be indexed (schema 0004).
pub fn fts_behind(conn: &Connection) -> AppResult<bool> {
    let sql = "SELECT (SELECT fts_seq FROM state WHERE id = 1) < (SELECT coalesce(max(seq), 0) FROM messages)";
    Ok(conn.prepare_cached(sql)?.query_row([], |r| r.get(0))?)
}

/// Indexes every message above the watermark in one FTS5 segment and moves the watermark
/// (the statements of the `messages_fts_ai` trigger's batch); returns how many it indexed.
/// Runs in the caller's write transaction.
pub fn fts_catch_up(conn: &Connection) -> AppResult<usize> {
    let n = conn
        .prepare_cached(
            "INSERT INTO messages_fts (rowid, content)
             SELECT seq, content FROM messages WHERE seq > (SELECT fts_seq FROM state WHERE id = 1)",
        )?
        .execute([])?;
    conn.prepare_cached(
        "UPDATE state SET fts_seq = max(fts_seq, (SELECT coalesce(max(seq), 0) FROM messages)) WHERE id = 1",
    )?
    .execute([])?;
    Ok(n)
}

/// What the registry summary needs from a shard: count, max(seq) and the newest created_at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub count: i64,
    pub max_seq: i64,
}

pub fn max_seq(conn: &Connection) -> AppResult<i64> {
    Ok(conn.prepare_cached("SELECT coalesce(max(seq), 0) FROM messages")?.query_row([], |r| r.get(0))?)
}

/// Full recount (reconcile, reindex): count(*) plus the newest message's created_at.
pub fn counts(conn: &Connection) -> AppResult<(Counts, Option<String>)> {
    let (count, max_seq) = conn
        .prepare_cached("SELECT count(*), coalesce(max(seq), 0) FROM messages")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let last = conn
        .prepare_cached("SELECT created_at FROM messages WHERE seq = ?1")?
        .query_row([max_seq], |r| r.get(0))
        .optional()?;
    Ok((Counts { count, max_seq }, last))
}

#[cfg(test)]
mod meta_tests {
    use super::*;

    #[test]
    fn probe_meta_reads_owner_and_naming_in_one_go() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;").unwrap();
        put_meta_json(&c, "user_id", &Value::String("u1".into())).unwrap();
        put_meta_json(&c, "project_id", &Value::Null).unwrap();
        let m = probe_meta(&c).unwrap();
        assert_eq!((m.owner, m.takes_auto_title), ((Some("u1".into()), None), true));
        assert_eq!(put_auto_title(&c, "  hello there\nsecond line").unwrap(), "hello there");
        assert!(!probe_meta(&c).unwrap().takes_auto_title, "named now");
        put_meta_json(&c, "name", &Value::Null).unwrap();
        put_meta_json(&c, "name_source", &Value::String("user".into())).unwrap();
        assert!(!probe_meta(&c).unwrap().takes_auto_title, "a name the user cleared stays cleared");
        assert_eq!(set_auto_title(&c, "x").unwrap(), None);
    }
}

#[cfg(test)]
mod fts_tests {
    //! The batched full-text index (schema 0004) against its invariant: after a catch-up,
    //! the index holds exactly the current text of every message, whatever mix of inserts,
    //! merges and deletes (including a deleted newest row whose seq is then reused) came first.
    use proptest::prelude::*;
    use rusqlite::Connection;

    use crate::config::StorageConfig;
    use crate::storage::connection::{open, Mode, Pragmas};
    use crate::storage::migrate::FileKind;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(usize),
        Update(usize),
        Delete(usize),
        DeleteNewest,
        CatchUp,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (1usize..300).prop_map(Op::Insert),
            2 => any::<usize>().prop_map(Op::Update),
            1 => any::<usize>().prop_map(Op::Delete),
            1 => Just(Op::DeleteNewest),
            1 => Just(Op::CatchUp),
        ]
    }

    fn apply(c: &Connection, op: &Op, n: &mut usize) {
        let seqs: Vec<i64> = c
            .prepare("SELECT seq FROM messages")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let pick = |i: usize| seqs.get(i % seqs.len().max(1)).copied();
        match op {
            Op::Insert(k) => (0..*k).for_each(|_| {
                *n += 1;
                let sql =
                    "INSERT INTO messages(id, role, content, created_at, updated_at) VALUES (?1, 'user', ?2, 't', 't')";
                c.execute(sql, (format!("m{n}"), format!("word{n} common"))).unwrap();
            }),
            Op::Update(i) => {
                *n += 1;
                let sql = "UPDATE messages SET content = ?1 WHERE seq = ?2";
                c.execute(sql, (format!("word{n} common edited"), pick(*i))).unwrap();
            }
            Op::Delete(i) => {
                c.execute("DELETE FROM messages WHERE seq = ?1", [pick(*i)]).unwrap();
            }
            Op::DeleteNewest => {
                c.execute("DELETE FROM messages WHERE seq = (SELECT max(seq) FROM messages)", []).unwrap();
            }
            Op::CatchUp => {
                super::fts_catch_up(c).unwrap();
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        #[test]
        fn index_matches_the_messages_after_a_catch_up(ops in prop::collection::vec(op(), 1..24)) {
            let dir = tempfile::tempdir().unwrap();
            let pragmas = Pragmas::from_config(&StorageConfig::default());
            let c = open(&dir.path().join("s.sqlite"), FileKind::Session, &pragmas, Mode::Create).unwrap();
            let mut n = 0;
            for op in &ops {
                apply(&c, op, &mut n);
            }
            super::fts_catch_up(&c).unwrap();
            prop_assert!(!super::fts_behind(&c).unwrap());
            // rank 1: also compare the index with the external content table.
            c.execute("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)", []).unwrap();
            let count = |q: &str| -> i64 {
                c.query_row("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?1", [q], |r| r.get(0)).unwrap()
            };
            let rows: i64 = c.query_row("SELECT count(*) FROM messages", [], |r| r.get(0)).unwrap();
            prop_assert_eq!(count("common"), rows);
        }
    }

    #[test]
    fn every_256th_insert_indexes_the_batch() {
        let dir = tempfile::tempdir().unwrap();
        let pragmas = Pragmas::from_config(&StorageConfig::default());
        let c = open(&dir.path().join("s.sqlite"), FileKind::Session, &pragmas, Mode::Create).unwrap();
        let mut n = 0;
        apply(&c, &Op::Insert(255), &mut n);
        let watermark = || -> i64 { c.query_row("SELECT fts_seq FROM state", [], |r| r.get(0)).unwrap() };
        assert_eq!(watermark(), 0);
        apply(&c, &Op::Insert(1), &mut n);
        assert_eq!(watermark(), 256);
        apply(&c, &Op::Insert(10), &mut n);
        assert!(super::fts_behind(&c).unwrap());
        assert_eq!(super::fts_catch_up(&c).unwrap(), 10);
        assert_eq!(watermark(), 266);
    }
}
