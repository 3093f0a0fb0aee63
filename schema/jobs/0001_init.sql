-- jobs kind (jobs/system_jobs.sqlite), schema version 1.
-- Jobs and logs bound to no project. The jobs, job_logs and action_logs tables are identical
-- to those of the project kind (schema/project/0001_init.sql); keep them in sync.
-- Runs inside a transaction opened by migrate.rs.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Jobs (GAgent's decomposition_jobs). target_task_id is not a foreign key: the task may be
-- deleted later, and jobs/system_jobs.sqlite has no tasks table.
CREATE TABLE jobs (
    job_id         TEXT PRIMARY KEY,
    job_type       TEXT NOT NULL,
    mode           TEXT,
    target_task_id INTEGER,
    status         TEXT NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    error          TEXT,
    params         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(params)),
    stats          TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(stats)),
    result         TEXT CHECK (result IS NULL OR json_valid(result)),
    metadata       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    created_at     TEXT NOT NULL,
    started_at     TEXT,
    finished_at    TEXT
);

CREATE INDEX jobs_created ON jobs (created_at DESC, job_id DESC);
CREATE INDEX jobs_status ON jobs (status, created_at);

-- AUTOINCREMENT: ids are the `after` cursor of GET /jobs/{job_id}/logs and are never reused
-- after retention deletes.
CREATE TABLE job_logs (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id   TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    ts       TEXT NOT NULL,
    level    TEXT NOT NULL DEFAULT 'info',
    message  TEXT NOT NULL DEFAULT '',
    metadata TEXT CHECK (metadata IS NULL OR json_valid(metadata))
);

CREATE INDEX job_logs_job ON job_logs (job_id, id);

-- Action logs (GAgent's plan_action_logs), redacted before they are stored. job_id is free
-- text: it need not name a row of jobs. sequence is assigned inside the write transaction.
CREATE TABLE action_logs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id       TEXT NOT NULL,
    job_type     TEXT,
    sequence     INTEGER NOT NULL,
    session_id   TEXT,
    user_message TEXT,
    action_kind  TEXT NOT NULL,
    action_name  TEXT NOT NULL,
    status       TEXT NOT NULL,
    success      INTEGER NOT NULL CHECK (success IN (0, 1)),
    message      TEXT,
    details      TEXT CHECK (details IS NULL OR json_valid(details)),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (job_id, sequence)
);

CREATE INDEX action_logs_job ON action_logs (job_id, id);
