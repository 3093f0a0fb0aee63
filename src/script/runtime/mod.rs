//! The runtime side of scripts: the lenient parser ([`model`]), variables and
//! interpolation ([`vars`]) and the executor ([`engine`]).

pub mod engine;
pub mod llm_model;
pub mod model;
pub mod runs;
pub mod turn;
pub mod vars;

#[cfg(test)]
mod tests;
