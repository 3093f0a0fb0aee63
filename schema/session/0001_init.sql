-- session kind (sessions/session_<uuid>.sqlite), schema version 1.
-- One file per chat session: meta, messages (+ FTS), state, turns, variable history,
-- memories and action runs. A chat turn writes only this file.
-- Runs inside a transaction opened by migrate.rs.
-- Small per-session tables (turns, memories, action runs, idempotency keys) get no secondary
-- indexes on purpose: every index costs a 4 KiB page in each of many session files.

-- kind, id, schema version, created_at, producing Planbase version, and: project_id,
-- version_id, version_snapshot (or the script file's snapshot), script_file_id, user_id,
-- name, name_source, status, current_task_id, metadata (DESIGN §2, §4).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Messages in the AI SDK UIMessage form. seq is the history cursor; a merge into an existing
-- id keeps its seq. content is the plain text of the text and reasoning parts, kept for
-- search.
CREATE TABLE messages (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'tool')),
    content     TEXT NOT NULL DEFAULT '',
    parts       TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(parts)),
    attachments TEXT CHECK (attachments IS NULL OR json_valid(attachments)),
    metadata    TEXT CHECK (metadata IS NULL OR json_valid(metadata)),
    action_id   TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- In-session full-text search: external-content FTS5 over messages.content, rowid = seq.
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    content,
    content = 'messages',
    content_rowid = 'seq',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, content) VALUES (new.seq, new.content);
END;

CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.seq, old.content);
END;

-- Only re-index when the text (or the rowid) changed: a merge that touches only tool parts
-- or metadata writes nothing to the FTS index.
CREATE TRIGGER messages_fts_au AFTER UPDATE ON messages
WHEN old.content IS NOT new.content OR old.seq IS NOT new.seq BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.seq, old.content);
    INSERT INTO messages_fts (rowid, content) VALUES (new.seq, new.content);
END;

-- Script execution state: the single row id = 1.
-- position: {phaseIndex, topicIndex, actionIndex, phaseId, topicId, actionId, actionType,
-- currentRound, maxRounds}; variable_store: {global, session, phase, topic}.
CREATE TABLE state (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    status           TEXT NOT NULL DEFAULT 'active'
                     CHECK (status IN ('active', 'paused', 'completed', 'failed', 'archived')),
    execution_status TEXT NOT NULL DEFAULT 'waiting_input'
                     CHECK (execution_status IN ('running', 'waiting_input', 'paused', 'completed', 'error')),
    position         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(position)),
    variable_store   TEXT NOT NULL DEFAULT '{"global":{},"session":{},"phase":{},"topic":{}}'
                     CHECK (json_valid(variable_store)),
    metadata         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    updated_at       TEXT NOT NULL
);

INSERT INTO state (id, status, execution_status, position, variable_store, metadata, updated_at)
VALUES (1, 'active', 'waiting_input', '{}', '{"global":{},"session":{},"phase":{},"topic":{}}', '{}',
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

-- One row per chat turn; state_before lets regenerate-message and the recovery of an
-- interrupted turn re-run it. Message ids are not foreign keys (the assistant message of a
-- turn can be replaced).
CREATE TABLE turns (
    id                   INTEGER PRIMARY KEY,
    user_message_id      TEXT,
    assistant_message_id TEXT,
    state_before         TEXT NOT NULL CHECK (json_valid(state_before)),
    status               TEXT NOT NULL DEFAULT 'running'
                         CHECK (status IN ('running', 'completed', 'failed')),
    error                TEXT CHECK (error IS NULL OR json_valid(error)),
    created_at           TEXT NOT NULL,
    finished_at          TEXT
);

CREATE TABLE variable_history (
    id          INTEGER PRIMARY KEY,
    message_seq INTEGER,
    name        TEXT NOT NULL,
    value       TEXT NOT NULL CHECK (json_valid(value)),
    scope       TEXT NOT NULL CHECK (scope IN ('global', 'session', 'phase', 'topic')),
    value_type  TEXT,
    source      TEXT,
    created_at  TEXT NOT NULL
);

CREATE INDEX variable_history_name ON variable_history (name, id);

CREATE TABLE memories (
    id              TEXT PRIMARY KEY,
    content         TEXT NOT NULL,
    memory_type     TEXT NOT NULL,
    importance      TEXT NOT NULL DEFAULT 'medium',
    keywords        TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(keywords)),
    tags            TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags)),
    context         TEXT,
    related_task_id INTEGER,
    created_at      TEXT NOT NULL,
    last_accessed   TEXT,
    access_count    INTEGER NOT NULL DEFAULT 0
);

-- vector: dim little-endian f32.
CREATE TABLE memory_embeddings (
    memory_id TEXT PRIMARY KEY REFERENCES memories (id) ON DELETE CASCADE,
    model     TEXT NOT NULL,
    dim       INTEGER NOT NULL CHECK (dim > 0),
    vector    BLOB NOT NULL CHECK (length(vector) = 4 * dim)
);

-- GAgent's chat_action_runs.
CREATE TABLE action_runs (
    id           TEXT PRIMARY KEY,
    user_message TEXT,
    mode         TEXT,
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    context      TEXT CHECK (context IS NULL OR json_valid(context)),
    history      TEXT CHECK (history IS NULL OR json_valid(history)),
    structured   TEXT CHECK (structured IS NULL OR json_valid(structured)),
    result       TEXT CHECK (result IS NULL OR json_valid(result)),
    errors       TEXT CHECK (errors IS NULL OR json_valid(errors)),
    created_at   TEXT NOT NULL,
    started_at   TEXT,
    finished_at  TEXT
);

-- Idempotency-Key of appends, kept 24 h: the stored response is replayed on a retry.
CREATE TABLE idempotency (
    key         TEXT PRIMARY KEY,
    message_seq INTEGER,
    response    TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
