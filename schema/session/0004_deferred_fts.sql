-- session kind, schema version 4: in-session full-text indexing is batched.
-- Runs inside a transaction opened by migrate.rs.
--
-- Why: FTS5 writes a new index segment on every transaction that touches it, so indexing
-- each append in its own transaction made an append ~3x dearer than the insert itself
-- (Python sqlite3 on the CI machine: 23k plain inserts/s, 7.5k with the per-row trigger,
-- 22-27k with this batching).
--
-- Invariant: a message is in messages_fts exactly when seq <= state.fts_seq (the
-- watermark). Newer messages are indexed together, by the insert whose seq is a multiple
-- of 256 and by every in-session search before it runs (session::store::fts_catch_up), so
-- search never misses an acknowledged message. The watermark is a column of the single
-- state row rather than a table: a table would cost a page in every session file.
ALTER TABLE state ADD COLUMN fts_seq INTEGER NOT NULL DEFAULT 0;
UPDATE state SET fts_seq = (SELECT coalesce(max(seq), 0) FROM messages);

DROP TRIGGER IF EXISTS messages_fts_ai;
DROP TRIGGER IF EXISTS messages_fts_ad;
DROP TRIGGER IF EXISTS messages_fts_au;

-- One trigger (not two with their own WHEN) because the order in which SQLite fires
-- triggers on the same event is not specified, and the first statement must see the
-- watermark from before the batch. An insert at or below the watermark happens when a seq
-- is reused (INTEGER PRIMARY KEY reuses max+1 after the newest row was deleted, e.g. a
-- regenerated assistant message): it is indexed at once.
CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages
WHEN new.seq % 256 = 0 OR new.seq <= (SELECT fts_seq FROM state WHERE id = 1) BEGIN
    INSERT INTO messages_fts (rowid, content)
        SELECT new.seq, new.content WHERE new.seq <= (SELECT fts_seq FROM state WHERE id = 1);
    INSERT INTO messages_fts (rowid, content)
        SELECT seq, content FROM messages
        WHERE new.seq % 256 = 0 AND seq > (SELECT fts_seq FROM state WHERE id = 1);
    UPDATE state SET fts_seq = (SELECT max(seq) FROM messages) WHERE id = 1 AND new.seq % 256 = 0;
END;

CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages
WHEN old.seq <= (SELECT fts_seq FROM state WHERE id = 1) BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.seq, old.content);
END;

CREATE TRIGGER messages_fts_au AFTER UPDATE ON messages
WHEN old.content IS NOT new.content OR old.seq IS NOT new.seq BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content)
        SELECT 'delete', old.seq, old.content WHERE old.seq <= (SELECT fts_seq FROM state WHERE id = 1);
    INSERT INTO messages_fts (rowid, content)
        SELECT new.seq, new.content WHERE new.seq <= (SELECT fts_seq FROM state WHERE id = 1);
END;
