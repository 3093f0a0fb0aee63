-- Seed 001's `sessions` and `messages` tables with their indexes (seed 001, "核心数据表设计"
-- and "索引设计"), as PostgreSQL DDL, for the Postgres peer of bench/run.
-- Departures, all in the peer's favour or neutral:
--   * sessions.script_id has no foreign key (the scripts table is not part of this workload);
--   * no `parts` column exists in seed 001: the axum peer stores the UIMessage parts as
--     metadata = {"parts": [...]}, so the bytes per row match Planbase's.

CREATE TYPE session_status AS ENUM ('active', 'paused', 'completed', 'failed');
CREATE TYPE execution_status AS ENUM ('running', 'waiting_input', 'paused', 'completed', 'error');
CREATE TYPE message_role AS ENUM ('user', 'assistant', 'system');

CREATE TABLE sessions (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id          varchar(255) NOT NULL,
    script_id        uuid NOT NULL,
    status           session_status NOT NULL DEFAULT 'active',
    execution_status execution_status NOT NULL DEFAULT 'running',
    position         jsonb NOT NULL DEFAULT '{}',
    variables        jsonb NOT NULL DEFAULT '{}',
    metadata         jsonb NOT NULL DEFAULT '{}',
    created_at       timestamp NOT NULL DEFAULT now(),
    updated_at       timestamp NOT NULL DEFAULT now(),
    completed_at     timestamp
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_status_idx ON sessions (status);
CREATE INDEX sessions_created_at_idx ON sessions (created_at);

CREATE TABLE messages (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    role        message_role NOT NULL,
    content     text NOT NULL,
    action_id   varchar(255),
    metadata    jsonb NOT NULL DEFAULT '{}',
    "timestamp" timestamp NOT NULL DEFAULT now()
);
CREATE INDEX messages_session_id_idx ON messages (session_id);
CREATE INDEX messages_timestamp_idx ON messages ("timestamp");

-- The benchmark's sessions: ids md5('s' || n)::uuid for n = 1..1000 (pgbench derives the same
-- id from a random n), plus one history session md5('history')::uuid.
INSERT INTO sessions (id, user_id, script_id)
SELECT md5('s' || n)::uuid, 'bench', md5('script')::uuid FROM generate_series(1, 1000) AS n;
INSERT INTO sessions (id, user_id, script_id) VALUES (md5('history')::uuid, 'bench', md5('script')::uuid);
