package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
)

type repos struct{ s *Store }

const repoCols = `id, name, kind, public, description, created_at`

const qRepoGet = `SELECT ` + repoCols + ` FROM repositories WHERE name = $1`

func scanRepo(sc interface{ Scan(...any) error }) (registry.Repository, error) {
	var r registry.Repository
	var created int64
	err := sc.Scan(&r.ID, &r.Name, &r.Kind, &r.Public, &r.Description, &created)
	r.CreatedAt = fromMicros(created)
	return r, err
}

func (x repos) Create(ctx context.Context, r *registry.Repository) error {
	const op = "sqlstore.Repos.Create"
	switch r.Kind {
	case registry.Hosted, registry.Remote, registry.Virtual:
	default:
		return errs.Errorf(errs.Invalid, op, "unknown repository kind %q; use hosted, remote or virtual", r.Kind)
	}
	now := x.s.nowTime()
	var id int64
	err := x.s.wr().QueryRowContext(ctx,
		`INSERT INTO repositories (name, kind, public, description, created_at)
		 VALUES ($1, $2, $3, $4, $5)
		 ON CONFLICT (name) DO NOTHING
		 RETURNING id`,
		r.Name, string(r.Kind), r.Public, r.Description, now.UnixMicro()).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return exists(op, "repository %q already exists", r.Name)
	}
	if err != nil {
		return x.s.d.wrap(op, err)
	}
	r.ID, r.CreatedAt = id, now
	return nil
}

func (x repos) Get(ctx context.Context, name string) (registry.Repository, error) {
	const op = "sqlstore.Repos.Get"
	r, err := scanRepo(x.s.rd().QueryRowContext(ctx, qRepoGet, name))
	if errors.Is(err, sql.ErrNoRows) {
		return registry.Repository{}, notFound(op, "repository %q not found", name)
	}
	if err != nil {
		return registry.Repository{}, x.s.d.wrap(op, err)
	}
	return r, nil
}

func (x repos) List(ctx context.Context) ([]registry.Repository, error) {
	const op = "sqlstore.Repos.List"
	return queryAll(ctx, x.s, op, scanRepo, `SELECT `+repoCols+` FROM repositories ORDER BY name`)
}

func (x repos) Update(ctx context.Context, r registry.Repository) error {
	const op = "sqlstore.Repos.Update"
	res, err := x.s.wr().ExecContext(ctx,
		`UPDATE repositories SET public = $2, description = $3 WHERE name = $1`,
		r.Name, r.Public, r.Description)
	return x.s.affected(op, res, err, "repository %q not found", r.Name)
}

// Delete relies on ON DELETE CASCADE: projects, files and tombstones go with
// the repository in one statement.
func (x repos) Delete(ctx context.Context, name string) error {
	const op = "sqlstore.Repos.Delete"
	res, err := x.s.wr().ExecContext(ctx, `DELETE FROM repositories WHERE name = $1`, name)
	return x.s.affected(op, res, err, "repository %q not found", name)
}

// affected turns an Exec result into nil, a wrapped error, or ErrNotFound
// when no row matched.
func (s *Store) affected(op string, res sql.Result, err error, format string, args ...any) error {
	if err != nil {
		return s.d.wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.d.wrap(op, err)
	}
	if n == 0 {
		return notFound(op, format, args...)
	}
	return nil
}
