//! `planbase token create --user U [--admin]` and `planbase token revoke ID`.
//!
//! `main/auth.sqlite` is the one file the CLI writes beside a running server (DESIGN.md
//! §1.6): the server only reads tokens, and SQLite's locking keeps both sides consistent.

use anyhow::anyhow;

use crate::auth::store;
use crate::config::Config;
use crate::storage::connection::{self, Mode, Pragmas};
use crate::storage::migrate::FileKind;
use crate::storage::DbRoot;

fn open(config: &Config) -> anyhow::Result<rusqlite::Connection> {
    let root = DbRoot::new(&config.storage.db_root);
    std::fs::create_dir_all(root.auth().parent().expect("main/ has a parent"))?;
    connection::open(&root.auth(), FileKind::Auth, &Pragmas::from_config(&config.storage), Mode::Create)
        .map_err(|e| anyhow!("{}", e.operator_message()))
}

/// Prints the token once, as the last word of the last line.
pub fn create(config: &Config, user: &str, admin: bool) -> anyhow::Result<()> {
    let (info, secret) = store::create(&open(config)?, user, admin).map_err(|e| anyhow!("{}", e.message))?;
    println!("token {} for user {} ({})", info.id, info.user_id, info.role);
    println!("store it now, it is not shown again: {secret}");
    Ok(())
}

pub fn revoke(config: &Config, id: &str) -> anyhow::Result<()> {
    store::revoke(&open(config)?, id).map_err(|e| anyhow!("{}", e.message))?;
    println!("token {id} revoked");
    Ok(())
}
