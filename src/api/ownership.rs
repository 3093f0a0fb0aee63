//! Who may touch what when `auth.mode = "token"` (DESIGN.md §7 Security):
//! - users see and change only their own sessions; anyone else's answers 404, so ids do not
//!   leak — on the session routes, `/api/conversations` and in every list and search, whose
//!   `user_id` filter is forced to the caller;
//! - every user reads every project; only its owner and admins write it, and the jobs bound to
//!   it (403 otherwise);
//! - admins may do anything.
//!
//! It runs after authentication, before the handlers, so no handler can forget it.

use axum::extract::{Request, State};
use axum::http::{Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::SharedState;
use crate::auth::Caller;
use crate::error::AppError;
use crate::storage::pools::with_conn;

pub async fn enforce(State(s): State<SharedState>, mut req: Request, next: Next) -> Response {
    let Some(caller) = req.extensions().get::<Caller>().cloned().filter(|c| !c.admin) else {
        return next.run(req).await;
    };
    let path: Vec<String> = req.uri().path().trim_matches('/').split('/').map(str::to_string).collect();
    let parts: Vec<&str> = path.iter().map(String::as_str).collect();
    let result = match parts.as_slice() {
        ["api", "v1", "sessions"] | ["api", "conversations"] | ["api", "v1", "search"] => {
            force_user(&mut req, &caller.user_id);
            Ok(())
        }
        ["api", "v1", "sessions", id, ..] | ["api", "conversations", id, ..] => own_session(&s, id, &caller).await,
        ["api", "v1", "projects", id, ..] if req.method() != Method::GET && *id != "import" => {
            own_project(&s, id, &caller).await
        }
        // A project's job is written like the project; unbound jobs are anyone's.
        ["api", "v1", "jobs", job, ..] if req.method() != Method::GET => own_job(&s, job, &caller).await,
        _ => Ok(()),
    };
    match result {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// Replaces any `user_id` in the query with the caller's.
fn force_user(req: &mut Request, user: &str) {
    let uri = req.uri().clone();
    let kept: Vec<(String, String)> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .filter(|(k, _)| k != "user_id")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.extend_pairs(kept).append_pair("user_id", user);
    let pq = format!("{}?{}", uri.path(), q.finish());
    if let Ok(new) = Uri::builder().path_and_query(pq).build() {
        *req.uri_mut() = new;
    }
}

async fn own_session(s: &SharedState, id: &str, caller: &Caller) -> Result<(), AppError> {
    let key = id.to_lowercase();
    let row = with_conn(&s.storage.shared.registry, move |c| crate::registry::sessions::get(c, &key)).await?;
    match row {
        Some(r) if r.user_id.as_deref() == Some(caller.user_id.as_str()) => Ok(()),
        // Missing, malformed or someone else's: the same answer, so ids do not leak.
        _ => Err(crate::session::service::not_found()),
    }
}

async fn own_project(s: &SharedState, id: &str, caller: &Caller) -> Result<(), AppError> {
    let key = id.to_lowercase();
    let row = with_conn(&s.storage.shared.registry, move |c| crate::registry::projects::get(c, &key)).await?;
    match row {
        None => Err(crate::project::service::not_found()),
        Some(p) if p.owner.as_deref() == Some(caller.user_id.as_str()) => Ok(()),
        Some(_) => Err(AppError::from_status(403).with_suggestion("only the project's owner and admins may change it")),
    }
}

async fn own_job(s: &SharedState, job: &str, caller: &Caller) -> Result<(), AppError> {
    let key = job.to_lowercase();
    let located = with_conn(&s.storage.shared.registry, move |c| crate::registry::jobs::locate(c, &key)).await?;
    match located {
        Some(Some(project)) => own_project(s, &project, caller).await,
        _ => Ok(()), // unbound, or unknown: the handler answers 404
    }
}
