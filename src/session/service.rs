//! Session lifecycle: create, read (with the summary overlay and reconcile), list, patch,
//! archive and delete.
//!
//! Order of writes (DESIGN.md §2): the shard first, the registry row second. A crash in
//! between leaves an orphan shard that `reindex` adopts; never a row without a file.

use rusqlite::Connection;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::model::{NewSession, Session, SessionFilter, SessionMeta, SessionPatch, SessionView, STATUSES};
use super::store;
use super::summary::Summaries;
use crate::checks::metadata as check_metadata;
use crate::error::{AppError, AppResult};
use crate::paging::{self, UpdatedKey};
use crate::registry::sessions as registry;
use crate::storage::pools::with_conn;
use crate::storage::{parse_id, ShardKind, Storage};

pub const S: ShardKind = ShardKind::Session;

pub fn not_found() -> AppError {
    AppError::not_found("session_not_found", "session", "no session with this id")
        .with_suggestion("create a session with POST /api/v1/sessions")
}

/// Parses a session id from a path: anything but a UUID is 404 `session_not_found`.
pub fn session_id(raw: &str) -> AppResult<Uuid> {
    parse_id(raw, "session", "session_not_found").map_err(|_| not_found())
}

/// Maps the shard manager's not-found (no file) to this API's error.
pub fn shard_err(e: AppError) -> AppError {
    if e.status == 404 {
        not_found()
    } else {
        e
    }
}

fn check_name(name: &str) -> AppResult<()> {
    crate::checks::text("name", name, 200, true)
}

fn check_status(s: &str) -> AppResult<()> {
    if !STATUSES.contains(&s) {
        return Err(AppError::validation("status", format!("unknown status {s:?}; one of {STATUSES:?}")));
    }
    Ok(())
}

/// Checks the project links and returns the snapshot to pin into meta, if any.
async fn resolve_links(st: &Storage, input: &NewSession) -> AppResult<Option<Value>> {
    let Some(raw) = input.project_id.as_deref() else {
        if input.version_id.is_some() || input.script_file_id.is_some() {
            return Err(AppError::validation("project_id", "version_id and script_file_id need a project_id"));
        }
        return Ok(None);
    };
    let pid = parse_id(raw, "project", "project_not_found").map_err(|_| crate::project::service::not_found())?;
    crate::project::service::get(st, pid).await?;
    if let Some(vid) = &input.version_id {
        let v = crate::project::drafts::get_version(st, pid, vid.clone()).await?;
        return Ok(Some(json!({"kind": "version", "version_id": v.id, "version_number": v.version_number,
                              "files": v.files})));
    }
    if let Some(fid) = &input.script_file_id {
        let f = crate::project::files::get(st, pid, fid.clone()).await?;
        return Ok(Some(json!({"kind": "script_file", "file_id": f.id, "file_type": f.file_type,
                              "file_name": f.file_name, "yaml_content": f.yaml_content, "content": f.content})));
    }
    Ok(None)
}

fn check_new(input: &NewSession) -> AppResult<()> {
    if let Some(n) = &input.name {
        check_name(n)?;
    }
    if let Some(m) = &input.metadata {
        check_metadata(m)?;
    }
    let vars = input.variables.as_ref().map(|v| Value::Object(v.clone()).to_string().len()).unwrap_or(0);
    if vars > 256 * 1024 {
        return Err(AppError::validation("variables", "variables are larger than 256 KiB"));
    }
    Ok(())
}

/// Creates the shard (meta, snapshot, initial variables), then the registry row.
pub async fn create(st: &Storage, input: NewSession) -> AppResult<Session> {
    check_new(&input)?;
    let snapshot = resolve_links(st, &input).await?;
    let id = Uuid::now_v7();
    let now = crate::clock::now();
    let meta = SessionMeta {
        id: id.to_string(),
        name: input.name.as_ref().map(|n| n.trim().to_string()),
        name_source: if input.name.is_some() { "user" } else { "auto" }.into(),
        user_id: input.user_id.clone(),
        project_id: input.project_id.as_ref().map(|p| p.to_lowercase()),
        version_id: input.version_id.clone(),
        script_file_id: input.script_file_id.clone(),
        status: "active".into(),
        current_task_id: None,
        metadata: input.metadata.clone().unwrap_or_else(|| json!({})),
        created_at: now.clone(),
        updated_at: now,
    };
    let vars = input.variables.clone().unwrap_or_default();
    let m = meta.clone();
    st.shards.create(S, id, move |c| init_shard(c, &m, snapshot.as_ref(), vars)).await?;
    let row = row_of(&meta, "waiting_input");
    let r = row.clone();
    with_conn(&st.shared.registry, move |c| registry::upsert(c, &r)).await?;
    Ok(row)
}

fn init_shard(c: &Connection, m: &SessionMeta, snapshot: Option<&Value>, vars: Map<String, Value>) -> AppResult<()> {
    store::write_meta(c, m)?;
    c.execute("UPDATE meta SET value = ?1 WHERE key = 'created_at'", [&m.created_at])?;
    if let Some(s) = snapshot {
        store::put_meta_json(c, "version_snapshot", s)?;
    }
    let store_json = json!({"global": {}, "session": vars, "phase": {}, "topic": {}});
    store::set_variables(c, &store_json)
}

/// A registry row from shard meta, with an empty summary.
pub fn row_of(m: &SessionMeta, execution_status: &str) -> Session {
    Session {
        id: m.id.clone(),
        project_id: m.project_id.clone(),
        user_id: m.user_id.clone(),
        name: m.name.clone(),
        name_source: m.name_source.clone(),
        status: m.status.clone(),
        execution_status: execution_status.into(),
        message_count: 0,
        last_message_at: None,
        summary_seq: 0,
        created_at: m.created_at.clone(),
        updated_at: m.updated_at.clone(),
        current_task_id: m.current_task_id,
        metadata: m.metadata.clone(),
        health: "ok".into(),
    }
}

/// The registry row with the pending summary overlaid.
pub async fn get(st: &Storage, sums: &Summaries, id: Uuid) -> AppResult<Session> {
    let key = id.to_string();
    let mut s = with_conn(&st.shared.registry, move |c| registry::get(c, &key)).await?.ok_or_else(not_found)?;
    sums.overlay(&mut s);
    Ok(s)
}

/// Row + state; recounts from the shard when it holds messages the summary does not cover
/// (a crash lost pending deltas, or rows were written behind the server's back).
pub async fn view(st: &Storage, sums: &Summaries, id: Uuid) -> AppResult<SessionView> {
    let s = get(st, sums, id).await?;
    let covered = s.summary_seq;
    let (meta, state, recount) = st
        .shards
        .read(S, id, move |c| {
            let (meta, mut state) = (store::read_meta(c)?, store::read_state(c)?);
            state.position = crate::script::runtime::turn::client_position(&state.position);
            let recount = if store::max_seq(c)? > covered { Some(store::counts(c)?) } else { None };
            Ok((meta, state, recount))
        })
        .await
        .map_err(shard_err)?;
    let view =
        |session| SessionView { session, version_id: meta.version_id, script_file_id: meta.script_file_id, state };
    let Some((counts, last)) = recount else {
        return Ok(view(s));
    };
    let key = id.to_string();
    with_conn(&st.shared.registry, move |c| {
        registry::set_summary(c, &key, counts.count, counts.max_seq, last.as_deref())
    })
    .await?;
    Ok(view(get(st, sums, id).await?))
}

pub async fn list(
    st: &Storage,
    sums: &Summaries,
    f: SessionFilter,
    max_page: usize,
) -> AppResult<(Vec<Session>, Option<String>)> {
    let limit = paging::check_limit(f.limit, max_page)?;
    if let Some(s) = &f.status {
        check_status(s)?;
    }
    let after = f.cursor.as_deref().map(paging::decode::<UpdatedKey>).transpose()?;
    let rows = with_conn(&st.shared.registry, move |c| {
        let q = registry::ListQuery {
            user_id: f.user_id.as_deref(),
            project_id: f.project_id.as_deref(),
            status: f.status.as_deref(),
            after,
            fetch: limit + 1,
        };
        registry::list(c, &q)
    })
    .await?;
    let (mut items, next) =
        paging::page(rows, limit, |s| paging::encode(&UpdatedKey { u: s.updated_at.clone(), i: s.id.clone() }));
    items.iter_mut().for_each(|s| sums.overlay(s));
    Ok((items, next))
}

/// Applies `f` to the shard's meta in one write, then rewrites the registry row's meta
/// fields (the summary columns are left as they are).
async fn update<F>(st: &Storage, sums: &Summaries, id: Uuid, f: F) -> AppResult<Session>
where
    F: Fn(&Connection, &mut SessionMeta) -> AppResult<()> + Send + 'static,
{
    let row = get(st, sums, id).await?;
    let meta = st
        .shards
        .write(S, id, move |c| {
            let mut m = store::read_meta(c)?;
            f(c, &mut m)?;
            m.updated_at = crate::clock::now();
            store::write_meta(c, &m)?;
            Ok(m)
        })
        .await
        .map_err(shard_err)?;
    let key = id.to_string();
    with_conn(&st.shared.registry, move |c| {
        let mut s = registry::get(c, &key)?.unwrap_or(row);
        s.name = meta.name.clone();
        s.name_source = meta.name_source.clone();
        s.status = meta.status.clone();
        s.metadata = meta.metadata.clone();
        s.updated_at = meta.updated_at.clone();
        registry::upsert(c, &s)
    })
    .await?;
    get(st, sums, id).await
}

pub async fn patch(st: &Storage, sums: &Summaries, id: Uuid, p: SessionPatch) -> AppResult<Session> {
    if let Some(n) = &p.name {
        check_name(n)?;
    }
    if let Some(s) = &p.status {
        check_status(s)?;
    }
    if let Some(m) = &p.metadata {
        check_metadata(m)?;
    }
    update(st, sums, id, move |c, m| {
        if let Some(n) = &p.name {
            m.name = Some(n.trim().to_string());
            m.name_source = "user".into();
        }
        if let Some(s) = &p.status {
            m.status = s.clone();
            store::set_state_status(c, s)?;
        }
        if let Some(md) = &p.metadata {
            m.metadata = md.clone();
        }
        Ok(())
    })
    .await
}

pub async fn archive(st: &Storage, sums: &Summaries, id: Uuid) -> AppResult<Session> {
    patch(st, sums, id, SessionPatch { status: Some("archived".into()), ..Default::default() }).await
}

/// Closes the shard, moves its files to `trash/session/<id>-<ts>/`, removes the row.
pub async fn delete(st: &Storage, sums: &Summaries, id: Uuid) -> AppResult<()> {
    get(st, sums, id).await?;
    st.shards.close(S, id).await?;
    let root = st.root.clone();
    tokio::task::spawn_blocking(move || crate::storage::move_to_trash(&root, S, id))
        .await
        .map_err(AppError::internal)??;
    let key = id.to_string();
    let k = key.clone();
    with_conn(&st.shared.registry, move |c| registry::delete(c, &k)).await?;
    sums.forget(id);
    // Its rows leave the cross-session index too (entries still queued are re-added and
    // go with the next reindex).
    with_conn(&st.shared.search, move |c| crate::search::store::remove_session(c, &key)).await
}
