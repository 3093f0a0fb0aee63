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

pub const DEMO_SCRIPT: &str = include_str!("../../data/demo/intake.yaml");
pub const DEMO_NAME: &str = "Planbase demo";

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
    let file = super::model::FileInput {
        file_type: Some("session".into()),
        file_name: Some("intake.yaml".into()),
        file_path: None,
        yaml_content: Some(DEMO_SCRIPT.into()),
    };
    files::save(st, id, None, file, limits.clone()).await?;
    let set = vec![SetFile {
        file_type: "session".into(),
        file_name: "intake.yaml".into(),
        yaml_content: DEMO_SCRIPT.into(),
    }];
    drafts::put_draft(st, id, set, Some("planbase".into()), limits.clone()).await?;
    drafts::publish(
        st,
        id,
        PublishRequest { version_number: None, release_note: "demo".into() },
        Some("planbase".into()),
        limits,
    )
    .await?;
    service::get(st, id).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_demo_script_is_strictly_valid() {
        let r = crate::script::validate(super::DEMO_SCRIPT, Some("intake.yaml"), &crate::script::Limits::default());
        assert!(r.valid, "{:?}", r.errors);
    }
}
