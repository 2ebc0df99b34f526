-- Remote and virtual repository settings, and the pull-through cache's pages
-- and file map. Keep in step with ../sqlite/0004_create_remote_cache.sql.

-- +goose Up
CREATE TABLE repo_settings (
    repo_id  BIGINT PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    settings BYTEA  NOT NULL -- JSON, owned by package registry
);

CREATE TABLE remote_pages (
    repo_id    BIGINT  NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    project    TEXT    COLLATE "C" NOT NULL, -- '' is the root
    not_found  BOOLEAN NOT NULL DEFAULT FALSE,
    body       BYTEA   NOT NULL, -- JSON, owned by package registry/remote
    fetched_at BIGINT  NOT NULL,
    PRIMARY KEY (repo_id, project)
);

CREATE TABLE remote_files (
    repo_id         BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    sha256          TEXT   COLLATE "C" NOT NULL,
    filename        TEXT   NOT NULL,
    url             TEXT   NOT NULL,
    metadata_sha256 TEXT   NOT NULL DEFAULT '',
    upload_time     BIGINT,
    PRIMARY KEY (repo_id, sha256)
);

-- +goose Down
DROP TABLE remote_files;
DROP TABLE remote_pages;
DROP TABLE repo_settings;
