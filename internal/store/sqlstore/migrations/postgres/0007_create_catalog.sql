-- What wharf knows about what it holds: each file's parsed core metadata and
-- provenance, the project facts listings sort and search by, and download
-- counts. Keep in step with ../sqlite/0007_create_catalog.sql (which
-- explains the tables).

-- +goose Up
CREATE TABLE file_details (
    file_id    BIGINT PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
    metadata   TEXT   NOT NULL DEFAULT '',
    provenance TEXT   NOT NULL DEFAULT ''
);

ALTER TABLE projects ADD COLUMN summary TEXT NOT NULL DEFAULT '';
ALTER TABLE projects ADD COLUMN last_upload_at BIGINT;
CREATE INDEX projects_last_upload ON projects (repo_id, last_upload_at);
CREATE INDEX projects_name ON projects (name);

CREATE TABLE project_terms (
    term       TEXT   COLLATE "C" NOT NULL,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    PRIMARY KEY (term, project_id)
);
CREATE INDEX project_terms_project ON project_terms (project_id);

CREATE INDEX audit_events_project ON audit_events (project, time);
CREATE INDEX audit_events_target ON audit_events (target);

CREATE TABLE downloads (
    repo_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    project TEXT   COLLATE "C" NOT NULL,
    version TEXT   COLLATE "C" NOT NULL,
    day     BIGINT NOT NULL,
    count   BIGINT NOT NULL,
    PRIMARY KEY (repo_id, project, version, day)
);

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
