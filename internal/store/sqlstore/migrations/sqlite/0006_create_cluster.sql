-- Coordination between replicas sharing the database. Keep in step with
-- ../postgres/0006_create_cluster.sql (which explains the tables). SQLite
-- serves one process, whose page cache needs no serials, but the triggers
-- keep the two schemas and the conformance suite alike.

-- +goose Up
CREATE TABLE repo_serials (
    repo_id INTEGER PRIMARY KEY,
    serial  INTEGER NOT NULL
) STRICT;

-- +goose StatementBegin
CREATE TRIGGER files_repo_serial_ins AFTER INSERT ON files BEGIN
    INSERT INTO repo_serials (repo_id, serial) VALUES (NEW.repo_id, 1)
        ON CONFLICT (repo_id) DO UPDATE SET serial = serial + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER files_repo_serial_upd AFTER UPDATE ON files BEGIN
    INSERT INTO repo_serials (repo_id, serial) VALUES (NEW.repo_id, 1)
        ON CONFLICT (repo_id) DO UPDATE SET serial = serial + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER files_repo_serial_del AFTER DELETE ON files BEGIN
    INSERT INTO repo_serials (repo_id, serial) VALUES (OLD.repo_id, 1)
        ON CONFLICT (repo_id) DO UPDATE SET serial = serial + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER projects_repo_serial_ins AFTER INSERT ON projects BEGIN
    INSERT INTO repo_serials (repo_id, serial) VALUES (NEW.repo_id, 1)
        ON CONFLICT (repo_id) DO UPDATE SET serial = serial + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER projects_repo_serial_upd AFTER UPDATE ON projects BEGIN
    INSERT INTO repo_serials (repo_id, serial) VALUES (NEW.repo_id, 1)
        ON CONFLICT (repo_id) DO UPDATE SET serial = serial + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER projects_repo_serial_del AFTER DELETE ON projects BEGIN
    INSERT INTO repo_serials (repo_id, serial) VALUES (OLD.repo_id, 1)
        ON CONFLICT (repo_id) DO UPDATE SET serial = serial + 1;
END;
-- +goose StatementEnd

CREATE TABLE leases (
    name       TEXT    PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE leases;
DROP TRIGGER projects_repo_serial_del;
DROP TRIGGER projects_repo_serial_upd;
DROP TRIGGER projects_repo_serial_ins;
DROP TRIGGER files_repo_serial_del;
DROP TRIGGER files_repo_serial_upd;
DROP TRIGGER files_repo_serial_ins;
DROP TABLE repo_serials;
