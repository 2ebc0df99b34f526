-- Initial schema, SQLite dialect. Keep it column-for-column in step with
-- ../postgres/0001_init.sql: the Go code uses one SQL text for both.
--
-- Times are INTEGER unix microseconds, UTC (NULL for a zero time.Time):
-- integers scan without parsing (listing 10,000 rows is on the serving path),
-- sort correctly, and match PostgreSQL's timestamp precision.
-- Booleans are INTEGER 0/1 (STRICT tables have no BOOLEAN).

-- +goose Up
CREATE TABLE repositories (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    kind        TEXT    NOT NULL CHECK (kind IN ('hosted', 'remote', 'virtual')),
    public      INTEGER NOT NULL DEFAULT 0 CHECK (public IN (0, 1)),
    description TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE projects (
    id           INTEGER PRIMARY KEY,
    repo_id      INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    display_name TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    UNIQUE (repo_id, name),
    -- Parent key of files' composite foreign key, so a file can never point
    -- at a project of another repository.
    UNIQUE (id, repo_id)
) STRICT;

CREATE TABLE files (
    id              INTEGER PRIMARY KEY,
    repo_id         INTEGER NOT NULL,
    project_id      INTEGER NOT NULL,
    filename        TEXT    NOT NULL,
    version         TEXT    NOT NULL,
    release         TEXT    NOT NULL,
    filetype        TEXT    NOT NULL,
    python_version  TEXT    NOT NULL DEFAULT '',
    requires_python TEXT    NOT NULL DEFAULT '',
    size            INTEGER NOT NULL,
    sha256          TEXT    NOT NULL,
    blake2b_256     TEXT    NOT NULL DEFAULT '',
    md5             TEXT    NOT NULL DEFAULT '',
    metadata_sha256 TEXT    NOT NULL DEFAULT '',
    yanked          INTEGER NOT NULL DEFAULT 0 CHECK (yanked IN (0, 1)),
    yanked_reason   TEXT    NOT NULL DEFAULT '',
    uploaded_at     INTEGER NOT NULL,
    uploaded_by     TEXT    NOT NULL DEFAULT '',
    UNIQUE (repo_id, filename),
    FOREIGN KEY (project_id, repo_id) REFERENCES projects (id, repo_id) ON DELETE CASCADE
) STRICT;
-- ListByProject reads this index in filename order; it also serves the
-- foreign key's cascade from projects.
CREATE INDEX files_project_filename ON files (project_id, filename);
-- BlobInUse (orphan sweep).
CREATE INDEX files_sha256 ON files (sha256);
CREATE INDEX files_metadata_sha256 ON files (metadata_sha256);

-- Filenames of deleted files: PyPI never lets a filename be reused.
CREATE TABLE file_tombstones (
    repo_id    INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    filename   TEXT    NOT NULL,
    deleted_at INTEGER NOT NULL,
    PRIMARY KEY (repo_id, filename)
) STRICT, WITHOUT ROWID;

CREATE TABLE tokens (
    id           TEXT    PRIMARY KEY,
    secret_hash  BLOB    NOT NULL,
    description  TEXT    NOT NULL DEFAULT '',
    scope        TEXT    NOT NULL, -- JSON of registry.Scope
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER,
    origin       TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX tokens_created_at ON tokens (created_at);
CREATE INDEX tokens_expires_at ON tokens (expires_at) WHERE expires_at IS NOT NULL;

-- Append-only; no foreign keys, so the log outlives what it describes.
CREATE TABLE audit_events (
    id      INTEGER PRIMARY KEY,
    time    INTEGER NOT NULL,
    actor   TEXT    NOT NULL DEFAULT '',
    action  TEXT    NOT NULL,
    repo    TEXT    NOT NULL DEFAULT '',
    project TEXT    NOT NULL DEFAULT '',
    target  TEXT    NOT NULL DEFAULT '',
    outcome TEXT    NOT NULL DEFAULT '',
    detail  TEXT    NOT NULL DEFAULT 'null' -- JSON object of strings
) STRICT;
CREATE INDEX audit_events_time ON audit_events (time);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE tokens;
DROP TABLE file_tombstones;
DROP TABLE files;
DROP TABLE projects;
DROP TABLE repositories;
