use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::load(Some(std::path::Path::new("/dev/null")), &env(pairs), &Overrides::default())
}

#[test]
fn defaults_match_the_design() {
    let c = load(&[]).unwrap();
    assert_eq!(c.server.bind.to_string(), "127.0.0.1:8080");
    assert_eq!(c.storage.db_root, PathBuf::from("data/databases"));
    assert_eq!(c.storage.max_open_shards, 1024);
    assert_eq!(c.storage.max_shard_bytes.0, 1 << 30);
    assert_eq!(c.limits.max_body_bytes.0, 1 << 20);
    assert_eq!(c.llm.provider, Provider::Offline);
    assert_eq!(c.maintenance.backup_interval, Interval(None));
}

#[test]
fn env_layers_and_db_root_precedence() {
    let c = load(&[("DB_ROOT", "/a"), ("PLANBASE_STORAGE_MAX_OPEN_SHARDS", "16")]).unwrap();
    assert_eq!(c.storage.db_root, PathBuf::from("/a"));
    assert_eq!(c.storage.max_open_shards, 16);
    let c = load(&[("DB_ROOT", "/a"), ("PLANBASE_STORAGE_DB_ROOT", "/b")]).unwrap();
    assert_eq!(c.storage.db_root, PathBuf::from("/b"));
    let c = load(&[("PLANBASE_LLM_MODEL", "gpt-x"), ("PLANBASE_SERVER_CORS_ORIGINS", "http://a, http://b")]).unwrap();
    assert_eq!(c.llm.model.as_deref(), Some("gpt-x"));
    assert_eq!(c.server.cors_origins, vec!["http://a", "http://b"]);
}

#[test]
fn cli_overrides_win_over_env() {
    let o = Overrides { db_root: Some("/cli".into()), bind: Some("127.0.0.1:9".into()) };
    let c = Config::load(Some(std::path::Path::new("/dev/null")), &env(&[("DB_ROOT", "/env")]), &o).unwrap();
    assert_eq!(c.storage.db_root, PathBuf::from("/cli"));
    assert_eq!(c.server.bind.port(), 9);
}

#[test]
fn errors_name_the_key_on_one_line() {
    let e = load(&[("PLANBASE_STORAGE_SYNCHRONOUS", "sometimes")]).unwrap_err().to_string();
    assert!(e.contains("storage.synchronous"), "{e}");
    assert!(!e.contains('\n'));
    let e = load(&[("PLANBASE_STORAGE_NOPE", "1")]).unwrap_err().to_string();
    assert!(e.contains("storage.nope") && e.contains("unknown key"), "{e}");
    let e = load(&[("PLANBASE_STORAGE_MAX_OPEN_SHARDS", "many")]).unwrap_err().to_string();
    assert!(e.contains("storage.max_open_shards"), "{e}");
    let e = load(&[("PLANBASE_EMBEDDING_DIM", "3")]).unwrap_err().to_string();
    assert!(e.contains("embedding.dim"), "{e}");
    let e = load(&[("PLANBASE_SERVER_BIND", "nowhere")]).unwrap_err().to_string();
    assert!(e.contains("server.bind"), "{e}");
}

#[test]
fn file_layer_rejects_unknown_keys_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(&p, "[storage]\nmax_open_shards = 8\n[server]\nbnd = \"x\"\n").unwrap();
    let e = Config::load(Some(&p), &[], &Overrides::default()).unwrap_err().to_string();
    assert!(e.contains("server.bnd"), "{e}");
    std::fs::write(&p, "[storage]\nmax_open_shards = 8\nmax_shard_bytes = \"64 MiB\"\n").unwrap();
    let c = Config::load(Some(&p), &[], &Overrides::default()).unwrap();
    assert_eq!(c.storage.max_open_shards, 8);
    assert_eq!(c.storage.max_shard_bytes.0, 64 << 20);
}

#[test]
fn repo_config_toml_documents_every_key_with_defaults() {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
    let text = std::fs::read_to_string(&p).unwrap();
    let from_file = Config::load(Some(&p), &[], &Overrides::default()).unwrap();
    assert_eq!(from_file.to_redacted_toml(), Config::default().to_redacted_toml());
    let defaults = Value::try_from(Config::default()).unwrap();
    for (section, table) in defaults.as_table().unwrap() {
        for key in table.as_table().unwrap().keys() {
            assert!(text.contains(&format!("{key} =")), "config.toml lacks {section}.{key}");
        }
    }
    for key in optional_keys() {
        let field = key.split_once('.').unwrap().1;
        assert!(text.contains(&format!("# {field} =")), "config.toml does not document {key}");
    }
}

#[test]
fn redaction_hides_secret_looking_keys() {
    let mut v: Value = toml::from_str("[x]\napi_key = \"sk-1\"\napi_key_env = \"OPENAI_API_KEY\"\n").unwrap();
    redact(&mut v);
    let s = v.to_string();
    assert!(!s.contains("sk-1") && s.contains("OPENAI_API_KEY"));
}
