-- session kind, schema version 3: action runs written by chat turns.
-- Runs inside a transaction opened by migrate.rs.
-- A chat turn records one run per script action it performed (ai_say, ai_ask, ai_think,
-- use_skill, or `chat` for a free reply) in the turn's own transaction. These columns say
-- which turn and which action; runs created over the API leave them NULL. Added columns
-- cost no extra pages.

ALTER TABLE action_runs ADD COLUMN turn_id INTEGER;
ALTER TABLE action_runs ADD COLUMN action_id TEXT;
ALTER TABLE action_runs ADD COLUMN action_type TEXT;
