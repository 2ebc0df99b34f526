package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/wharf-dev/wharf/internal/store"
)

// Remote returns the settings and pull-through cache store.
func (s *Store) Remote() store.Remote { return remote{s} }

var _ store.Remote = remote{}

type remote struct{ s *Store }

func (x remote) Settings(ctx context.Context, repoID int64) ([]byte, error) {
	const op = "sqlstore.Remote.Settings"
	var b []byte
	err := x.s.rd().QueryRowContext(ctx, `SELECT settings FROM repo_settings WHERE repo_id = $1`, repoID).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(op, "repository %d has no settings", repoID)
	}
	if err != nil {
		return nil, x.s.d.wrap(op, err)
	}
	return b, nil
}

func (x remote) PutSettings(ctx context.Context, repoID int64, settings []byte) error {
	const op = "sqlstore.Remote.PutSettings"
	if settings == nil {
		settings = []byte{}
	}
	_, err := x.s.wr().ExecContext(ctx,
		`INSERT INTO repo_settings (repo_id, settings) VALUES ($1, $2)
		 ON CONFLICT (repo_id) DO UPDATE SET settings = excluded.settings`, repoID, settings)
	if x.s.d.foreignKey(err) {
		return notFound(op, "repository %d not found", repoID)
	}
	if err != nil {
		return x.s.d.wrap(op, err)
	}
	return nil
}

func (x remote) Page(ctx context.Context, repoID int64, project string) (store.CachedPage, error) {
	const op = "sqlstore.Remote.Page"
	p := store.CachedPage{RepoID: repoID, Project: project}
	var fetched int64
	err := x.s.rd().QueryRowContext(ctx,
		`SELECT not_found, body, fetched_at FROM remote_pages WHERE repo_id = $1 AND project = $2`,
		repoID, project).Scan(&p.NotFound, &p.Body, &fetched)
	if errors.Is(err, sql.ErrNoRows) {
		return p, notFound(op, "no cached page for %q", project)
	}
	if err != nil {
		return p, x.s.d.wrap(op, err)
	}
	p.FetchedAt = fromMicros(fetched)
	return p, nil
}

func (x remote) PutPage(ctx context.Context, p store.CachedPage) error {
	const op = "sqlstore.Remote.PutPage"
	body := p.Body
	if body == nil {
		body = []byte{}
	}
	_, err := x.s.wr().ExecContext(ctx,
		`INSERT INTO remote_pages (repo_id, project, not_found, body, fetched_at) VALUES ($1, $2, $3, $4, $5)
		 ON CONFLICT (repo_id, project) DO UPDATE SET not_found = excluded.not_found, body = excluded.body, fetched_at = excluded.fetched_at`,
		p.RepoID, p.Project, p.NotFound, body, p.FetchedAt.UnixMicro())
	if x.s.d.foreignKey(err) {
		return notFound(op, "repository %d not found", p.RepoID)
	}
	if err != nil {
		return x.s.d.wrap(op, err)
	}
	return nil
}

// PutFiles writes every entry in one transaction: a project page of a
// thousand files is one commit, not a thousand.
func (x remote) PutFiles(ctx context.Context, files []store.RemoteFile) error {
	const op = "sqlstore.Remote.PutFiles"
	if len(files) == 0 {
		return nil
	}
	return x.s.write(ctx, op, func(q querier) error {
		for _, f := range files {
			_, err := q.ExecContext(ctx,
				`INSERT INTO remote_files (repo_id, sha256, filename, url, metadata_sha256, upload_time, project) VALUES ($1, $2, $3, $4, $5, $6, $7)
				 ON CONFLICT (repo_id, sha256) DO UPDATE SET filename = excluded.filename, url = excluded.url,
				   metadata_sha256 = excluded.metadata_sha256, upload_time = excluded.upload_time, project = excluded.project`,
				f.RepoID, f.SHA256, f.Filename, f.URL, f.MetadataSHA256, toNullMicros(f.UploadTime), f.Project)
			if x.s.d.foreignKey(err) {
				return notFound(op, "repository %d not found", f.RepoID)
			}
			if err != nil {
				return x.s.d.wrap(op, err)
			}
		}
		return nil
	})
}

func (x remote) File(ctx context.Context, repoID int64, sha256 string) (store.RemoteFile, error) {
	const op = "sqlstore.Remote.File"
	f := store.RemoteFile{RepoID: repoID, SHA256: sha256}
	var up sql.NullInt64
	err := x.s.rd().QueryRowContext(ctx,
		`SELECT filename, url, metadata_sha256, upload_time, project FROM remote_files WHERE repo_id = $1 AND sha256 = $2`,
		repoID, sha256).Scan(&f.Filename, &f.URL, &f.MetadataSHA256, &up, &f.Project)
	if errors.Is(err, sql.ErrNoRows) {
		return f, notFound(op, "no remote file %s", sha256)
	}
	if err != nil {
		return f, x.s.d.wrap(op, err)
	}
	f.UploadTime = fromNullMicros(up)
	return f, nil
}

func (x remote) Projects(ctx context.Context, repoID int64) ([]string, error) {
	const op = "sqlstore.Remote.Projects"
	rows, err := x.s.rd().QueryContext(ctx,
		`SELECT project FROM remote_pages WHERE repo_id = $1 AND project <> '' AND not_found = $2 ORDER BY project`, repoID, false)
	if err != nil {
		return nil, x.s.d.wrap(op, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, x.s.d.wrap(op, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, x.s.d.wrap(op, err)
	}
	return out, nil
}
