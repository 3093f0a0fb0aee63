//! Session memories (DESIGN.md §4, §6): notes an agent keeps in the session shard, each with
//! an embedding from the configured provider, listed newest first and found again by text
//! (FTS5 plus substring), by vector (cosine top-k) or both (reciprocal rank fusion).
//!
//! Embedding runs on a blocking thread before the write, so the shard's writer thread only
//! inserts rows.

pub mod model;
pub mod search;
pub mod store;

use std::sync::Arc;

use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::llm::embedding::EmbeddingProvider;
use crate::paging;
use crate::storage::{ShardKind, Storage};
use model::{Memory, MemoryFilter, MemoryKey, NewMemory, SearchHit, SearchMode, SearchRequest};

pub fn memory_not_found() -> AppError {
    AppError::not_found("memory_not_found", "memory", "no memory with this id in this session")
}

/// Embeds one text off the runtime thread (the provider may hit SQLite or the network).
pub async fn embed(p: Arc<dyn EmbeddingProvider>, text: String) -> AppResult<Vec<f32>> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        p.embed(&[text])?.pop().ok_or_else(|| AppError::internal("embedding provider returned no vector"))
    })
    .await
    .map_err(AppError::internal)?
}

fn session_not_found() -> AppError {
    AppError::not_found("session_not_found", "session", "no session with this id")
}

/// `p` is the server's embedding provider (`AppState::embedder`), behind the cache.
pub async fn create(st: &Storage, p: &Arc<dyn EmbeddingProvider>, session: Uuid, new: NewMemory) -> AppResult<Memory> {
    new.validate()?;
    // Cheap check first, so an unknown session does not cost an embedding.
    if !st.shards.exists(ShardKind::Session, session) {
        return Err(session_not_found());
    }
    let model = p.model().to_string();
    let vector = embed(p.clone(), new.content.clone()).await?;
    let m = Memory {
        id: Uuid::now_v7().to_string(),
        content: new.content.clone(),
        memory_type: new.memory_type().to_string(),
        importance: new.importance.as_str().to_string(),
        keywords: serde_json::json!(new.keywords),
        tags: serde_json::json!(new.tags),
        context: new.context,
        related_task_id: new.related_task_id,
        created_at: crate::clock::now(),
        last_accessed: None,
        access_count: 0,
    };
    let row = m.clone();
    st.shards.write(ShardKind::Session, session, move |c| store::insert(c, &row, &model, &vector)).await?;
    Ok(m)
}

pub async fn list(
    st: &Storage,
    session: Uuid,
    f: MemoryFilter,
    max_page: usize,
) -> AppResult<(Vec<Memory>, Option<String>)> {
    let limit = paging::check_limit(f.limit, max_page)?;
    let after: Option<MemoryKey> = f.cursor.as_deref().map(paging::decode).transpose()?;
    let rows = st
        .shards
        .read(ShardKind::Session, session, move |c| store::list(c, f.memory_type.as_deref(), after.as_ref(), limit))
        .await?;
    Ok(paging::page(rows, limit, |m| paging::encode(&MemoryKey { c: m.created_at.clone(), i: m.id.clone() })))
}

/// Reads one memory and counts the access (a write, so it goes through the writer thread).
pub async fn get(st: &Storage, session: Uuid, id: Uuid) -> AppResult<Memory> {
    let now = crate::clock::now();
    st.shards
        .write(ShardKind::Session, session, move |c| store::touch(c, &id.to_string(), &now))
        .await?
        .ok_or_else(memory_not_found)
}

pub async fn delete(st: &Storage, session: Uuid, id: Uuid) -> AppResult<()> {
    let gone = st.shards.write(ShardKind::Session, session, move |c| store::delete(c, &id.to_string())).await?;
    gone.then_some(()).ok_or_else(memory_not_found)
}

/// Runs a search; see the module docs for the modes.
pub async fn search(
    st: &Storage,
    p: &Arc<dyn EmbeddingProvider>,
    session: Uuid,
    req: SearchRequest,
) -> AppResult<Vec<SearchHit>> {
    let mode = req.checked_mode()?;
    let k = req.checked_top_k()?;
    req.check_vector()?;
    model::check_type(req.memory_type.as_deref(), "memory_type")?;
    if !st.shards.exists(ShardKind::Session, session) {
        return Err(session_not_found());
    }
    let query = req.query.clone().filter(|q| !q.trim().is_empty());
    let qvec = match mode {
        SearchMode::Text => None,
        _ => Some(query_vector(p, req.vector.clone(), query.clone()).await?),
    };
    let plan = search::Plan { mode, k, query, vector: qvec, memory_type: req.memory_type };
    st.shards.read(ShardKind::Session, session, move |c| hits(c, plan.rank(c)?)).await
}

/// The query vector with its model: the client's vector (which must match the provider's
/// dim, since only that model's vectors are stored) or the embedded query text.
async fn query_vector(
    p: &Arc<dyn EmbeddingProvider>,
    given: Option<Vec<f32>>,
    query: Option<String>,
) -> AppResult<(String, Vec<f32>)> {
    let model = p.model().to_string();
    match (given, query) {
        (Some(v), _) if v.len() != p.dim() => Err(AppError::validation(
            "vector",
            format!("vector has {} dimensions; memories are embedded with {} ({model})", v.len(), p.dim()),
        )),
        (Some(v), _) => Ok((model, v)),
        (None, Some(q)) => Ok((model, embed(p.clone(), q).await?)),
        (None, None) => Err(AppError::validation("vector", "vector search needs a vector or a query")),
    }
}

fn hits(c: &rusqlite::Connection, ranked: Vec<(String, f32)>) -> AppResult<Vec<SearchHit>> {
    let ids: Vec<String> = ranked.iter().map(|(id, _)| id.clone()).collect();
    let mut found = store::get_many(c, &ids)?;
    Ok(ranked
        .into_iter()
        .filter_map(|(id, score)| found.remove(&id).map(|memory| SearchHit { memory, score }))
        .collect())
}
