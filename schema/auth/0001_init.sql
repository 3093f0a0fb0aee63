-- auth kind (main/auth.sqlite), schema version 1.
-- API tokens, stored hashed. Backed up, never rebuilt. Runs inside a transaction opened by
-- migrate.rs.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    user_id      TEXT NOT NULL,
    role         TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'user')),
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);

CREATE INDEX tokens_user ON tokens (user_id, created_at);
