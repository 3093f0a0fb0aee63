//! Jobs, job logs, the job log stream (SSE) and action logs.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::projects::{list_body, project_id};
use super::{current_request_id, SharedState};
use crate::error::AppResult;
use crate::jobs::model::{ActionLog, Job, JobFilter, JobLog, JobPatch, NewActionLog, NewJob, NewJobLog};
use crate::jobs::stream::{self, Item, Timing};
use crate::jobs::{actions, service};

/// How often a stream re-reads the store without a wake-up (a safety net; writes wake it).
const STREAM_POLL: Duration = Duration::from_secs(1);
const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/jobs", post(create_unbound))
        .route("/api/v1/jobs/{job_id}", get(read).patch(patch))
        .route("/api/v1/jobs/{job_id}/cancel", post(cancel))
        .route("/api/v1/jobs/{job_id}/logs", get(list_logs).post(append_log))
        .route("/api/v1/jobs/{job_id}/stream", get(follow))
        .route("/api/v1/projects/{id}/jobs", get(list).post(create))
        .route("/api/v1/projects/{id}/action-logs", get(list_actions).post(append_action))
}

async fn create(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<NewJob>,
) -> AppResult<(StatusCode, Json<Job>)> {
    let job = service::create(&s.storage, Some(project_id(&id)?), body).await?;
    Ok((StatusCode::CREATED, Json(job)))
}

async fn create_unbound(
    State(s): State<SharedState>,
    ApiJson(body): ApiJson<NewJob>,
) -> AppResult<(StatusCode, Json<Job>)> {
    let job = service::create(&s.storage, None, body).await?;
    Ok((StatusCode::CREATED, Json(job)))
}

async fn list(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(f): ApiQuery<JobFilter>,
) -> AppResult<Json<Value>> {
    let (items, next) = service::list(&s.storage, project_id(&id)?, f, s.config.limits.max_page).await?;
    Ok(list_body(items, next))
}

async fn read(State(s): State<SharedState>, ApiPath(job_id): ApiPath<String>) -> AppResult<Json<Job>> {
    Ok(Json(service::get(&s.storage, &job_id).await?))
}

async fn patch(
    State(s): State<SharedState>,
    ApiPath(job_id): ApiPath<String>,
    ApiJson(body): ApiJson<JobPatch>,
) -> AppResult<Json<Job>> {
    Ok(Json(service::patch(&s.storage, &s.jobs, &job_id, body).await?))
}

async fn cancel(State(s): State<SharedState>, ApiPath(job_id): ApiPath<String>) -> AppResult<Json<Job>> {
    Ok(Json(service::cancel(&s.storage, &s.jobs, &job_id).await?))
}

async fn append_log(
    State(s): State<SharedState>,
    ApiPath(job_id): ApiPath<String>,
    ApiJson(body): ApiJson<NewJobLog>,
) -> AppResult<(StatusCode, Json<JobLog>)> {
    let log = service::append_log(&s.storage, &s.jobs, &job_id, body).await?;
    Ok((StatusCode::CREATED, Json(log)))
}

#[derive(Deserialize)]
struct LogPage {
    after: Option<i64>,
    limit: Option<i64>,
}

/// Logs ascending by id; `next_cursor` is the last id (an integer, for `after`) or null.
async fn list_logs(
    State(s): State<SharedState>,
    ApiPath(job_id): ApiPath<String>,
    ApiQuery(p): ApiQuery<LogPage>,
) -> AppResult<Json<Value>> {
    let (items, next) = service::list_logs(&s.storage, &job_id, p.after, p.limit, s.config.limits.max_page).await?;
    Ok(Json(json!({"items": items, "next_cursor": next})))
}

#[derive(Deserialize)]
struct StreamQuery {
    after: Option<i64>,
}

/// SSE: `event: log` (`id:` the log id, data the log) for every log after `Last-Event-ID`
/// (or `?after`, else from the start), then live ones; `event: end` with the job once it has
/// finished. An unknown job is a plain 404 before any stream starts.
async fn follow(
    State(s): State<SharedState>,
    ApiPath(job_id): ApiPath<String>,
    ApiQuery(q): ApiQuery<StreamQuery>,
    headers: HeaderMap,
) -> AppResult<impl IntoResponse> {
    let (id, loc) = service::locate(&s.storage, &job_id).await?;
    service::poll(&s.storage, loc, id.clone(), 0, 0).await?;
    let after = last_event_id(&headers).or(q.after).unwrap_or(0);
    let timing = Timing { poll: STREAM_POLL, idle: Duration::from_millis(s.config.server.stream_idle_timeout_ms) };
    let sub = s.jobs.subscribe(&id);
    let fetch = move |after| {
        let (s, id) = (s.clone(), id.clone());
        async move { service::poll(&s.storage, loc, id, after, stream::BATCH).await }
    };
    let request_id = current_request_id();
    let events = stream::follow(sub, after, timing, fetch).map(move |item| to_event(item, &request_id));
    let sse = Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE));
    Ok(([("x-accel-buffering", "no")], sse))
}

fn last_event_id(headers: &HeaderMap) -> Option<i64> {
    headers.get("last-event-id")?.to_str().ok()?.trim().parse().ok()
}

fn to_event(item: AppResult<Item>, request_id: &str) -> Result<Event, Infallible> {
    Ok(match item {
        Ok(Item::Log(l)) => Event::default().event("log").id(l.id.to_string()).data(json_line(&l)),
        Ok(Item::End(job)) => Event::default().event("end").data(json_line(&job)),
        Err(e) => Event::default().event("error").data(e.body(request_id).to_string()),
    })
}

/// Compact JSON, never multi-line, so each event has one `data:` line.
fn json_line<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

async fn append_action(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<NewActionLog>,
) -> AppResult<(StatusCode, Json<ActionLog>)> {
    let log = actions::append(&s.storage, project_id(&id)?, body).await?;
    Ok((StatusCode::CREATED, Json(log)))
}

#[derive(Deserialize)]
struct ActionPage {
    job_id: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

async fn list_actions(
    State(s): State<SharedState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(p): ApiQuery<ActionPage>,
) -> AppResult<Json<Value>> {
    let max = s.config.limits.max_page;
    let (items, next) = actions::list(&s.storage, project_id(&id)?, p.job_id, p.cursor, p.limit, max).await?;
    Ok(list_body(items, next))
}
