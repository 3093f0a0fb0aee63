//! Drafts, validation, publishing, versions, diffs and rollback.
//!
//! The draft is the file set being edited; `validate` and `publish` are the strict gate.
//! Publishing and rollback each run in one shard transaction: the version row, the draft,
//! `current_version_id` and the status change together or not at all.

use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::model::{Draft, Project, SetFile, Version};
use super::versions::{self, Diff};
use super::{files, service, store};
use crate::error::{AppError, AppResult};
use crate::paging;
use crate::script::{self, Limits, Problem};
use crate::storage::{ShardKind, Storage};

const P: ShardKind = ShardKind::Project;

/// Result of validating a file set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Validation {
    pub valid: bool,
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

/// A file is a script when its type is `session` or its top level is `session:`/`topic:`;
/// scripts get the full schema check, other files must only parse.
pub fn validate_set(set: &[SetFile], limits: &Limits) -> Validation {
    let mut v = Validation { valid: true, errors: vec![], warnings: vec![] };
    for f in set {
        let parsed = match script::parse_yaml(&f.yaml_content, limits) {
            Ok(p) => p,
            Err(e) => {
                let p = Problem {
                    file: Some(f.file_name.clone()),
                    path: String::new(),
                    line: e.line,
                    column: e.column,
                    message: e.message,
                    replacement: None,
                };
                v.errors.push(p);
                continue;
            }
        };
        let is_script = f.file_type == "session" || parsed.get("session").is_some() || parsed.get("topic").is_some();
        if is_script {
            let r = script::validate(&f.yaml_content, Some(&f.file_name), limits);
            v.errors.extend(r.errors);
            v.warnings.extend(r.warnings);
        }
    }
    v.valid = v.errors.is_empty();
    v
}

/// Checks a file set for storage: known types, names, unique `(type, name)`, YAML parses.
fn check_set(set: &[SetFile], limits: &Limits) -> AppResult<()> {
    let mut seen = std::collections::HashSet::new();
    for f in set {
        files::check_type(&f.file_type)?;
        files::check_name(&f.file_name)?;
        if !seen.insert((f.file_type.as_str(), f.file_name.as_str())) {
            return Err(AppError::validation("files", format!("{} {:?} appears twice", f.file_type, f.file_name)));
        }
        files::parse(&f.yaml_content, &f.file_name, limits)?;
    }
    Ok(())
}

pub async fn get_draft(st: &Storage, id: Uuid) -> AppResult<Draft> {
    service::get(st, id).await?;
    st.shards.read(P, id, store::get_draft).await
}

/// Replaces the draft's file set; its validation status goes back to `unknown`.
pub async fn put_draft(
    st: &Storage,
    id: Uuid,
    mut set: Vec<SetFile>,
    by: Option<String>,
    limits: Limits,
) -> AppResult<Draft> {
    if set.len() > 500 {
        return Err(AppError::validation("files", "a draft holds at most 500 files"));
    }
    check_set(&set, &limits)?;
    store::sort_set(&mut set);
    let draft = Draft {
        files: set,
        validation_status: "unknown".into(),
        validation_errors: json!([]),
        updated_by: by,
        updated_at: crate::clock::now(),
    };
    let d = draft.clone();
    service::update(st, id, move |c, _| store::put_draft(c, &d)).await?;
    Ok(draft)
}

/// Validates the draft and stores the outcome on it.
pub async fn validate_draft(st: &Storage, id: Uuid, limits: Limits) -> AppResult<Validation> {
    let (_, v) = service::update_with(st, id, move |c, _| {
        let mut d = store::get_draft(c)?;
        let v = validate_set(&d.files, &limits);
        d.validation_status = if v.valid { "valid" } else { "invalid" }.into();
        d.validation_errors = serde_json::to_value(&v.errors).unwrap_or(Value::Null);
        store::put_draft(c, &d)?;
        Ok(v)
    })
    .await?;
    Ok(v)
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PublishRequest {
    pub version_number: Option<String>,
    #[serde(default)]
    pub release_note: String,
}

fn draft_invalid(v: &Validation) -> AppError {
    AppError::new(422, "draft_invalid", "project", format!("the draft has {} validation error(s)", v.errors.len()))
        .with_details(json!({"errors": v.errors, "warnings": v.warnings}))
        .with_suggestion("fix the errors (POST …/draft/validate lists them) and publish again")
}

/// Validates the draft and, when valid, turns it into the next version.
pub async fn publish(
    st: &Storage,
    id: Uuid,
    req: PublishRequest,
    by: Option<String>,
    limits: Limits,
) -> AppResult<Version> {
    if req.release_note.chars().count() > 10_000 {
        return Err(AppError::validation("release_note", "release_note is longer than 10000 characters"));
    }
    let (_, v) = service::update_with(st, id, move |c, p| {
        let mut d = store::get_draft(c)?;
        if d.files.is_empty() {
            return Err(AppError::new(422, "draft_invalid", "project", "the draft has no files to publish"));
        }
        let check = validate_set(&d.files, &limits);
        if !check.valid {
            return Err(draft_invalid(&check));
        }
        let number = versions::next_version(&store::version_numbers(c)?, req.version_number.as_deref())?;
        let v = new_version(number, d.files.clone(), req.release_note.clone(), None, by.clone());
        store::insert_version(c, &v)?;
        (d.validation_status, d.validation_errors) = ("valid".into(), json!([]));
        store::put_draft(c, &d)?;
        set_current(p, &v);
        Ok(v)
    })
    .await?;
    Ok(v)
}

fn new_version(number: String, files: Vec<SetFile>, note: String, from: Option<String>, by: Option<String>) -> Version {
    Version {
        id: Uuid::now_v7().to_string(),
        version_number: number,
        release_note: note,
        is_rollback: from.is_some(),
        rollback_from_version_id: from,
        published_at: crate::clock::now(),
        published_by: by,
        files: Some(files),
    }
}

fn set_current(p: &mut Project, v: &Version) {
    p.current_version_id = Some(v.id.clone());
    p.status = "published".into();
}

pub async fn list_versions(
    st: &Storage,
    id: Uuid,
    cursor: Option<String>,
    limit: Option<i64>,
    max: usize,
) -> AppResult<(Vec<Version>, Option<String>)> {
    let limit = paging::check_limit(limit, max)?;
    let before = cursor.as_deref().map(paging::decode::<String>).transpose()?;
    service::get(st, id).await?;
    let rows = st.shards.read(P, id, move |c| store::list_versions(c, before.as_deref(), limit + 1)).await?;
    Ok(paging::page(rows, limit, |v| paging::encode(&v.id)))
}

pub async fn get_version(st: &Storage, id: Uuid, vid: String) -> AppResult<Version> {
    service::get(st, id).await?;
    st.shards.read(P, id, move |c| store::get_version(c, &vid)).await
}

pub async fn diff(st: &Storage, id: Uuid, a: String, b: String) -> AppResult<Diff> {
    service::get(st, id).await?;
    st.shards
        .read(P, id, move |c| {
            let (va, vb) = (store::get_version(c, &a)?, store::get_version(c, &b)?);
            Ok(versions::diff(va.files.as_deref().unwrap_or_default(), vb.files.as_deref().unwrap_or_default()))
        })
        .await
}

/// A new version holding V's files; the draft becomes those files. History is kept.
pub async fn rollback(st: &Storage, id: Uuid, vid: String, by: Option<String>, limits: Limits) -> AppResult<Version> {
    let (_, v) = service::update_with(st, id, move |c, p| rollback_tx(c, p, &vid, by.clone(), &limits)).await?;
    Ok(v)
}

fn rollback_tx(c: &Connection, p: &mut Project, vid: &str, by: Option<String>, limits: &Limits) -> AppResult<Version> {
    let target = store::get_version(c, vid)?;
    let files = target.files.clone().unwrap_or_default();
    let number = versions::next_version(&store::version_numbers(c)?, None)?;
    let note = format!("rollback to {}", target.version_number);
    let v = new_version(number, files.clone(), note, Some(target.id.clone()), by.clone());
    store::insert_version(c, &v)?;
    let check = validate_set(&files, limits);
    let status = if check.valid { "valid" } else { "invalid" };
    let errors = serde_json::to_value(&check.errors).unwrap_or(Value::Null);
    store::put_draft(
        c,
        &Draft {
            files,
            validation_status: status.into(),
            validation_errors: errors,
            updated_by: by,
            updated_at: crate::clock::now(),
        },
    )?;
    set_current(p, &v);
    Ok(v)
}
