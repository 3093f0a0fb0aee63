-- registry kind (main/registry.sqlite), schema version 1.
-- Index of every project and session shard plus the job index. Everything here can be
-- rebuilt from the shards by `reindex` (DESIGN §2).
-- Runs inside a transaction opened by migrate.rs; user_version/application_id are set there.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- One row per project shard (projects/project_<id>.sqlite).
CREATE TABLE projects (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    description        TEXT NOT NULL DEFAULT '',
    status             TEXT NOT NULL DEFAULT 'draft'
                       CHECK (status IN ('draft', 'published', 'archived', 'deprecated')),
    owner              TEXT,
    author             TEXT,
    tags               TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags)),
    engine_version     TEXT,
    engine_version_min TEXT,
    current_version_id TEXT,
    metadata           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    file_bytes         INTEGER NOT NULL DEFAULT 0 CHECK (file_bytes >= 0),
    health             TEXT NOT NULL DEFAULT 'ok' CHECK (health IN ('ok', 'quarantined'))
);

-- List indexes are (filter, updated_at DESC, id DESC): newest first with id as tie-breaker, so
-- the keyset page  WHERE <filter> AND (updated_at, id) < (?, ?)
--                  ORDER BY updated_at DESC, id DESC LIMIT ?
-- is a single index range with no sort step.
CREATE INDEX projects_updated ON projects (updated_at DESC, id DESC);
CREATE INDEX projects_status_updated ON projects (status, updated_at DESC, id DESC);
CREATE INDEX projects_author_updated ON projects (author, updated_at DESC, id DESC);

-- One row per session shard (sessions/session_<id>.sqlite).
-- summary_seq: the shard seq that message_count / last_message_at cover. A shard that opens
-- with a higher max(seq) is reconciled on the spot.
CREATE TABLE sessions (
    id               TEXT PRIMARY KEY,
    project_id       TEXT,
    user_id          TEXT,
    name             TEXT,
    name_source      TEXT NOT NULL DEFAULT 'auto' CHECK (name_source IN ('auto', 'user')),
    status           TEXT NOT NULL DEFAULT 'active'
                     CHECK (status IN ('active', 'paused', 'completed', 'failed', 'archived')),
    execution_status TEXT NOT NULL DEFAULT 'waiting_input'
                     CHECK (execution_status IN ('running', 'waiting_input', 'paused', 'completed', 'error')),
    message_count    INTEGER NOT NULL DEFAULT 0 CHECK (message_count >= 0),
    last_message_at  TEXT,
    summary_seq      INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    current_task_id  INTEGER,
    metadata         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    health           TEXT NOT NULL DEFAULT 'ok' CHECK (health IN ('ok', 'quarantined'))
);

CREATE INDEX sessions_updated ON sessions (updated_at DESC, id DESC);
CREATE INDEX sessions_status_updated ON sessions (status, updated_at DESC, id DESC);
CREATE INDEX sessions_user_updated ON sessions (user_id, updated_at DESC, id DESC);
CREATE INDEX sessions_project_updated ON sessions (project_id, updated_at DESC, id DESC);

-- job_id -> the file that holds the job (project_id NULL = jobs/system_jobs.sqlite).
CREATE TABLE job_index (
    job_id     TEXT PRIMARY KEY,
    project_id TEXT,
    job_type   TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE INDEX job_index_project ON job_index (project_id, created_at DESC, job_id DESC);

-- Single row used by the summary flusher: when the last flush happened and whether the last
-- stop was clean (the startup scan reconciles shards newer than last_flush_at after an
-- unclean stop).
CREATE TABLE flush_state (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    last_flush_at  TEXT,
    clean_shutdown INTEGER NOT NULL DEFAULT 0 CHECK (clean_shutdown IN (0, 1))
);

INSERT INTO flush_state (id, last_flush_at, clean_shutdown) VALUES (1, NULL, 0);
