-- session kind, schema version 2: full-text search over memories.
-- Runs inside a transaction opened by migrate.rs.
-- A regular FTS5 table (it keeps its own copy of the text) keyed by memory_id rather than an
-- external-content table on rowid: memories has no INTEGER PRIMARY KEY, so its implicit
-- rowids may be renumbered by VACUUM and cannot anchor the index. Deleting by memory_id
-- scans the FTS table, which is fine for the few memories a session holds. The table adds
-- four 4 KiB pages to every session file.

CREATE VIRTUAL TABLE memories_fts USING fts5 (
    content,
    keywords,
    tags,
    memory_id UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2',
    -- No %_docsize table: bm25 re-tokenizes the few matching rows instead, and every
    -- session file is one page smaller.
    columnsize = 0
);

CREATE TRIGGER memories_fts_ai AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts (content, keywords, tags, memory_id)
    VALUES (new.content, new.keywords, new.tags, new.id);
END;

CREATE TRIGGER memories_fts_ad AFTER DELETE ON memories BEGIN
    DELETE FROM memories_fts WHERE memory_id = old.id;
END;

-- Only text changes re-index: counting an access (access_count, last_accessed) does not.
CREATE TRIGGER memories_fts_au AFTER UPDATE OF id, content, keywords, tags ON memories BEGIN
    DELETE FROM memories_fts WHERE memory_id = old.id;
    INSERT INTO memories_fts (content, keywords, tags, memory_id)
    VALUES (new.content, new.keywords, new.tags, new.id);
END;

-- Existing memories (none in practice: this ships with memories) are indexed too.
INSERT INTO memories_fts (content, keywords, tags, memory_id)
SELECT content, keywords, tags, id FROM memories;
