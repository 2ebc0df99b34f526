-- Trusted publishers and the OIDC replay guard. Keep in step with
-- ../postgres/0002_create_publishers_replay.sql.

-- +goose Up
CREATE TABLE publishers (
    id         INTEGER PRIMARY KEY,
    -- By name, as the record carries it; a repository's publishers go with it.
    repo       TEXT    NOT NULL REFERENCES repositories (name) ON DELETE CASCADE ON UPDATE CASCADE,
    project    TEXT    NOT NULL,
    pending    INTEGER NOT NULL DEFAULT 0 CHECK (pending IN (0, 1)),
    kind       TEXT    NOT NULL,
    issuer     TEXT    NOT NULL,
    config     BLOB    NOT NULL, -- JSON, owned by package oidc
    created_at INTEGER NOT NULL,
    created_by TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX publishers_repo_project ON publishers (repo, project);
CREATE INDEX publishers_issuer ON publishers (issuer);

-- (issuer, jti) of every exchanged ID token until it expires.
CREATE TABLE oidc_replay (
    issuer     TEXT    NOT NULL,
    jti        TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, jti)
) STRICT, WITHOUT ROWID;
CREATE INDEX oidc_replay_expires_at ON oidc_replay (expires_at);

-- +goose Down
DROP TABLE oidc_replay;
DROP TABLE publishers;
