//! Operations and schemas of the root routes (health, metrics, docs, the demo page) and the
//! admin routes (tokens, backups, maintenance).

use serde_json::{json, Map, Value};

use super::*;

pub fn operations() -> Vec<Op> {
    let mut ops = tagged("health", health_ops());
    ops.extend(tagged("metrics", metrics_ops()));
    ops.extend(tagged("docs", docs_ops()));
    ops.extend(tagged("ui", ui_ops()));
    ops.extend(tagged("tokens", token_ops()));
    ops.extend(tagged("backups", backup_ops()));
    ops
}

fn html() -> Value {
    json!({"type": "string", "contentMediaType": "text/html"})
}

fn health_ops() -> Vec<Op> {
    vec![
        get("/health", "health", "Liveness: version, uptime, open shards, whether DB_ROOT is writable")
            .open()
            .ok(r("Health")),
        get("/ready", "ready", "Readiness: 200 once start-up work is done, 503 `not_ready` before")
            .open()
            .ok(obj(&[("ready", boolean())], &["ready"]))
            .errs(&[503]),
    ]
}

fn metrics_ops() -> Vec<Op> {
    vec![get("/metrics", "metrics", "Prometheus text: requests by route template, storage figures")
        .describe("Needs a token under `auth.mode = \"token\"` unless `auth.public_metrics` is set.")
        .answer(200, "Prometheus text format", "text/plain", string())]
}

fn docs_ops() -> Vec<Op> {
    vec![
        get("/api/v1/openapi.json", "openapi", "This OpenAPI 3.1 document").open().ok(object()),
        get("/docs", "docs", "The API docs page (offline; renders this document and can try requests)").open().answer(
            200,
            "HTML",
            "text/html",
            html(),
        ),
    ]
}

fn ui_ops() -> Vec<Op> {
    vec![
        get("/", "demoPage", "The demo page").open().answer(200, "HTML", "text/html", html()),
        get("/ui/{path}", "demoAsset", "An asset of the demo page (`app.js`, `app.css`, `favicon.svg`)")
            .open()
            .answer(200, "The asset", "text/javascript", string())
            .answer(200, "The asset", "text/css", string())
            .answer(200, "The asset", "image/svg+xml", string())
            .errs(&[404]),
    ]
}

fn token_ops() -> Vec<Op> {
    let t = "/api/v1/admin/tokens";
    vec![
        get(t, "listTokens", "List API tokens (never their secrets)").page().ok(list(r("Token"))).errs(&[400]),
        post(t, "createToken", "Create a token; the secret is in this answer only")
            .body(obj(&[("user_id", text(1, 200)), ("role", nullable(one_of(&["user", "admin"])))], &["user_id"]))
            .created(r("NewTokenSecret"))
            .errs(&[400]),
        delete("/api/v1/admin/tokens/{id}", "revokeToken", "Revoke a token").no_content().errs(&[404]),
    ]
}

fn backup_ops() -> Vec<Op> {
    let b = "/api/v1/admin/backups";
    vec![
        get(b, "listBackups", "The complete backups, newest first").ok(list(r("Backup"))),
        post(b, "startBackup", "Start an online backup as a job (the body is optional)")
            .describe("202 with the job; progress is in its `stats` and logs.")
            .opt_body(obj(&[("include_caches", boolean())], &[]))
            .answer(202, "Accepted: the backup job", "application/json", r("Job"))
            .errs(&[400]),
        post("/api/v1/admin/maintenance", "runMaintenance", "Start the maintenance steps as a job")
            .describe(
                "Archives idle sessions, prunes old logs and caches, purges trash, checkpoints. 202 with \
                 the `maintenance` job; when it completes its `result` is a MaintenanceReport. 409 \
                 `maintenance_running` (details.job_id) while a run is under way.",
            )
            .answer(202, "Accepted: the maintenance job", "application/json", r("Job"))
            .errs(&[409]),
    ]
}

const TOKEN: &str = "id: string, user_id: string, role: user|admin, created_at: string, last_used_at: string?, \
    revoked_at: string?";

pub fn schemas(s: &mut Map<String, Value>) {
    s.insert(
        "Health".into(),
        shape(
            "status: string, version: string, uptime_s: int, open_shards: int, \
        db_root_writable: bool",
        ),
    );
    s.insert("Token".into(), shape(TOKEN));
    s.insert("NewTokenSecret".into(), shape(&format!("{TOKEN}, token: string")));
    s.insert(
        "Backup".into(),
        shape(
            "name: string, created_at: string, complete: bool, files: int, bytes: int, \
        include_caches: bool",
        ),
    );
    s.insert(
        "MaintenanceReport".into(),
        shape(
            "archived_sessions~: int, pruned_job_logs~: int, \
        pruned_action_logs~: int, expired_llm_cache~: int, purged_trash~: int, errors: [any]",
        ),
    );
}
