-- Trust policies. Keep in step with ../postgres/0005_create_policies.sql.

-- +goose Up
CREATE TABLE policies (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    issuer     TEXT    NOT NULL,
    config     BLOB    NOT NULL, -- JSON, owned by package oidc
    created_at INTEGER NOT NULL,
    created_by TEXT    NOT NULL DEFAULT ''
) STRICT;

-- +goose Down
DROP TABLE policies;
