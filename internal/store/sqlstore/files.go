package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

type files struct{ s *Store }

const fileCols = `id, repo_id, project_id, filename, version, release, filetype, python_version,
	requires_python, size, sha256, blake2b_256, md5, metadata_sha256, yanked, yanked_reason,
	uploaded_at, uploaded_by`

// The queries of the upload, download and index paths, prepared once (see
// Store.prepare).
const (
	qFileGet    = `SELECT ` + fileCols + ` FROM files WHERE repo_id = $1 AND filename = $2`
	qFileList   = `SELECT ` + fileCols + ` FROM files WHERE project_id = $1 ORDER BY filename`
	qTombCheck  = `SELECT 1 FROM file_tombstones WHERE repo_id = $1 AND filename = $2`
	qFileBySHA  = `SELECT ` + fileCols + ` FROM files WHERE repo_id = $1 AND sha256 = $2 ORDER BY id LIMIT 1`
	qSameBytes  = `SELECT filename FROM files WHERE repo_id = $1 AND sha256 = $2 AND filename <> $3 LIMIT 1`
	qFileInsert = `INSERT INTO files (repo_id, project_id, filename, version, release, filetype,
		python_version, requires_python, size, sha256, blake2b_256, md5, metadata_sha256,
		yanked, yanked_reason, uploaded_at, uploaded_by)
	 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
	 ON CONFLICT (repo_id, filename) DO NOTHING
	 RETURNING id`
	qBlobInUse = `SELECT EXISTS (SELECT 1 FROM files WHERE sha256 = $1)
		OR EXISTS (SELECT 1 FROM files WHERE metadata_sha256 = $1)`
)

func scanFile(sc interface{ Scan(...any) error }, f *registry.File) error {
	var uploaded int64
	err := sc.Scan(&f.ID, &f.RepoID, &f.ProjectID, &f.Filename, &f.Version, &f.Release, &f.Filetype,
		&f.PythonVersion, &f.RequiresPython, &f.Size, &f.SHA256, &f.BLAKE2b256, &f.MD5,
		&f.MetadataSHA256, &f.Yanked, &f.YankedReason, &uploaded, &f.UploadedBy)
	f.UploadedAt = fromMicros(uploaded)
	return err
}

// Add checks the tombstones and inserts in one transaction. On SQLite the
// single write connection serialises every Add, so of several concurrent
// uploads of one filename exactly one inserts and the others hit ON CONFLICT.
func (x files) Add(ctx context.Context, f *registry.File) error {
	const op = "sqlstore.Files.Add"
	uploaded := f.UploadedAt
	if uploaded.IsZero() {
		uploaded = x.s.nowTime()
	} else {
		uploaded = fromMicros(uploaded.UnixMicro())
	}
	var id int64
	err := x.s.write(ctx, op, func(q querier) error {
		var tomb int
		err := q.QueryRowContext(ctx, qTombCheck, f.RepoID, f.Filename).Scan(&tomb)
		if err == nil {
			return sentinelErr(store.ErrFilenameUsed, op,
				"filename %s was used by a deleted file and cannot be reused; upload with a new version or build number", f.Filename)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return x.s.d.wrap(op, err)
		}
		var other string
		err = q.QueryRowContext(ctx, qSameBytes, f.RepoID, f.SHA256, f.Filename).Scan(&other)
		if err == nil {
			return sentinelErr(store.ErrContentExists, op, "the content of %s is already stored as %s", f.Filename, other)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return x.s.d.wrap(op, err)
		}
		err = q.QueryRowContext(ctx, qFileInsert,
			f.RepoID, f.ProjectID, f.Filename, f.Version, f.Release, string(f.Filetype),
			f.PythonVersion, f.RequiresPython, f.Size, f.SHA256, f.BLAKE2b256, f.MD5, f.MetadataSHA256,
			f.Yanked, f.YankedReason, uploaded.UnixMicro(), f.UploadedBy).Scan(&id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return exists(op, "file %s already exists", f.Filename)
		case x.s.d.foreignKey(err):
			return notFound(op, "project %d not found in repository %d", f.ProjectID, f.RepoID)
		case err != nil:
			return x.s.d.wrap(op, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	f.ID, f.UploadedAt = id, uploaded
	return nil
}

func (x files) GetByFilename(ctx context.Context, repoID int64, filename string) (registry.File, error) {
	const op = "sqlstore.Files.GetByFilename"
	var f registry.File
	err := scanFile(x.s.rd().QueryRowContext(ctx, qFileGet, repoID, filename), &f)
	if errors.Is(err, sql.ErrNoRows) {
		return registry.File{}, notFound(op, "file %s not found", filename)
	}
	if err != nil {
		return registry.File{}, x.s.d.wrap(op, err)
	}
	return f, nil
}

func (x files) GetBySHA256(ctx context.Context, repoID int64, sha256 string) (registry.File, error) {
	const op = "sqlstore.Files.GetBySHA256"
	var f registry.File
	err := scanFile(x.s.rd().QueryRowContext(ctx, qFileBySHA, repoID, sha256), &f)
	if errors.Is(err, sql.ErrNoRows) {
		return registry.File{}, notFound(op, "no file with sha256 %s", sha256)
	}
	if err != nil {
		return registry.File{}, x.s.d.wrap(op, err)
	}
	return f, nil
}

func (x files) ListByProject(ctx context.Context, projectID int64) ([]registry.File, error) {
	const op = "sqlstore.Files.ListByProject"
	rows, err := x.s.rd().QueryContext(ctx, qFileList, projectID)
	if err != nil {
		return nil, x.s.d.wrap(op, err)
	}
	defer rows.Close()
	out := make([]registry.File, 0, 16)
	for rows.Next() {
		out = append(out, registry.File{})
		if err := scanFile(rows, &out[len(out)-1]); err != nil {
			return nil, x.s.d.wrap(op, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, x.s.d.wrap(op, err)
	}
	return out, nil
}

// SetYanked counts only rows whose state changes: yanking an already yanked
// file with the same reason is not a change. Unyanking clears the reason.
func (x files) SetYanked(ctx context.Context, projectID int64, release string, yanked bool, reason string) (int, error) {
	const op = "sqlstore.Files.SetYanked"
	if !yanked {
		reason = ""
	}
	res, err := x.s.wr().ExecContext(ctx,
		`UPDATE files SET yanked = $3, yanked_reason = $4
		 WHERE project_id = $1 AND release = $2 AND (yanked <> $3 OR yanked_reason <> $4)`,
		projectID, release, yanked, reason)
	if err != nil {
		return 0, x.s.d.wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, x.s.d.wrap(op, err)
	}
	return int(n), nil
}

func (x files) Delete(ctx context.Context, id int64) error {
	const op = "sqlstore.Files.Delete"
	now := x.s.nowTime().UnixMicro()
	return x.s.write(ctx, op, func(q querier) error {
		var repoID int64
		var filename string
		err := q.QueryRowContext(ctx,
			`DELETE FROM files WHERE id = $1 RETURNING repo_id, filename`, id).Scan(&repoID, &filename)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(op, "file %d not found", id)
		}
		if err != nil {
			return x.s.d.wrap(op, err)
		}
		if _, err := q.ExecContext(ctx,
			`INSERT INTO file_tombstones (repo_id, filename, deleted_at) VALUES ($1, $2, $3)
			 ON CONFLICT (repo_id, filename) DO NOTHING`, repoID, filename, now); err != nil {
			return x.s.d.wrap(op, err)
		}
		return nil
	})
}

// BlobInUse uses the two sha256 indexes; an OR over both columns in one WHERE
// could not.
func (x files) BlobInUse(ctx context.Context, sha256 string) (bool, error) {
	const op = "sqlstore.Files.BlobInUse"
	if sha256 == "" {
		return false, nil // "" is metadata_sha256's "none", never a blob key
	}
	var inUse bool
	err := x.s.rd().QueryRowContext(ctx, qBlobInUse, sha256).Scan(&inUse)
	if err != nil {
		return false, x.s.d.wrap(op, err)
	}
	return inUse, nil
}
