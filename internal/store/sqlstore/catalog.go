package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

type catalog struct{ s *Store }

func (s *Store) Catalog() store.Catalog     { return catalog{s} }
func (s *Store) Downloads() store.Downloads { return downloads{s} }

// Put writes the details row, then the project's summary, last upload and
// search words, in one transaction.
func (x catalog) Put(ctx context.Context, f registry.File, d registry.FileDetails) error {
	const op = "sqlstore.Catalog.Put"
	var meta []byte
	if d.Metadata != nil {
		var err error
		if meta, err = json.Marshal(d.Metadata); err != nil {
			return errs.E(errs.Internal, op, err)
		}
	}
	prov, err := json.Marshal(d.Provenance)
	if err != nil {
		return errs.E(errs.Internal, op, err)
	}
	return x.s.write(ctx, op, func(q querier) error {
		_, err := q.ExecContext(ctx,
			`INSERT INTO file_details (file_id, metadata, provenance) VALUES ($1, $2, $3)
			 ON CONFLICT (file_id) DO UPDATE SET metadata = excluded.metadata, provenance = excluded.provenance`,
			f.ID, string(meta), string(prov))
		if x.s.d.foreignKey(err) {
			return notFound(op, "file %d not found", f.ID)
		}
		if err != nil {
			return x.s.d.wrap(op, err)
		}
		uploaded := f.UploadedAt.UnixMicro()
		if _, err := q.ExecContext(ctx,
			`UPDATE projects SET last_upload_at = $2
			 WHERE id = $1 AND (last_upload_at IS NULL OR last_upload_at < $2)`, f.ProjectID, uploaded); err != nil {
			return x.s.d.wrap(op, err)
		}
		if d.Metadata == nil {
			return nil
		}
		var name string
		if err := q.QueryRowContext(ctx,
			`UPDATE projects SET summary = $2 WHERE id = $1 RETURNING name`,
			f.ProjectID, d.Metadata.Summary).Scan(&name); err != nil {
			return x.s.d.wrap(op, err)
		}
		if _, err := q.ExecContext(ctx, `DELETE FROM project_terms WHERE project_id = $1`, f.ProjectID); err != nil {
			return x.s.d.wrap(op, err)
		}
		for _, w := range store.SearchWords(name + " " + d.Metadata.Summary) {
			if _, err := q.ExecContext(ctx,
				`INSERT INTO project_terms (term, project_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
				w, f.ProjectID); err != nil {
				return x.s.d.wrap(op, err)
			}
		}
		return nil
	})
}

func scanDetails(sc interface{ Scan(...any) error }) (registry.FileDetails, error) {
	var d registry.FileDetails
	var meta, prov string
	if err := sc.Scan(&d.FileID, &meta, &prov); err != nil {
		return d, err
	}
	if meta != "" {
		d.Metadata = new(registry.CoreMetadata)
		if err := json.Unmarshal([]byte(meta), d.Metadata); err != nil {
			return d, fmt.Errorf("file %d: stored metadata: %w", d.FileID, err)
		}
	}
	if prov != "" {
		if err := json.Unmarshal([]byte(prov), &d.Provenance); err != nil {
			return d, fmt.Errorf("file %d: stored provenance: %w", d.FileID, err)
		}
	}
	return d, nil
}

func (x catalog) ByProject(ctx context.Context, projectID int64) (map[int64]registry.FileDetails, error) {
	const op = "sqlstore.Catalog.ByProject"
	ds, err := queryAll(ctx, x.s, op, scanDetails,
		`SELECT d.file_id, d.metadata, d.provenance FROM file_details d
		 JOIN files f ON f.id = d.file_id WHERE f.project_id = $1`, projectID)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]registry.FileDetails, len(ds))
	for _, d := range ds {
		out[d.FileID] = d
	}
	return out, nil
}

func (x catalog) Missing(ctx context.Context, afterID int64, limit int) ([]registry.File, error) {
	const op = "sqlstore.Catalog.Missing"
	return queryAll(ctx, x.s, op, func(sc interface{ Scan(...any) error }) (registry.File, error) {
		var f registry.File
		err := scanFile(sc, &f)
		return f, err
	}, `SELECT `+fileCols+` FROM files f
		WHERE id > $1 AND NOT EXISTS (SELECT 1 FROM file_details d WHERE d.file_id = f.id)
		ORDER BY id LIMIT $2`, afterID, limit)
}

const entryCols = `p.id, p.repo_id, p.name, p.display_name, p.created_at, r.name, p.summary, p.last_upload_at`

func scanEntry(sc interface{ Scan(...any) error }) (store.ProjectEntry, error) {
	var e store.ProjectEntry
	var created int64
	var last sql.NullInt64
	err := sc.Scan(&e.ID, &e.RepoID, &e.Name, &e.DisplayName, &created, &e.Repo, &e.Summary, &last)
	e.CreatedAt, e.LastUpload = fromMicros(created), fromNullMicros(last)
	return e, err
}

// prefixEnd is the smallest string above every string starting with p
// (p's last byte raised by one), so a prefix is an index range, not a
// LIKE that would need escaping. Names and search words are ASCII or
// UTF-8 whose last byte is below 0xff.
func prefixEnd(p string) string {
	b := []byte(p)
	b[len(b)-1]++
	return string(b)
}

func (x catalog) Projects(ctx context.Context, q store.ProjectQuery) ([]store.ProjectEntry, bool, error) {
	const op = "sqlstore.Catalog.Projects"
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	lo, hi := "", ""
	if q.Prefix != "" {
		lo, hi = q.Prefix, prefixEnd(q.Prefix)
	}
	order := `p.name`
	if q.Sort == store.SortLastUpload {
		// Projects without uploads (NULL) last on both dialects.
		order = `CASE WHEN p.last_upload_at IS NULL THEN 1 ELSE 0 END, p.last_upload_at DESC, p.name`
	}
	page, err := queryAll(ctx, x.s, op, scanEntry,
		`SELECT `+entryCols+` FROM projects p JOIN repositories r ON r.id = p.repo_id
		 WHERE p.repo_id = $1 AND ($2 = '' OR (p.name >= $2 AND p.name < $3))
		 ORDER BY `+order+` LIMIT $4 OFFSET $5`,
		q.RepoID, lo, hi, limit+1, max(q.Offset, 0))
	if err != nil {
		return nil, false, err
	}
	if len(page) > limit {
		return page[:limit], true, nil
	}
	return page, false, nil
}

func (x catalog) Search(ctx context.Context, repoIDs []int64, name string, words []string, limit int) ([]store.ProjectEntry, error) {
	const op = "sqlstore.Catalog.Search"
	if len(repoIDs) == 0 || name == "" && len(words) == 0 {
		return nil, nil
	}
	if limit <= 0 {
		limit = 20
	}
	args := make([]any, 0, len(repoIDs)+2*len(words)+2)
	ph := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	in := make([]string, len(repoIDs))
	for i, id := range repoIDs {
		in[i] = ph(id)
	}
	// Unary plus: the repository filter must not pick an index (it would
	// scan every project of the repository); the name or the terms lead.
	repos := `+p.repo_id IN (` + strings.Join(in, ", ") + `)`
	var out []store.ProjectEntry
	if name != "" {
		exact, err := queryAll(ctx, x.s, op, scanEntry,
			`SELECT `+entryCols+` FROM projects p JOIN repositories r ON r.id = p.repo_id
			 WHERE `+repos+` AND p.name = `+ph(name)+` ORDER BY r.name`, args...)
		if err != nil {
			return nil, err
		}
		out = exact
		args = args[:len(repoIDs)]
	}
	if len(words) == 0 || len(out) >= limit {
		return out, nil
	}
	// The longest word (likely the rarest) drives the query from the terms
	// index; each other word is checked on the matched project's own terms.
	// Starting from projects in name order instead would test every
	// project of a large repository.
	drive := 0
	for i, w := range words {
		if len(w) > len(words[drive]) {
			drive = i
		}
	}
	var conds []string
	for i, w := range words {
		if i != drive {
			conds = append(conds, ` AND EXISTS (SELECT 1 FROM project_terms t WHERE t.project_id = p.id AND t.term >= `+ph(w)+` AND t.term < `+ph(prefixEnd(w))+`)`)
		}
	}
	notExact := ""
	if name != "" {
		notExact = ` AND p.name <> ` + ph(name)
	}
	lo, hi := ph(words[drive]), ph(prefixEnd(words[drive]))
	rest, err := queryAll(ctx, x.s, op, scanEntry,
		`SELECT `+entryCols+`
		 FROM (SELECT DISTINCT project_id FROM project_terms WHERE term >= `+lo+` AND term < `+hi+`) m
		 JOIN projects p ON p.id = m.project_id
		 JOIN repositories r ON r.id = p.repo_id
		 WHERE `+repos+notExact+strings.Join(conds, "")+`
		 ORDER BY p.name, r.name LIMIT `+ph(limit-len(out)), args...)
	if err != nil {
		return nil, err
	}
	return append(out, rest...), nil
}

type downloads struct{ s *Store }

func (x downloads) Add(ctx context.Context, counts []store.DownloadCount) error {
	const op = "sqlstore.Downloads.Add"
	if len(counts) == 0 {
		return nil
	}
	return x.s.write(ctx, op, func(q querier) error {
		for _, c := range counts {
			// A repository deleted since the download is skipped by the
			// WHERE (a foreign-key error would abort a PostgreSQL
			// transaction). The CASTs type the SELECT list for PostgreSQL.
			_, err := q.ExecContext(ctx,
				`INSERT INTO downloads (repo_id, project, version, day, count)
				 SELECT CAST($1 AS BIGINT), CAST($2 AS TEXT), CAST($3 AS TEXT), CAST($4 AS BIGINT), CAST($5 AS BIGINT)
				 WHERE EXISTS (SELECT 1 FROM repositories WHERE id = $1)
				 ON CONFLICT (repo_id, project, version, day) DO UPDATE SET count = downloads.count + excluded.count`,
				c.RepoID, c.Project, c.Version, dayNumber(c.Day), c.Count)
			if err != nil {
				return x.s.d.wrap(op, err)
			}
		}
		return nil
	})
}

func dayNumber(t time.Time) int64 { return t.UTC().Unix() / 86400 }

func (x downloads) Counts(ctx context.Context, repoID int64, project, version string, since time.Time) ([]store.DownloadCount, error) {
	const op = "sqlstore.Downloads.Counts"
	return queryAll(ctx, x.s, op, func(sc interface{ Scan(...any) error }) (store.DownloadCount, error) {
		c := store.DownloadCount{RepoID: repoID, Project: project}
		var day int64
		err := sc.Scan(&c.Version, &day, &c.Count)
		c.Day = time.Unix(day*86400, 0).UTC()
		return c, err
	}, `SELECT version, day, count FROM downloads
		WHERE repo_id = $1 AND project = $2 AND ($3 = '' OR version = $3) AND day >= $4
		ORDER BY day, version`, repoID, project, version, dayNumber(since))
}
