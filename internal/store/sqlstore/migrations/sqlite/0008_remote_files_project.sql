-- The project each remote file was listed under, so a download is
-- authorised by the project the file belongs to, never by the filename in
-- its URL. Rows cached before this migration have '' (unknown: only a
-- reader of the whole repository may download them) until their project
-- page is fetched again. Keep in step with ../postgres/0008_remote_files_project.sql.

-- +goose Up
ALTER TABLE remote_files ADD COLUMN project TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE remote_files DROP COLUMN project;
