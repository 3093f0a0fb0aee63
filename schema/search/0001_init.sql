-- search kind (main/search.sqlite), schema version 1.
-- Cross-session full-text index, fed in batches from the session shards and rebuilt by
-- `reindex`. Runs inside a transaction opened by migrate.rs.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- One FTS row per indexed message. Only `text` is tokenized; the rest is carried along for
-- filtering (by user_id / project_id) and for locating the message in its shard.
CREATE VIRTUAL TABLE message_fts USING fts5 (
    text,
    session_id UNINDEXED,
    user_id UNINDEXED,
    project_id UNINDEXED,
    seq UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Maps (session_id, seq) to the rowid used in message_fts, so that re-indexing a merged
-- message or dropping a deleted session finds its FTS rows without scanning message_fts
-- (its UNINDEXED columns cannot be searched efficiently). Insert here first, then insert
-- into message_fts with rowid = message_fts_rows.id.
CREATE TABLE message_fts_rows (
    id         INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    UNIQUE (session_id, seq)
);

-- Highest shard seq of each session that is in the index; catch-up on start resumes here.
CREATE TABLE watermarks (
    session_id TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL
) WITHOUT ROWID;
