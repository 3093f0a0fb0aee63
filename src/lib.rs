//! Planbase: a storage server for AI-agent applications.
//!
//! Dependencies point one way: `api → domain (registry, …) → storage`; `error`, `config` and
//! `clock` are shared by all.

pub mod api;
pub mod auth;
pub mod bench;
pub mod checks;
pub mod cli;
pub mod clock;
pub mod config;
pub mod error;
pub mod jobs;
pub mod llm;
pub mod maintenance;
pub mod paging;
pub mod plan;
pub mod project;
pub mod registry;
pub mod script;
pub mod search;
pub mod session;
pub mod storage;
pub mod telemetry;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use axum::Router;
use tokio::sync::Notify;

use api::{AppState, SharedState};
use config::Config;
use storage::lock::RootLock;
use storage::{DbRoot, Storage};

/// A built server: DB_ROOT locked and migrated, listener bound, not yet serving.
pub struct App {
    listener: tokio::net::TcpListener,
    router: Router,
    state: SharedState,
    stop: Arc<Notify>,
    _lock: RootLock,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<App> {
        Self::build_with_routes(config, Router::new()).await
    }

    /// Like [`App::build`] with extra routes merged in under the same middleware; tests use it
    /// to probe extractors and layers with routes of their own.
    pub async fn build_with_routes(config: Config, extra: Router<SharedState>) -> anyhow::Result<App> {
        let root = DbRoot::new(&config.storage.db_root);
        std::fs::create_dir_all(root.path())
            .with_context(|| format!("storage.db_root: cannot create {}", root.path().display()))?;
        let lock = RootLock::acquire(&root)?;
        let cfg = config.storage.clone();
        let storage = tokio::task::spawn_blocking(move || Storage::open(&cfg))
            .await?
            .map_err(|e| anyhow::anyhow!("{}", e.operator_message()))?;
        let pool = storage.shared.registry.clone();
        let prev = storage::pools::with_conn(&pool, registry::store::begin_run).await?;
        if !prev.clean_shutdown && prev.last_flush_at.is_some() {
            tracing::warn!(last_flush_at = ?prev.last_flush_at, "the previous run did not stop cleanly");
        }
        let interrupted = maintenance::job::fail_interrupted(&storage).await?;
        if interrupted > 0 {
            tracing::warn!(jobs = interrupted, "server jobs left unfinished by the previous run marked failed");
        }
        let listener = tokio::net::TcpListener::bind(config.server.bind)
            .await
            .with_context(|| format!("server.bind: cannot listen on {}", config.server.bind))?;
        let pool = storage.shared.registry.clone();
        storage.shards.on_quarantine(Box::new(move |kind, id| {
            // Off the caller's thread: the hook may run on the async path.
            let pool = pool.clone();
            std::thread::spawn(move || {
                let marked = pool
                    .get()
                    .map_err(error::AppError::from)
                    .and_then(|c| registry::store::mark_quarantined(&c, kind.name(), &id.to_string()));
                if let Err(e) = marked {
                    tracing::warn!(shard = %id, cause = %e.operator_message(), "could not mark the quarantined shard");
                }
            });
        }));
        let llm = llm::provider(&config.llm, &storage.shared.llm_cache)
            .map_err(|e| anyhow::anyhow!("llm: {}", e.operator_message()))?;
        let embedder =
            llm::embedding::from_config(&config.embedding, &config.llm, storage.shared.embedding_cache.clone())
                .map_err(|e| anyhow::anyhow!("embedding: {}", e.operator_message()))?;
        let state = Arc::new(AppState {
            config,
            storage,
            started: Instant::now(),
            ready: AtomicBool::new(false),
            jobs: jobs::JobEvents::new(),
            summaries: session::summary::Summaries::new(),
            search: Arc::new(search::SearchFeed::default()),
            search_stop: Arc::new(Notify::new()),
            llm,
            embedder,
            maintenance: Default::default(),
        });
        start_session_summaries(&state, &prev);
        start_search_feed(&state, &prev);
        let router = api::with_layers(api::routes().merge(extra), state.clone());
        state.ready.store(true, Ordering::Release);
        // After `ready`: the scheduler ends as soon as `ready` goes false at shutdown.
        maintenance::schedule::spawn(state.clone());
        Ok(App { listener, router, state, stop: Arc::new(Notify::new()), _lock: lock })
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener has an address")
    }

    pub fn state(&self) -> SharedState {
        self.state.clone()
    }

    /// Notifying it stops the server as SIGTERM would.
    pub fn stop_handle(&self) -> Arc<Notify> {
        self.stop.clone()
    }

    /// Serves until SIGINT, SIGTERM or the stop handle; then drains requests, commits queued
    /// writes, checkpoints and closes every shard, and records a clean stop.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let App { listener, router, state, stop, _lock } = self;
        tracing::info!(
            addr = %listener.local_addr()?,
            db_root = %state.storage.root.path().display(),
            sqlite_allocator = if storage::engine::applied() { "mimalloc" } else { "default" },
            "serving"
        );
        // Job streams are ended once the signal arrives: graceful shutdown waits for every
        // open response, and a stream would otherwise hold it up until its idle timeout.
        let (events, st) = (state.jobs.clone(), state.clone());
        let signal = async move {
            shutdown_signal(stop).await;
            // Not ready from here on: load balancers stop sending, the scheduler stops.
            st.ready.store(false, Ordering::Release);
            events.shutdown();
        };
        axum::serve(listener, router).with_graceful_shutdown(signal).await?;
        state.summaries.stop_flusher();
        state.search_stop.notify_one();
        search::feeder::drain(&state.search, &state.storage.shared.search)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.operator_message()))?;
        let registry = &state.storage.shared.registry;
        state.summaries.flush(registry).await.map_err(|e| anyhow::anyhow!("{}", e.operator_message()))?;
        let st = state.clone();
        tokio::task::spawn_blocking(move || st.storage.shards.shutdown()).await?;
        let now = clock::now();
        storage::pools::with_conn(&state.storage.shared.registry, move |c| registry::store::end_run(c, &now)).await?;
        tracing::info!("stopped cleanly");
        drop(_lock);
        Ok(())
    }
}

/// Session summaries: the once-a-second flusher, and after an unclean stop the background
/// catch-up scan of shards written since the last flush (DESIGN.md §3).
fn start_session_summaries(state: &SharedState, prev: &registry::store::RunState) {
    let pool = state.storage.shared.registry.clone();
    state.summaries.spawn_flusher(pool.clone(), std::time::Duration::from_millis(500));
    if prev.clean_shutdown {
        return;
    }
    let (root, last) = (state.storage.root.clone(), prev.last_flush_at.clone());
    let pragmas = storage::connection::Pragmas::from_config(&state.config.storage);
    tokio::task::spawn_blocking(move || match session::recover::catch_up(&root, &pragmas, &pool, last.as_deref()) {
        Ok(n) => tracing::info!(sessions = n, "session summaries caught up after an unclean stop"),
        Err(e) => tracing::warn!(cause = %e.operator_message(), "session catch-up scan failed"),
    });
}

/// The search feeder (at most a second behind the appends) and, after an unclean stop, a
/// background catch-up of the shards written since the last flush.
fn start_search_feed(state: &SharedState, prev: &registry::store::RunState) {
    let (feed, pool, stop) = (state.search.clone(), state.storage.shared.search.clone(), state.search_stop.clone());
    tokio::spawn(search::feeder::run(feed, pool.clone(), stop, std::time::Duration::from_secs(1)));
    if prev.clean_shutdown {
        return;
    }
    let (root, last) = (state.storage.root.clone(), prev.last_flush_at.clone());
    let pragmas = storage::connection::Pragmas::from_config(&state.config.storage);
    tokio::task::spawn_blocking(move || {
        match session::recover::catch_up_search(&root, &pragmas, &pool, last.as_deref()) {
            Ok(n) => tracing::info!(messages = n, "search index caught up after an unclean stop"),
            Err(e) => tracing::warn!(cause = %e.operator_message(), "search catch-up failed"),
        }
    });
}

async fn shutdown_signal(stop: Arc<Notify>) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
        _ = stop.notified() => {},
    }
    tracing::info!("shutting down");
}
