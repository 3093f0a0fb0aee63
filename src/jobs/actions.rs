//! Action logs of a project (GAgent's plan_action_logs): redacted, then appended with the
//! next sequence of their `job_id` inside the shard's write transaction.

use uuid::Uuid;

use super::model::{self, ActionLog, NewActionLog};
use super::{redact, store};
use crate::error::AppResult;
use crate::paging;
use crate::project::service as projects;
use crate::storage::ShardKind;
use crate::storage::Storage;

/// Applies DESIGN.md §5's redaction to every free-form field of an action log.
pub fn redacted(mut a: NewActionLog) -> NewActionLog {
    a.message = a.message.as_deref().map(redact::message);
    a.user_message = a.user_message.as_deref().map(redact::message);
    a.details = a.details.map(redact::redact);
    a
}

pub async fn append(st: &Storage, project: Uuid, input: NewActionLog) -> AppResult<ActionLog> {
    model::check_new_action_log(&input)?;
    let log = redacted(input);
    projects::get(st, project).await?;
    let now = crate::clock::now();
    st.shards
        .write(ShardKind::Project, project, move |c| store::insert_action_log(c, &log, &now))
        .await
        .map_err(not_found_as_project)
}

/// Action logs of a project in id order (oldest first), optionally of one `job_id`.
pub async fn list(
    st: &Storage,
    project: Uuid,
    job_id: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
    max_page: usize,
) -> AppResult<(Vec<ActionLog>, Option<String>)> {
    let limit = paging::check_limit(limit, max_page)?;
    let after = cursor.as_deref().map(paging::decode::<IdKey>).transpose()?.map_or(0, |k| k.i);
    projects::get(st, project).await?;
    let rows = st
        .shards
        .read(ShardKind::Project, project, move |c| store::list_action_logs(c, job_id.as_deref(), after, limit + 1))
        .await
        .map_err(not_found_as_project)?;
    Ok(paging::page(rows, limit, |a| paging::encode(&IdKey { i: a.id })))
}

/// Keyset position of the action log list: the id of the last row returned.
#[derive(serde::Serialize, serde::Deserialize)]
struct IdKey {
    i: i64,
}

/// The storage layer's `project_not_found` lacks the API's suggestion.
fn not_found_as_project(e: crate::error::AppError) -> crate::error::AppError {
    if e.code == "project_not_found" {
        projects::not_found()
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_free_form_field_is_redacted() {
        let a = NewActionLog {
            job_id: "j".into(),
            job_type: None,
            session_id: None,
            user_message: Some("u".repeat(5000)),
            action_kind: "k".into(),
            action_name: "n".into(),
            status: "ok".into(),
            success: true,
            message: Some("m".repeat(1500)),
            details: Some(json!({"headers": [{"Cookie": "sid=1"}], "list": (0..30).collect::<Vec<_>>()})),
        };
        let r = redacted(a);
        assert_eq!(r.user_message.unwrap().chars().count(), 1024);
        assert_eq!(r.message.unwrap().chars().count(), 1024);
        let d = r.details.unwrap();
        assert_eq!(d["headers"][0]["Cookie"], "[REDACTED]");
        assert_eq!(d["list"].as_array().unwrap().len(), 21);
    }
}
