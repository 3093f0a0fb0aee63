//! Model providers: chat completions behind [`chat::LlmProvider`] (`offline`, `openai`),
//! cached by request hash ([`completion_cache`]).

pub mod chat;
pub mod completion_cache;
pub mod offline;
pub mod openai;

#[cfg(test)]
mod tests;
