//! Memory types and the checks on what a client may store.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{AppError, AppResult};

pub const MAX_CONTENT_BYTES: usize = 16 * 1024;
pub const MAX_CONTEXT_BYTES: usize = 64 * 1024;
pub const MAX_TYPE_CHARS: usize = 50;
pub const MAX_LIST_ITEMS: usize = 100;
pub const MAX_ITEM_CHARS: usize = 200;
pub const MAX_TOP_K: i64 = 100;
pub const DEFAULT_TOP_K: usize = 10;

/// A stored memory as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Memory {
    pub id: String,
    pub content: String,
    pub memory_type: String,
    pub importance: String,
    pub keywords: Value,
    pub tags: Value,
    pub context: Option<String>,
    pub related_task_id: Option<i64>,
    pub created_at: String,
    pub last_accessed: Option<String>,
    pub access_count: i64,
}

/// The schema has no CHECK on importance, so the enum is the only gate.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Importance {
    Low,
    #[default]
    Medium,
    High,
    Critical,
}

impl Importance {
    pub fn as_str(self) -> &'static str {
        match self {
            Importance::Low => "low",
            Importance::Medium => "medium",
            Importance::High => "high",
            Importance::Critical => "critical",
        }
    }
}

/// `POST /sessions/{id}/memories`.
#[derive(Debug, Clone, Deserialize)]
pub struct NewMemory {
    pub content: String,
    pub memory_type: Option<String>,
    #[serde(default)]
    pub importance: Importance,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub context: Option<String>,
    pub related_task_id: Option<i64>,
}

impl NewMemory {
    pub fn validate(&self) -> AppResult<()> {
        if self.content.trim().is_empty() {
            return Err(AppError::validation("content", "content must not be empty"));
        }
        if self.content.len() > MAX_CONTENT_BYTES {
            return Err(AppError::validation("content", format!("content is over {MAX_CONTENT_BYTES} bytes")));
        }
        check_type(self.memory_type.as_deref(), "memory_type")?;
        check_list(&self.keywords, "keywords")?;
        check_list(&self.tags, "tags")?;
        if self.context.as_ref().is_some_and(|c| c.len() > MAX_CONTEXT_BYTES) {
            return Err(AppError::validation("context", format!("context is over {MAX_CONTEXT_BYTES} bytes")));
        }
        Ok(())
    }

    pub fn memory_type(&self) -> &str {
        self.memory_type.as_deref().unwrap_or("note")
    }
}

/// A memory type, when given, is 1..=50 characters.
pub fn check_type(t: Option<&str>, field: &str) -> AppResult<()> {
    match t {
        Some(t) if t.trim().is_empty() || t.chars().count() > MAX_TYPE_CHARS => {
            Err(AppError::validation(field, format!("{field} must be 1 to {MAX_TYPE_CHARS} characters")))
        }
        _ => Ok(()),
    }
}

fn check_list(items: &[String], field: &str) -> AppResult<()> {
    if items.len() > MAX_LIST_ITEMS {
        return Err(AppError::validation(field, format!("{field} holds at most {MAX_LIST_ITEMS} items")));
    }
    if let Some(i) = items.iter().position(|s| s.chars().count() > MAX_ITEM_CHARS) {
        let path = format!("{field}[{i}]");
        return Err(AppError::validation(&path, format!("{path} is over {MAX_ITEM_CHARS} characters")));
    }
    Ok(())
}

/// `GET /sessions/{id}/memories?memory_type&cursor&limit`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MemoryFilter {
    pub memory_type: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// Keyset position for the newest-first list: `(created_at DESC, id DESC)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryKey {
    pub c: String,
    pub i: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    Text,
    Vector,
    Hybrid,
}

/// `POST /sessions/{id}/memories/search`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SearchRequest {
    pub query: Option<String>,
    pub vector: Option<Vec<f32>>,
    pub mode: Option<SearchMode>,
    pub top_k: Option<i64>,
    pub memory_type: Option<String>,
}

impl SearchRequest {
    /// The mode to run, after checking that its inputs are there: hybrid when a query is
    /// given, vector when only a vector is.
    pub fn checked_mode(&self) -> AppResult<SearchMode> {
        let query = self.query.as_deref().is_some_and(|q| !q.trim().is_empty());
        let mode = match (self.mode, query, self.vector.is_some()) {
            (Some(m), ..) => m,
            (None, true, _) => SearchMode::Hybrid,
            (None, false, true) => SearchMode::Vector,
            (None, false, false) => return Err(AppError::validation("query", "give a query or a vector")),
        };
        match mode {
            SearchMode::Text | SearchMode::Hybrid if !query => {
                Err(AppError::validation("query", "a non-empty query is needed for text and hybrid search"))
            }
            SearchMode::Vector if !query && self.vector.is_none() => {
                Err(AppError::validation("vector", "vector search needs a vector or a query"))
            }
            m => Ok(m),
        }
    }

    /// A client vector must be finite: JSON numbers beyond f32's range arrive as infinity,
    /// which would make every cosine NaN.
    pub fn check_vector(&self) -> AppResult<()> {
        match &self.vector {
            Some(v) if v.is_empty() || v.iter().any(|x| !x.is_finite()) => {
                Err(AppError::validation("vector", "vector must be a non-empty list of finite numbers"))
            }
            _ => Ok(()),
        }
    }

    pub fn checked_top_k(&self) -> AppResult<usize> {
        match self.top_k {
            None => Ok(DEFAULT_TOP_K),
            Some(k) if (1..=MAX_TOP_K).contains(&k) => Ok(k as usize),
            Some(k) => Err(AppError::validation("top_k", format!("top_k must be between 1 and {MAX_TOP_K}, got {k}"))),
        }
    }
}

/// One search result, best first.
#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    pub memory: Memory,
    pub score: f32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(content: &str) -> NewMemory {
        serde_json::from_value(serde_json::json!({"content": content})).unwrap()
    }

    #[test]
    fn defaults_and_checks() {
        let m = new("remember this");
        assert_eq!((m.memory_type(), m.importance), ("note", Importance::Medium));
        m.validate().unwrap();
        assert_eq!(new("   ").validate().unwrap_err().details["field"], "content");
        assert!(new(&"x".repeat(MAX_CONTENT_BYTES + 1)).validate().is_err());
        let mut m = new("ok");
        m.memory_type = Some("t".repeat(51));
        assert_eq!(m.validate().unwrap_err().details["field"], "memory_type");
        m.memory_type = None;
        m.tags = vec!["y".repeat(201)];
        assert_eq!(m.validate().unwrap_err().details["field"], "tags[0]");
    }

    #[test]
    fn search_modes_need_their_inputs() {
        let req = |v: serde_json::Value| serde_json::from_value::<SearchRequest>(v).unwrap();
        assert_eq!(req(serde_json::json!({"query": "a"})).checked_mode().unwrap(), SearchMode::Hybrid);
        assert_eq!(req(serde_json::json!({"vector": [1.0]})).checked_mode().unwrap(), SearchMode::Vector);
        assert!(req(serde_json::json!({})).checked_mode().is_err());
        assert!(req(serde_json::json!({"mode": "text", "vector": [1.0]})).checked_mode().is_err());
        assert!(req(serde_json::json!({"mode": "vector"})).checked_mode().is_err());
        for bad in [0, 101, -1] {
            assert!(req(serde_json::json!({"top_k": bad})).checked_top_k().is_err());
        }
        assert_eq!(req(serde_json::json!({})).checked_top_k().unwrap(), DEFAULT_TOP_K);
        assert!(req(serde_json::json!({"vector": [1e40]})).check_vector().is_err());
        assert!(req(serde_json::json!({"vector": []})).check_vector().is_err());
        req(serde_json::json!({"vector": [0.5]})).check_vector().unwrap();
    }
}
