//! TestApp: the real server, in-process, on 127.0.0.1:0 with a temporary DB_ROOT.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use planbase::api::SharedState;
use planbase::config::Config;
use serde_json::Value;
use tokio::sync::Notify;

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub root: PathBuf,
    #[allow(dead_code)] // for tests that reach into the store directly
    pub state: SharedState,
    stop: Arc<Notify>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: Option<tempfile::TempDir>,
}

pub fn test_config(root: &std::path::Path) -> Config {
    let mut cfg = Config::default();
    cfg.storage.db_root = root.to_path_buf();
    cfg.server.bind = "127.0.0.1:0".parse().unwrap();
    cfg.storage.max_open_shards = 64;
    cfg
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}, Router::new()).await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut Config), extra: Router<SharedState>) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let mut app = Self::spawn_at(dir.path().join("db"), tweak, extra).await.expect("server starts");
        app._dir = Some(dir);
        app
    }

    /// Starts on an explicit root (which the caller keeps alive).
    pub async fn spawn_at(
        root: PathBuf,
        tweak: impl FnOnce(&mut Config),
        extra: Router<SharedState>,
    ) -> anyhow::Result<TestApp> {
        let mut cfg = test_config(&root);
        tweak(&mut cfg);
        let app = planbase::App::build_with_routes(cfg, extra).await?;
        let base = format!("http://127.0.0.1:{}", app.port());
        let (state, stop) = (app.state(), app.stop_handle());
        let task = tokio::spawn(app.run_until_stopped());
        Ok(TestApp { base, client: reqwest::Client::new(), root, state, stop, task: Some(task), _dir: None })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.client.get(self.url(path)).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Graceful stop; returns once the server has shut down and released DB_ROOT.
    pub async fn stop(mut self) {
        self.stop.notify_one();
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.notify_one();
    }
}

/// Asserts the DESIGN.md §6 error shape and returns the error object.
pub fn assert_error_shape(body: &Value, code: &str) -> Value {
    let e = body.get("error").unwrap_or_else(|| panic!("no error object in {body}"));
    assert_eq!(e["code"], code, "{body}");
    for key in ["type", "message", "retryable", "request_id", "details"] {
        assert!(e.get(key).is_some(), "error lacks {key}: {body}");
    }
    assert!(e.get("suggestion").is_some(), "error lacks suggestion: {body}");
    assert!(e["request_id"].as_str().is_some_and(|s| !s.is_empty() && s != "-"), "{body}");
    e.clone()
}

/// Undoes session schema 0004 in a shard file: the message triggers of schemas 1-3 (every
/// insert indexed at once), for tests that build a file as an older Planbase wrote it. The
/// triggers are taken from the landed migration `0001_init.sql` itself, so they cannot drift.
pub fn session_schema_3_message_triggers() -> String {
    const INIT: &str = include_str!("../../schema/session/0001_init.sql");
    let start = INIT.find("CREATE TRIGGER messages_fts_ai").expect("0001 creates messages_fts_ai");
    let au = INIT.find("CREATE TRIGGER messages_fts_au").expect("0001 creates messages_fts_au");
    let end = au + INIT[au..].find("END;").expect("the trigger ends") + "END;".len();
    format!(
        "DROP TRIGGER messages_fts_ai; DROP TRIGGER messages_fts_ad; DROP TRIGGER messages_fts_au;
         ALTER TABLE state DROP COLUMN fts_seq;
         INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
         {}",
        &INIT[start..end]
    )
}
