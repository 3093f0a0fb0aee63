//! Project lifecycle: create, read, list, patch, status changes and delete.
//!
//! Order of writes (DESIGN.md §2): the shard first, the registry row second. A crash in
//! between leaves an orphan shard that `reindex` adopts; never a row without a file.

use rusqlite::Connection;
use serde_json::Value;
use uuid::Uuid;

use super::model::{NewProject, Project, ProjectFilter, ProjectPatch, SetFile, STATUSES};
use super::{store, templates};
use crate::checks::metadata as check_metadata;
use crate::checks::text as check_text;
use crate::error::{AppError, AppResult};
use crate::paging::{self, UpdatedKey};
use crate::registry::projects as registry;
use crate::storage::pools::with_conn;
use crate::storage::{ShardKind, Storage};

const P: ShardKind = ShardKind::Project;

pub fn not_found() -> AppError {
    AppError::not_found("project_not_found", "project", "no project with this id")
        .with_suggestion("list projects with GET /api/v1/projects")
}

fn check_tags(tags: &[String]) -> AppResult<()> {
    if tags.len() > 50 {
        return Err(AppError::validation("tags", "at most 50 tags"));
    }
    tags.iter().try_for_each(|t| check_text("tags", t, 64, true))
}

fn check_new(p: &NewProject) -> AppResult<()> {
    check_text("name", &p.name, 200, true)?;
    check_text("description", &p.description, 10_000, false)?;
    for (field, v) in
        [("author", &p.author), ("engine_version", &p.engine_version), ("engine_version_min", &p.engine_version_min)]
    {
        check_text(field, v.as_deref().unwrap_or(""), 100, false)?;
    }
    check_tags(&p.tags)?;
    check_metadata(&p.metadata)
}

/// Creates the shard (meta, the three default files, an empty draft), then the row.
pub async fn create(st: &Storage, input: NewProject, owner: Option<String>) -> AppResult<Project> {
    check_new(&input)?;
    let id = Uuid::now_v7();
    let now = crate::clock::now();
    let project = Project {
        id: id.to_string(),
        name: input.name.trim().to_string(),
        description: input.description,
        status: "draft".into(),
        owner,
        author: input.author,
        tags: input.tags,
        engine_version: input.engine_version,
        engine_version_min: input.engine_version_min,
        current_version_id: None,
        metadata: input.metadata,
        created_at: now.clone(),
        updated_at: now.clone(),
        file_bytes: 0,
        health: "ok".into(),
    };
    let p = project.clone();
    st.shards.create(P, id, move |c| init_shard(c, &p, &now)).await?;
    register(st, project).await
}

fn init_shard(c: &Connection, p: &Project, now: &str) -> AppResult<()> {
    store::write_meta(c, p)?;
    // The base meta row was stamped by the template a moment earlier; the registry row and
    // the shard must agree, or reindex and import would move created_at.
    c.execute("UPDATE meta SET value = ?1 WHERE key = 'created_at'", [&p.created_at])?;
    for f in templates::default_set() {
        super::files::insert_new(c, &f, now)?;
    }
    let draft = super::model::Draft {
        files: Vec::<SetFile>::new(),
        validation_status: "unknown".into(),
        validation_errors: Value::Array(vec![]),
        updated_by: p.owner.clone(),
        updated_at: now.to_string(),
    };
    store::put_draft(c, &draft)
}

/// Writes the registry row for a project whose shard is already written.
pub async fn register(st: &Storage, mut p: Project) -> AppResult<Project> {
    let id = Uuid::parse_str(&p.id).map_err(AppError::internal)?;
    p.file_bytes = std::fs::metadata(st.root.shard(P, id)).map(|m| m.len() as i64).unwrap_or(0);
    let row = p.clone();
    with_conn(&st.shared.registry, move |c| registry::upsert(c, &row)).await?;
    Ok(p)
}

pub async fn get(st: &Storage, id: Uuid) -> AppResult<Project> {
    let key = id.to_string();
    with_conn(&st.shared.registry, move |c| registry::get(c, &key)).await?.ok_or_else(not_found)
}

/// Runs `f` on the shard's meta (and connection) in one write transaction, bumps
/// `updated_at`, then refreshes the registry row. `f` may run more than once.
pub async fn update<F>(st: &Storage, id: Uuid, f: F) -> AppResult<Project>
where
    F: Fn(&Connection, &mut Project) -> AppResult<()> + Send + 'static,
{
    update_with(st, id, f).await.map(|(p, ())| p)
}

/// [`update`] that also returns what `f` computed.
pub async fn update_with<T, F>(st: &Storage, id: Uuid, f: F) -> AppResult<(Project, T)>
where
    T: Send + 'static,
    F: Fn(&Connection, &mut Project) -> AppResult<T> + Send + 'static,
{
    let (p, out) = st
        .shards
        .write(P, id, move |c| {
            let mut p = store::read_meta(c)?;
            let out = f(c, &mut p)?;
            p.updated_at = crate::clock::now();
            store::write_meta(c, &p)?;
            Ok((p, out))
        })
        .await
        .map_err(|e| if e.code == "project_not_found" { not_found() } else { e })?;
    Ok((register(st, p).await?, out))
}

pub async fn patch(st: &Storage, id: Uuid, patch: ProjectPatch) -> AppResult<Project> {
    if let Some(n) = &patch.name {
        check_text("name", n, 200, true)?;
    }
    if let Some(d) = &patch.description {
        check_text("description", d, 10_000, false)?;
    }
    if let Some(t) = &patch.tags {
        check_tags(t)?;
    }
    if let Some(m) = &patch.metadata {
        check_metadata(m)?;
    }
    update(st, id, move |_, p| {
        apply_patch(p, &patch);
        Ok(())
    })
    .await
}

fn apply_patch(p: &mut Project, patch: &ProjectPatch) {
    if let Some(n) = &patch.name {
        p.name = n.trim().to_string();
    }
    if let Some(d) = &patch.description {
        p.description = d.clone();
    }
    if let Some(a) = &patch.author {
        p.author = a.clone();
    }
    if let Some(t) = &patch.tags {
        p.tags = t.clone();
    }
    if let Some(v) = &patch.engine_version {
        p.engine_version = v.clone();
    }
    if let Some(v) = &patch.engine_version_min {
        p.engine_version_min = v.clone();
    }
    if let Some(m) = &patch.metadata {
        p.metadata = m.clone();
    }
}

#[derive(Debug, Clone, Copy)]
pub enum StatusChange {
    Archive,
    Deprecate,
    /// Undoes archive/deprecate: `published` with a current version, else `draft`.
    Restore,
}

pub async fn change_status(st: &Storage, id: Uuid, change: StatusChange) -> AppResult<Project> {
    update(st, id, move |_, p| {
        p.status = match change {
            StatusChange::Archive => "archived".into(),
            StatusChange::Deprecate => "deprecated".into(),
            StatusChange::Restore if p.current_version_id.is_some() => "published".into(),
            StatusChange::Restore => "draft".into(),
        };
        Ok(())
    })
    .await
}

pub async fn list(st: &Storage, f: ProjectFilter, max_page: usize) -> AppResult<(Vec<Project>, Option<String>)> {
    let limit = paging::check_limit(f.limit, max_page)?;
    if let Some(s) = f.status.as_deref().filter(|s| !STATUSES.contains(s)) {
        return Err(AppError::validation("status", format!("unknown status {s:?}; one of {STATUSES:?}")));
    }
    let after = f.cursor.as_deref().map(paging::decode::<UpdatedKey>).transpose()?;
    let rows = with_conn(&st.shared.registry, move |c| {
        let q = registry::ListQuery {
            status: f.status.as_deref(),
            author: f.author.as_deref(),
            tag: f.tag.as_deref(),
            q: f.q.as_deref().filter(|s| !s.is_empty()),
            after,
            fetch: limit + 1,
        };
        registry::list(c, &q)
    })
    .await?;
    Ok(paging::page(rows, limit, |p| paging::encode(&UpdatedKey { u: p.updated_at.clone(), i: p.id.clone() })))
}

/// Closes the shard, moves its files to `trash/project/<id>-<ts>/`, removes the row.
pub async fn delete(st: &Storage, id: Uuid) -> AppResult<()> {
    get(st, id).await?;
    st.shards.close(P, id).await?;
    let root = st.root.clone();
    tokio::task::spawn_blocking(move || crate::storage::move_to_trash(&root, P, id))
        .await
        .map_err(AppError::internal)??;
    let key = id.to_string();
    with_conn(&st.shared.registry, move |c| {
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        registry::delete(&tx, &key)?;
        crate::registry::jobs::delete_project(&tx, &key)?;
        Ok(tx.commit()?)
    })
    .await
}
