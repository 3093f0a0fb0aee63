//! The strict gate for HeartRule-format scripts (DESIGN §5, "Two gates for scripts").
//!
//! [`validate`] is what `validate` and `publish` run: it reports every problem with its file,
//! dotted path, line and column, and reports deprecated names as warnings that carry their
//! replacement. The lenient runtime gate lives with the script engine, not here.
//!
//! The schema is HeartRule's JSON schemas (session, phase, topic, the four action configs and
//! OutputField) re-expressed as Rust tables in `schema`, plus Planbase's named
//! [`EXTENSIONS`]. Nothing is read from disk: this module is pure, with no I/O.
//!
//! YAML is read by `yaml`, which keeps positions (serde_yaml drops them) and enforces
//! [`Limits`]: document size, nesting depth, no aliases (which defeats billion-laughs
//! expansion) and one document per file. [`parse_yaml`] exposes the same reader to callers
//! that only need to know whether a file parses.

pub mod runtime;
mod schema;
mod validate;
mod values;
mod yaml;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use schema::EXTENSIONS;
pub use validate::validate;
pub use yaml::parse_yaml;

/// One problem found in a script. `path` is dotted (`session.phases[0].topics[1].actions[2]`),
/// `""` for the root; `line` and `column` are 1-based.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Problem {
    pub file: Option<String>,
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// For a deprecated name, the name to use instead (None when the key should just go).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
}

/// The outcome of [`validate`]. `valid` is true exactly when `errors` is empty; warnings never
/// make a script invalid.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub valid: bool,
    /// `"session"` or `"technique"`, or None when the kind could not be told.
    pub script_kind: Option<String>,
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

/// Bounds on what the YAML reader and the validator accept (DESIGN §7: every document has a
/// limit).
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub max_yaml_bytes: usize,
    /// Nesting of mappings and lists; the root collection is depth 1.
    pub max_yaml_depth: usize,
    /// Actions counted over every topic of the script.
    pub max_script_actions: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_yaml_bytes: 512 * 1024, max_yaml_depth: 64, max_script_actions: 2000 }
    }
}

/// Why a document did not parse, with a 1-based position.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, column {}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for ParseError {}

impl Limits {
    pub fn from_config(l: &crate::config::LimitsConfig) -> Limits {
        Limits {
            max_yaml_bytes: l.max_yaml_bytes.0 as usize,
            max_yaml_depth: l.max_yaml_depth,
            max_script_actions: l.max_script_actions,
        }
    }
}
