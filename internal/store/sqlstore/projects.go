package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/wharf-dev/wharf/internal/registry"
)

type projects struct{ s *Store }

const projectCols = `id, repo_id, name, display_name, created_at`

const (
	qProjectGet    = `SELECT ` + projectCols + ` FROM projects WHERE repo_id = $1 AND name = $2`
	qProjectList   = `SELECT ` + projectCols + ` FROM projects WHERE repo_id = $1 ORDER BY name`
	qProjectInsert = `INSERT INTO projects (repo_id, name, display_name, created_at)
	 VALUES ($1, $2, $3, $4)
	 ON CONFLICT (repo_id, name) DO NOTHING
	 RETURNING ` + projectCols
	qProjectUpdate = `UPDATE projects SET display_name = $3 WHERE repo_id = $1 AND name = $2
	 RETURNING ` + projectCols
)

func scanProject(sc interface{ Scan(...any) error }, p *registry.Project) error {
	var created int64
	err := sc.Scan(&p.ID, &p.RepoID, &p.Name, &p.DisplayName, &created)
	p.CreatedAt = fromMicros(created)
	return err
}

func (x projects) Get(ctx context.Context, repoID int64, name string) (registry.Project, error) {
	const op = "sqlstore.Projects.Get"
	var p registry.Project
	err := scanProject(x.s.rd().QueryRowContext(ctx, qProjectGet, repoID, name), &p)
	if errors.Is(err, sql.ErrNoRows) {
		return registry.Project{}, notFound(op, "project %q not found", name)
	}
	if err != nil {
		return registry.Project{}, x.s.d.wrap(op, err)
	}
	return p, nil
}

// Ensure inserts, or updates the display name of the existing row, in one
// transaction so "created" is exact: telling an insert from an update by
// comparing timestamps would fail under a fixed test clock.
func (x projects) Ensure(ctx context.Context, p registry.Project) (registry.Project, bool, error) {
	const op = "sqlstore.Projects.Ensure"
	now := x.s.nowTime()
	var got registry.Project
	var created bool
	err := x.s.write(ctx, op, func(q querier) error {
		err := scanProject(q.QueryRowContext(ctx, qProjectInsert,
			p.RepoID, p.Name, p.DisplayName, now.UnixMicro()), &got)
		if err == nil {
			created = true
			return nil
		}
		if x.s.d.foreignKey(err) {
			return notFound(op, "repository %d not found", p.RepoID)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return x.s.d.wrap(op, err)
		}
		err = scanProject(q.QueryRowContext(ctx, qProjectUpdate,
			p.RepoID, p.Name, p.DisplayName), &got)
		if err != nil {
			// ErrNoRows here means the row vanished inside our transaction,
			// which cannot happen; report it as the internal error it is.
			return x.s.d.wrap(op, err)
		}
		return nil
	})
	if err != nil {
		return registry.Project{}, false, err
	}
	return got, created, nil
}

func (x projects) List(ctx context.Context, repoID int64) ([]registry.Project, error) {
	const op = "sqlstore.Projects.List"
	rows, err := x.s.rd().QueryContext(ctx, qProjectList, repoID)
	if err != nil {
		return nil, x.s.d.wrap(op, err)
	}
	defer rows.Close()
	out := make([]registry.Project, 0, 64)
	for rows.Next() {
		out = append(out, registry.Project{})
		if err := scanProject(rows, &out[len(out)-1]); err != nil {
			return nil, x.s.d.wrap(op, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, x.s.d.wrap(op, err)
	}
	return out, nil
}

// Delete tombstones the project's filenames, then deletes the project; its
// files go by ON DELETE CASCADE. (The CAST is for PostgreSQL, which would
// otherwise type a parameter in a SELECT list as text.)
func (x projects) Delete(ctx context.Context, id int64) error {
	const op = "sqlstore.Projects.Delete"
	now := x.s.nowTime().UnixMicro()
	return x.s.write(ctx, op, func(q querier) error {
		if _, err := q.ExecContext(ctx,
			`INSERT INTO file_tombstones (repo_id, filename, deleted_at)
			 SELECT repo_id, filename, CAST($2 AS BIGINT) FROM files WHERE project_id = $1
			 ON CONFLICT (repo_id, filename) DO NOTHING`, id, now); err != nil {
			return x.s.d.wrap(op, err)
		}
		res, err := q.ExecContext(ctx, `DELETE FROM projects WHERE id = $1`, id)
		return x.s.affected(op, res, err, "project %d not found", id)
	})
}
