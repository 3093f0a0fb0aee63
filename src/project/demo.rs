//! The demo project: loaded by `planbase` (no subcommand) when DB_ROOT has no projects, by
//! `planbase serve --demo`, and by `planbase seed-demo`. It shows a published project whose
//! script any new session can run with the offline model.

use serde_json::json;

use super::drafts::{self, PublishRequest};
use super::model::{NewProject, Project, SetFile};
use super::{files, service};
use crate::error::AppResult;
use crate::script::Limits;
use crate::storage::Storage;

pub const DEMO_SCRIPT: &str = include_str!("../../data/scripts/intake.yaml");
pub const REFLECTION: &str = include_str!("../../data/scripts/reflection.yaml");
pub const REFLECT_TECHNIQUE: &str = include_str!("../../data/scripts/reflect.yaml");
pub const DEMO_NAME: &str = "Planbase demo";

/// The demo's files: the intake (the first session script, which sessions on the version
/// run), the reflection session and its technique.
fn demo_files() -> Vec<SetFile> {
    [
        ("session", "intake.yaml", DEMO_SCRIPT),
        ("session", "reflection.yaml", REFLECTION),
        ("skills", "reflect.yaml", REFLECT_TECHNIQUE),
    ]
    .iter()
    .map(|(t, n, y)| SetFile { file_type: t.to_string(), file_name: n.to_string(), yaml_content: y.to_string() })
    .collect()
}

/// Creates the demo project unless one by that name exists (idempotent `seed-demo`).
pub async fn seed_once(st: &Storage, limits: Limits) -> AppResult<Option<Project>> {
    let f = super::model::ProjectFilter { tag: Some("demo".into()), ..Default::default() };
    let (existing, _) = service::list(st, f, 200).await?;
    if existing.iter().any(|p| p.name == DEMO_NAME) {
        return Ok(None);
    }
    seed(st, limits).await.map(Some)
}

/// Creates and publishes the demo project unless a project already exists. Returns it when
/// it was created.
pub async fn seed_if_empty(st: &Storage, limits: Limits) -> AppResult<Option<Project>> {
    let (existing, _) = service::list(st, Default::default(), 1).await?;
    if !existing.is_empty() {
        return Ok(None);
    }
    seed(st, limits).await.map(Some)
}

pub async fn seed(st: &Storage, limits: Limits) -> AppResult<Project> {
    let input = NewProject {
        name: DEMO_NAME.into(),
        description: "A short scripted check-in. Create a session with this project and chat.".into(),
        author: Some("planbase".into()),
        tags: vec!["demo".into()],
        engine_version: None,
        engine_version_min: None,
        metadata: json!({"demo": true}),
    };
    let p = service::create(st, input, None).await?;
    let id = uuid::Uuid::parse_str(&p.id).map_err(crate::error::AppError::internal)?;
    for f in demo_files() {
        let input = super::model::FileInput {
            file_type: Some(f.file_type),
            file_name: Some(f.file_name),
            file_path: None,
            yaml_content: Some(f.yaml_content),
        };
        files::save(st, id, None, input, limits.clone()).await?;
    }
    drafts::put_draft(st, id, demo_files(), Some("planbase".into()), limits.clone()).await?;
    drafts::publish(
        st,
        id,
        PublishRequest { version_number: None, release_note: "demo".into() },
        Some("planbase".into()),
        limits,
    )
    .await?;
    seed_plan(st, id).await?;
    service::get(st, id).await
}

/// A small plan, so the task tree has something to show: two goals with their steps, and
/// one dependency (publishing waits for the review).
async fn seed_plan(st: &Storage, id: uuid::Uuid) -> AppResult<()> {
    let task = |name: &str, status: &str, children: serde_json::Value| json!({"name": name, "status": status, "children": children});
    let doc = json!({"note": "demo plan", "tasks": [
        task("Ship the check-in script", "running", json!([
            task("Draft intake.yaml", "completed", json!([])),
            task("Review the questions", "running", json!([])),
            task("Publish the next version", "pending", json!([])),
        ])),
        task("Reflection technique", "pending", json!([
            task("Write reflect.yaml", "completed", json!([])),
            task("Try it in a session", "pending", json!([])),
        ])),
    ]});
    let doc = serde_json::from_value(doc).map_err(crate::error::AppError::internal)?;
    let tree = crate::plan::service::upsert(st, id, doc).await?;
    let ship = &tree[0]["children"];
    if let (Some(review), Some(publish)) = (ship[1]["id"].as_i64(), ship[2]["id"].as_i64()) {
        crate::plan::service::add_dependency(st, id, publish, review).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_demo_scripts_are_strictly_valid() {
        for f in super::demo_files() {
            let r = crate::script::validate(&f.yaml_content, Some(&f.file_name), &crate::script::Limits::default());
            assert!(r.valid && r.warnings.is_empty(), "{}: {:?}", f.file_name, r.errors);
        }
    }
}
