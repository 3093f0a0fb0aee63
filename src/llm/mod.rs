//! Model providers: chat completions behind [`chat::LlmProvider`] (`offline`, `openai`),
//! cached by request hash ([`completion_cache`]); embeddings behind
//! [`embedding::EmbeddingProvider`] (deterministic `offline`), cached by text hash
//! ([`embedding_cache`]), with the vector helpers in [`vector`].

pub mod chat;
pub mod completion_cache;
pub mod embedding;
pub mod embedding_cache;
pub mod offline;
pub mod openai;
pub mod vector;

#[cfg(test)]
mod tests;
