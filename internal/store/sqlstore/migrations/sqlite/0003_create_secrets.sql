-- The encrypted secret store (package secrets). Keep in step with
-- ../postgres/0003_create_secrets.sql.
--
-- Nothing here is plaintext: wrapped_key is a data key sealed under the
-- key-encryption key kek_id names, ciphertext a value sealed under that data
-- key with the secret ID, name and version number as additional data.

-- +goose Up
CREATE TABLE secrets (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    wrapped_key BLOB    NOT NULL,
    kek_id      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE secret_versions (
    secret_id  INTEGER NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    version    INTEGER NOT NULL CHECK (version > 0),
    state      TEXT    NOT NULL CHECK (state IN ('enabled', 'disabled', 'destroyed')),
    -- NULL exactly when destroyed: destroying deletes the value for good.
    ciphertext BLOB CHECK ((state = 'destroyed') = (ciphertext IS NULL)),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (secret_id, version)
) STRICT;

-- Which repository may use which secret (Secret Manager's accessor role).
-- By repository name, like publishers; a deleted repository's grants go
-- with it, so a new repository of the same name inherits nothing.
CREATE TABLE secret_grants (
    secret_id  INTEGER NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    repo       TEXT    NOT NULL REFERENCES repositories (name) ON DELETE CASCADE ON UPDATE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (secret_id, repo)
) STRICT;
CREATE INDEX secret_grants_repo ON secret_grants (repo);

-- +goose Down
DROP TABLE secret_grants;
DROP TABLE secret_versions;
DROP TABLE secrets;
