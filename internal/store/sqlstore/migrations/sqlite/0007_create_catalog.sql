-- What wharf knows about what it holds: each file's parsed core metadata and
-- provenance, the project facts listings sort and search by, and download
-- counts. Keep in step with ../postgres/0007_create_catalog.sql.

-- +goose Up
-- One row per file, written in the upload's transaction (and by the
-- backfill for files uploaded before this table existed). metadata is ''
-- when the file's core metadata could not be read.
CREATE TABLE file_details (
    file_id    INTEGER PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
    metadata   TEXT    NOT NULL DEFAULT '', -- JSON of registry.CoreMetadata
    provenance TEXT    NOT NULL DEFAULT ''  -- JSON of registry.Provenance
) STRICT;

-- The latest upload's summary and time, so listings sort by last upload and
-- search shows a summary without reading files.
ALTER TABLE projects ADD COLUMN summary TEXT NOT NULL DEFAULT '';
ALTER TABLE projects ADD COLUMN last_upload_at INTEGER;
CREATE INDEX projects_last_upload ON projects (repo_id, last_upload_at);
-- Search by exact normalised name across repositories.
CREATE INDEX projects_name ON projects (name);

-- Search words of each project (its name's parts and its summary's words),
-- read by prefix range through the primary key.
CREATE TABLE project_terms (
    term       TEXT    NOT NULL,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    PRIMARY KEY (term, project_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX project_terms_project ON project_terms (project_id);

-- wharf audit --project, and the token → exchange link of provenance.
CREATE INDEX audit_events_project ON audit_events (project, time);
CREATE INDEX audit_events_target ON audit_events (target);

-- Downloads per repository, project, version and UTC day. Every replica adds
-- its own counts (UPSERT count = count + n), so the sum is right.
CREATE TABLE downloads (
    repo_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    project TEXT    NOT NULL,
    version TEXT    NOT NULL,
    day     INTEGER NOT NULL, -- days since 1970-01-01, UTC
    count   INTEGER NOT NULL,
    PRIMARY KEY (repo_id, project, version, day)
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE downloads;
DROP INDEX audit_events_target;
DROP INDEX audit_events_project;
DROP TABLE project_terms;
DROP INDEX projects_name;
DROP INDEX projects_last_upload;
ALTER TABLE projects DROP COLUMN last_upload_at;
ALTER TABLE projects DROP COLUMN summary;
DROP TABLE file_details;
