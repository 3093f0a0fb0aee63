//! Process-wide model counters for `GET /metrics`: calls to each provider by outcome, retries,
//! and completion-cache hits and misses. Plain atomics: a call costs one increment.
//!
//! [`Metered`] wraps a provider and counts its calls. It sits under the completion cache, so
//! a cache hit is not a model call.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use super::chat::{ChatRequest, ChatResponse, LlmProvider, OnDelta};
use crate::error::AppResult;

/// The providers Planbase knows; anything else is counted as `other`.
pub const PROVIDERS: [&str; 3] = ["offline", "openai", "other"];
/// `ok`, a failure, or stopped because the client went away.
pub const OUTCOMES: [&str; 3] = ["ok", "error", "cancelled"];

struct Counters {
    calls: [[AtomicU64; OUTCOMES.len()]; PROVIDERS.len()],
    retries: [AtomicU64; PROVIDERS.len()],
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
}

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicU64 = AtomicU64::new(0);
#[allow(clippy::declare_interior_mutable_const)]
const ZEROS: [AtomicU64; OUTCOMES.len()] = [ZERO; OUTCOMES.len()];
static COUNTERS: Counters = Counters {
    calls: [ZEROS; PROVIDERS.len()],
    retries: [ZERO; PROVIDERS.len()],
    cache_hits: ZERO,
    cache_misses: ZERO,
};

fn slot(provider: &str) -> usize {
    PROVIDERS.iter().position(|p| *p == provider).unwrap_or(PROVIDERS.len() - 1)
}

/// Counts one finished model call.
pub fn call<T>(provider: &str, r: &AppResult<T>) {
    let outcome = match r {
        Ok(_) => 0,
        Err(e) if e.code == "client_disconnected" => 2,
        Err(_) => 1,
    };
    COUNTERS.calls[slot(provider)][outcome].fetch_add(1, Relaxed);
}

/// Counts one retried attempt.
pub fn retry(provider: &str) {
    COUNTERS.retries[slot(provider)].fetch_add(1, Relaxed);
}

pub fn cache(hit: bool) {
    let c = if hit { &COUNTERS.cache_hits } else { &COUNTERS.cache_misses };
    c.fetch_add(1, Relaxed);
}

/// What `/metrics` shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// `(provider, outcome, count)` for every pair.
    pub calls: Vec<(&'static str, &'static str, u64)>,
    /// `(provider, count)`.
    pub retries: Vec<(&'static str, u64)>,
    pub cache_hits: u64,
    pub cache_misses: u64,
}

pub fn snapshot() -> Snapshot {
    let c = &COUNTERS;
    let calls = PROVIDERS
        .iter()
        .enumerate()
        .flat_map(|(p, name)| {
            OUTCOMES.iter().enumerate().map(move |(o, out)| (*name, *out, c.calls[p][o].load(Relaxed)))
        })
        .collect();
    let retries = PROVIDERS.iter().enumerate().map(|(p, name)| (*name, c.retries[p].load(Relaxed))).collect();
    Snapshot { calls, retries, cache_hits: c.cache_hits.load(Relaxed), cache_misses: c.cache_misses.load(Relaxed) }
}

/// A provider whose calls are counted.
pub struct Metered(pub Arc<dyn LlmProvider>);

impl LlmProvider for Metered {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn model(&self) -> &str {
        self.0.model()
    }

    fn cacheable(&self) -> bool {
        self.0.cacheable()
    }

    fn waits_on_network(&self) -> bool {
        self.0.waits_on_network()
    }

    fn complete(&self, req: &ChatRequest) -> AppResult<ChatResponse> {
        let r = self.0.complete(req);
        call(self.name(), &r);
        r
    }

    fn complete_stream(&self, req: &ChatRequest, on_delta: OnDelta<'_>) -> AppResult<ChatResponse> {
        let r = self.0.complete_stream(req, on_delta);
        call(self.name(), &r);
        r
    }
}
