//! Configuration: typed defaults → `config.toml` → `PLANBASE_<SECTION>_<KEY>` env → CLI flags.
//!
//! Layering happens on a `toml::Value` tree, and the merged tree is deserialized once with
//! `serde_path_to_error`, so every error names the key it is about (`storage.synchronous: …`).
//! Unknown keys are errors in every layer.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use toml::Value;

mod units;
pub use units::{ByteSize, Interval};

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub limits: LimitsConfig,
    pub llm: LlmConfig,
    pub embedding: EmbeddingConfig,
    pub auth: AuthConfig,
    pub maintenance: MaintenanceConfig,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    pub cors_origins: Vec<String>,
    pub request_timeout_ms: u64,
    pub stream_idle_timeout_ms: u64,
    pub log_format: LogFormat,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            cors_origins: Vec::new(),
            request_timeout_ms: 30_000,
            stream_idle_timeout_ms: 300_000,
            log_format: LogFormat::Pretty,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    Normal,
    Full,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub db_root: PathBuf,
    pub max_open_shards: usize,
    pub readers_per_shard: usize,
    pub busy_timeout_ms: u64,
    pub synchronous: Synchronous,
    pub cache_size_kib: u64,
    pub max_shard_bytes: ByteSize,
    /// Writer threads (group commit); 0 = twice the cores, between 4 and 16.
    pub writer_threads: usize,
    /// Read threads (shard reads, the offline model); 0 = twice the cores, between 4 and 16.
    pub read_threads: usize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            db_root: PathBuf::from("data/databases"),
            max_open_shards: 1024,
            readers_per_shard: 2,
            busy_timeout_ms: 5000,
            synchronous: Synchronous::Normal,
            cache_size_kib: 2048,
            max_shard_bytes: ByteSize(1 << 30),
            writer_threads: 0,
            read_threads: 0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub max_body_bytes: ByteSize,
    pub max_message_bytes: ByteSize,
    pub max_parts: usize,
    pub max_yaml_bytes: ByteSize,
    pub max_yaml_depth: usize,
    pub max_script_actions: usize,
    pub max_import_bytes: ByteSize,
    pub max_page: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_body_bytes: ByteSize(1 << 20),
            max_message_bytes: ByteSize(256 << 10),
            max_parts: 256,
            max_yaml_bytes: ByteSize(512 << 10),
            max_yaml_depth: 64,
            max_script_actions: 2000,
            max_import_bytes: ByteSize(256 << 20),
            max_page: 200,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Offline,
    Openai,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    pub provider: Provider,
    pub model: Option<String>,
    pub base_url: Option<String>,
    /// The *name* of the environment variable holding the key; the key itself never lives in
    /// config, so `planbase config` has nothing secret to print here.
    pub api_key_env: String,
    pub timeout_ms: u64,
    pub max_retries: u32,
    pub cache: bool,
    pub cache_ttl_s: u64,
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            provider: Provider::Offline,
            model: None,
            base_url: None,
            api_key_env: "OPENAI_API_KEY".into(),
            timeout_ms: 60_000,
            max_retries: 2,
            cache: true,
            cache_ttl_s: 604_800,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddingConfig {
    pub provider: Provider,
    pub model: Option<String>,
    pub dim: Option<u32>,
}

impl Default for EmbeddingConfig {
    fn default() -> Self {
        EmbeddingConfig { provider: Provider::Offline, model: None, dim: None }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    None,
    Token,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub mode: AuthMode,
    pub public_metrics: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig { mode: AuthMode::None, public_metrics: false }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MaintenanceConfig {
    pub archive_after_days: u32,
    pub log_retention_days: u32,
    pub trash_retention_days: u32,
    /// How often the scheduled maintenance run happens (`off` to run it only on request).
    pub interval: Interval,
    /// How often closed shards' WALs are checkpointed and removed (`off` leaves them to
    /// maintenance and to the shards' next writes).
    pub wal_sweep_interval: Interval,
    /// VACUUM idle shards with a quarter or more of their pages free during maintenance.
    pub vacuum_idle_shards: bool,
    pub backup_interval: Interval,
    pub backup_keep: u32,
}

impl Default for MaintenanceConfig {
    fn default() -> Self {
        MaintenanceConfig {
            archive_after_days: 90,
            log_retention_days: 30,
            trash_retention_days: 30,
            interval: Interval(Some(86_400)),
            wal_sweep_interval: Interval(Some(300)),
            vacuum_idle_shards: false,
            backup_interval: Interval(None),
            backup_keep: 7,
        }
    }
}

/// A config error: always one line that starts with the key it is about.
#[derive(Debug, thiserror::Error)]
#[error("config error: {0}")]
pub struct ConfigError(pub String);

/// Overrides that come from CLI flags, the top layer.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub db_root: Option<PathBuf>,
    pub bind: Option<String>,
}

impl Config {
    /// Builds the effective config. `file` is an explicit config path (an error if missing);
    /// without it `./config.toml` is read when present.
    pub fn load(
        file: Option<&std::path::Path>,
        env: &[(String, String)],
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        let mut tree = Value::try_from(Config::default()).map_err(|e| ConfigError(e.to_string()))?;
        if let Some(text) = read_config_file(file)? {
            let file_tree: toml::Table = text.parse().map_err(|e: toml::de::Error| toml_syntax_error(&text, &e))?;
            merge(&mut tree, Value::Table(file_tree), "")?;
        }
        apply_env(&mut tree, env)?;
        apply_overrides(&mut tree, overrides)?;
        let cfg: Config = serde_path_to_error::deserialize(tree).map_err(|e| {
            let path = e.path().to_string();
            ConfigError(format!("{path}: {}", first_line(&e.inner().to_string())))
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Convenience for the process: reads the real environment.
    pub fn from_env(file: Option<&std::path::Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load(file, &env, overrides)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let dim_ok = self.embedding.dim.is_none_or(|d| (8..=8192).contains(&d));
        let checks: [(&str, bool); 9] = [
            ("embedding.dim", dim_ok),
            ("storage.max_open_shards", self.storage.max_open_shards >= 1),
            ("storage.readers_per_shard", (1..=64).contains(&self.storage.readers_per_shard)),
            ("storage.max_shard_bytes", self.storage.max_shard_bytes.0 >= 1 << 20),
            ("limits.max_page", self.limits.max_page >= 1),
            ("limits.max_body_bytes", self.limits.max_body_bytes.0 >= 1024),
            ("server.request_timeout_ms", self.server.request_timeout_ms >= 1),
            ("storage.db_root", !self.storage.db_root.as_os_str().is_empty()),
            ("limits.max_parts", self.limits.max_parts >= 1),
        ];
        match checks.iter().find(|(_, ok)| !ok) {
            Some((key, _)) => Err(ConfigError(format!("{key}: value out of range"))),
            None => Ok(()),
        }
    }

    /// The effective config as TOML, secrets redacted. No key holds a secret today (the LLM key
    /// is read from the variable `llm.api_key_env` names); `redact` keeps it that way for
    /// future keys whose name says they are secret.
    pub fn to_redacted_toml(&self) -> String {
        let mut tree = Value::try_from(self).expect("config serializes");
        redact(&mut tree);
        toml::to_string_pretty(&tree).expect("config prints")
    }
}

fn read_config_file(file: Option<&std::path::Path>) -> Result<Option<String>, ConfigError> {
    let (path, required) = match file {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from("config.toml"), false),
    };
    match std::fs::read_to_string(&path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => Ok(None),
        Err(e) => Err(ConfigError(format!("config file {}: {e}", path.display()))),
    }
}

fn toml_syntax_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let line = e.span().map(|s| text[..s.start].lines().count().max(1)).unwrap_or(0);
    ConfigError(format!("config.toml line {line}: {}", first_line(e.message())))
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// Merges `src` into `dst`; every key of `src` must already exist in `dst` (the defaults hold
/// every key, optional ones included — see `optional_keys`).
fn merge(dst: &mut Value, src: Value, prefix: &str) -> Result<(), ConfigError> {
    let Value::Table(src) = src else {
        return Ok(());
    };
    for (k, v) in src {
        let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        let Some(table) = dst.as_table_mut() else {
            return Err(ConfigError(format!("{path}: unknown key")));
        };
        let known = table.contains_key(&k) || optional_keys().contains(&path.as_str());
        if !known {
            return Err(ConfigError(format!("{path}: unknown key")));
        }
        match (table.get_mut(&k), v) {
            (Some(d @ Value::Table(_)), v @ Value::Table(_)) => merge(d, v, &path)?,
            (Some(Value::Table(_)), _) => return Err(ConfigError(format!("{path}: expected a table"))),
            (_, v) => {
                table.insert(k, v);
            }
        }
    }
    Ok(())
}

/// Keys whose default is "unset", so they are absent from the serialized defaults.
fn optional_keys() -> &'static [&'static str] {
    &["llm.model", "llm.base_url", "embedding.model", "embedding.dim"]
}

/// `PLANBASE_<SECTION>_<KEY>`; `DB_ROOT` as the seed names it, `PLANBASE_STORAGE_DB_ROOT` wins.
/// `PLANBASE_CONFIG` (the config file path) and `PLANBASE_LOG` (log filter) are not keys.
fn apply_env(tree: &mut Value, env: &[(String, String)]) -> Result<(), ConfigError> {
    let has_pb_root = env.iter().any(|(k, _)| k == "PLANBASE_STORAGE_DB_ROOT");
    for (name, raw) in env {
        let key = if name == "DB_ROOT" && !has_pb_root {
            "storage.db_root".to_string()
        } else if let Some(rest) = name.strip_prefix("PLANBASE_") {
            if matches!(rest, "CONFIG" | "LOG") {
                continue;
            }
            let Some((section, key)) = rest.split_once('_') else {
                return Err(ConfigError(format!("{name}: not a PLANBASE_<SECTION>_<KEY> variable")));
            };
            format!("{}.{}", section.to_lowercase(), key.to_lowercase())
        } else {
            continue;
        };
        set_key(tree, &key, raw).map_err(|m| ConfigError(format!("{key} (from {name}): {m}")))?;
    }
    Ok(())
}

fn apply_overrides(tree: &mut Value, o: &Overrides) -> Result<(), ConfigError> {
    if let Some(root) = &o.db_root {
        set_key(tree, "storage.db_root", &root.to_string_lossy()).map_err(ConfigError)?;
    }
    if let Some(bind) = &o.bind {
        set_key(tree, "server.bind", bind).map_err(|m| ConfigError(format!("server.bind: {m}")))?;
    }
    Ok(())
}

/// Sets one dotted key from a string, typed after the key's current value: integers and
/// booleans parse, arrays take a comma-separated list, everything else stays a string (and is
/// checked when the whole tree is deserialized).
fn set_key(tree: &mut Value, key: &str, raw: &str) -> Result<(), String> {
    let (section, field) = key.split_once('.').ok_or("unknown key")?;
    let table = tree.get_mut(section).and_then(Value::as_table_mut).ok_or("unknown key")?;
    let current = table.get(field);
    if current.is_none() && !optional_keys().contains(&key) {
        return Err("unknown key".into());
    }
    let value = match current {
        Some(Value::Integer(_)) => {
            Value::Integer(raw.trim().parse().map_err(|_| format!("expected an integer, got {raw:?}"))?)
        }
        Some(Value::Boolean(_)) => {
            Value::Boolean(raw.trim().parse().map_err(|_| format!("expected true or false, got {raw:?}"))?)
        }
        Some(Value::Array(_)) => Value::Array(
            raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| Value::String(s.into())).collect(),
        ),
        _ => match raw.trim().parse::<i64>() {
            Ok(n) if key == "embedding.dim" => Value::Integer(n),
            _ => Value::String(raw.to_string()),
        },
    };
    table.insert(field.to_string(), value);
    Ok(())
}

fn is_secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    ["secret", "password", "token", "api_key"].iter().any(|s| k.ends_with(s)) && !k.ends_with("_env")
}

fn redact(v: &mut Value) {
    if let Value::Table(t) = v {
        for (k, v) in t.iter_mut() {
            if is_secret_key(k) && v.is_str() {
                *v = Value::String("[redacted]".into());
            } else {
                redact(v);
            }
        }
    }
}

#[cfg(test)]
mod tests;
