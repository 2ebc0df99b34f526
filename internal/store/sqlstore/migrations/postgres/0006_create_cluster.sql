-- Coordination between replicas sharing the database. Keep in step with
-- ../sqlite/0006_create_cluster.sql.
--
-- repo_serials: a change counter per repository, bumped by triggers in the
-- same transaction as every change to its projects or files, so a replica
-- learns that its cached pages are stale however the change was made (on
-- another replica, by the CLI, by wharf migrate). No foreign key: a row may
-- outlive its repository, and deleting a repository must not trip on it.
--
-- leases: named, expiring locks for background work that must run on one
-- replica at a time (orphan sweep, expired-token cleanup).

-- +goose Up
CREATE TABLE repo_serials (
    repo_id BIGINT PRIMARY KEY,
    serial  BIGINT NOT NULL
);

-- +goose StatementBegin
CREATE FUNCTION wharf_bump_repo_serial() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r BIGINT;
BEGIN
    IF TG_OP = 'DELETE' THEN
        r := OLD.repo_id;
    ELSE
        r := NEW.repo_id;
    END IF;
    INSERT INTO repo_serials AS s (repo_id, serial) VALUES (r, 1)
        ON CONFLICT (repo_id) DO UPDATE SET serial = s.serial + 1;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER files_repo_serial AFTER INSERT OR UPDATE OR DELETE ON files
    FOR EACH ROW EXECUTE FUNCTION wharf_bump_repo_serial();
CREATE TRIGGER projects_repo_serial AFTER INSERT OR UPDATE OR DELETE ON projects
    FOR EACH ROW EXECUTE FUNCTION wharf_bump_repo_serial();

CREATE TABLE leases (
    name       TEXT   PRIMARY KEY,
    holder     TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE leases;
DROP TRIGGER projects_repo_serial ON projects;
DROP TRIGGER files_repo_serial ON files;
DROP FUNCTION wharf_bump_repo_serial();
DROP TABLE repo_serials;
