-- project kind (projects/project_<uuid>.sqlite), schema version 1.
-- One file per project: meta, script files, draft, versions, plan task tree, snapshots, jobs
-- and logs. Runs inside a transaction opened by migrate.rs.
-- Import compares every sqlite_schema row with the schema these migrations produce, so keep
-- comments outside of the CREATE statements.

-- kind, id, schema version, created_at, producing Planbase version, and every field the
-- registry shows: name, description, status, owner, author, tags, engine versions,
-- current_version_id, metadata (DESIGN §2).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Script files. content is the parsed YAML as JSON; yaml_content is the source text.
CREATE TABLE files (
    id           TEXT PRIMARY KEY,
    file_type    TEXT NOT NULL
                 CHECK (file_type IN ('global', 'roles', 'skills', 'forms', 'rules', 'session', 'template')),
    file_name    TEXT NOT NULL,
    file_path    TEXT,
    content      TEXT NOT NULL DEFAULT 'null' CHECK (json_valid(content)),
    yaml_content TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (file_type, file_name)
);

-- The single draft row (written by project create).
CREATE TABLE draft (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    files             TEXT NOT NULL CHECK (json_valid(files)),
    validation_status TEXT NOT NULL DEFAULT 'unknown'
                      CHECK (validation_status IN ('valid', 'invalid', 'unknown')),
    validation_errors TEXT CHECK (validation_errors IS NULL OR json_valid(validation_errors)),
    updated_by        TEXT,
    updated_at        TEXT NOT NULL
);

-- Published versions. History is never rewritten; a rollback is a new row with
-- is_rollback = 1.
CREATE TABLE versions (
    id                       TEXT PRIMARY KEY,
    version_number           TEXT NOT NULL UNIQUE,
    files                    TEXT NOT NULL CHECK (json_valid(files)),
    release_note             TEXT NOT NULL DEFAULT '',
    is_rollback              INTEGER NOT NULL DEFAULT 0 CHECK (is_rollback IN (0, 1)),
    rollback_from_version_id TEXT REFERENCES versions (id),
    published_at             TEXT NOT NULL,
    published_by             TEXT
);

CREATE INDEX versions_published ON versions (published_at, id);

-- Plan task tree. path is '/1/4/9' (ids from the root down to this task, itself included);
-- it defaults to '' so a task can be inserted first and given its path once its id is known.
-- path is COLLATE NOCASE (harmless for digits and '/') so that the subtree query
--   path = ?1 OR path LIKE ?2      -- with ?2 bound to p || '/%', computed in Rust
-- can use tasks_path; a pattern built in SQL (?1 || '/%') cannot use the index.
CREATE TABLE tasks (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    name               TEXT NOT NULL,
    status             TEXT NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'running', 'completed', 'failed', 'skipped')),
    instruction        TEXT,
    parent_id          INTEGER REFERENCES tasks (id) ON DELETE CASCADE,
    position           INTEGER NOT NULL DEFAULT 0,
    path               TEXT NOT NULL DEFAULT '' COLLATE NOCASE,
    depth              INTEGER NOT NULL DEFAULT 0,
    metadata           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    execution_result   TEXT,
    context_combined   TEXT,
    context_sections   TEXT CHECK (context_sections IS NULL OR json_valid(context_sections)),
    context_meta       TEXT CHECK (context_meta IS NULL OR json_valid(context_meta)),
    context_updated_at TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);

CREATE INDEX tasks_parent_position ON tasks (parent_id, position);
CREATE INDEX tasks_path ON tasks (path);

-- task_id depends on depends_on.
CREATE TABLE task_dependencies (
    task_id    INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    depends_on INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    PRIMARY KEY (task_id, depends_on),
    CHECK (task_id <> depends_on)
) WITHOUT ROWID;

CREATE INDEX task_dependencies_depends_on ON task_dependencies (depends_on, task_id);

CREATE TABLE snapshots (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    snapshot   TEXT NOT NULL CHECK (json_valid(snapshot)),
    note       TEXT,
    created_at TEXT NOT NULL
);

-- jobs, job_logs and action_logs: keep identical to schema/jobs/0001_init.sql.
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
