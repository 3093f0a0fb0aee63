-- cache kind (cache/llm_cache.sqlite and cache/embedding_cache.sqlite), schema version 1.
-- Both files share this schema; each uses its own table. Runs inside a transaction opened
-- by migrate.rs.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Model completions. key = sha256 of provider, model, params and messages.
-- tokens: total tokens of the cached call (usage details, if any, stay in response).
-- expires_at NULL = never expires.
CREATE TABLE llm_cache (
    key         TEXT PRIMARY KEY,
    provider    TEXT NOT NULL,
    model       TEXT NOT NULL,
    response    TEXT NOT NULL CHECK (json_valid(response)),
    tokens      INTEGER,
    created_at  TEXT NOT NULL,
    last_hit_at TEXT,
    hits        INTEGER NOT NULL DEFAULT 0,
    expires_at  TEXT
);

CREATE INDEX llm_cache_expires ON llm_cache (expires_at);

-- Embeddings by (model, text hash); vector is dim little-endian f32.
CREATE TABLE embedding_cache (
    key        TEXT PRIMARY KEY,
    model      TEXT NOT NULL,
    dim        INTEGER NOT NULL CHECK (dim > 0),
    vector     BLOB NOT NULL CHECK (length(vector) = 4 * dim),
    created_at TEXT NOT NULL,
    hits       INTEGER NOT NULL DEFAULT 0
);
