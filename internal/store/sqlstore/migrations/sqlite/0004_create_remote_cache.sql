-- Remote and virtual repository settings, and the pull-through cache's pages
-- and file map. Keep in step with ../postgres/0004_create_remote_cache.sql.

-- +goose Up
CREATE TABLE repo_settings (
    repo_id  INTEGER PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    settings BLOB    NOT NULL -- JSON, owned by package registry
) STRICT;

CREATE TABLE remote_pages (
    repo_id    INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    project    TEXT    NOT NULL, -- '' is the root
    not_found  INTEGER NOT NULL DEFAULT 0 CHECK (not_found IN (0, 1)),
    body       BLOB    NOT NULL, -- JSON, owned by package registry/remote
    fetched_at INTEGER NOT NULL,
    PRIMARY KEY (repo_id, project)
) STRICT, WITHOUT ROWID;

CREATE TABLE remote_files (
    repo_id         INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    sha256          TEXT    NOT NULL,
    filename        TEXT    NOT NULL,
    url             TEXT    NOT NULL,
    metadata_sha256 TEXT    NOT NULL DEFAULT '',
    upload_time     INTEGER,
    PRIMARY KEY (repo_id, sha256)
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE remote_files;
DROP TABLE remote_pages;
DROP TABLE repo_settings;
