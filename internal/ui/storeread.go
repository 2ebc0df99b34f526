package ui

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"

	"github.com/wharf-dev/wharf/internal/blob"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

// StoreReader reads straight from the stores. Listings load a repository's
// project names and fetch details for one page only.
type StoreReader struct {
	Store store.Store
	Blobs blob.Store
}

var _ Reader = StoreReader{}

func (s StoreReader) Repos(ctx context.Context) ([]registry.Repository, error) {
	return s.Store.Repos().List(ctx)
}

func (s StoreReader) Repo(ctx context.Context, name string) (registry.Repository, error) {
	r, err := s.Store.Repos().Get(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return r, errNoRepo(name)
	}
	return r, err
}

func errNoRepo(name string) error {
	return errs.Errorf(errs.NotFound, "ui", "repository '%s' does not exist", name)
}

func errNoProject(repo, name string) error {
	return errs.Errorf(errs.NotFound, "ui", "project '%s' does not exist in repository '%s'", name, repo)
}

func (s StoreReader) Settings(ctx context.Context, r registry.Repository) (registry.RepoSettings, error) {
	var rs registry.RepoSettings
	if r.Kind == registry.Hosted {
		return rs, nil
	}
	raw, err := s.Store.Remote().Settings(ctx, r.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && len(raw) == 0) {
		return rs, nil
	}
	if err != nil {
		return rs, err
	}
	if err := json.Unmarshal(raw, &rs); err != nil {
		return rs, errs.E(errs.Internal, "ui", err)
	}
	return rs, nil
}

// names lists a repository's project names: its projects when hosted, the
// projects it has cached when remote, none when virtual (its members are
// listed instead).
func (s StoreReader) names(ctx context.Context, r registry.Repository) ([]ProjectRow, error) {
	switch r.Kind {
	case registry.Hosted:
		ps, err := s.Store.Projects().List(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		rows := make([]ProjectRow, len(ps))
		for i, p := range ps {
			rows[i] = ProjectRow{Name: p.Name, DisplayName: p.DisplayName}
		}
		return rows, nil
	case registry.Remote:
		ns, err := s.Store.Remote().Projects(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		slices.Sort(ns)
		rows := make([]ProjectRow, len(ns))
		for i, n := range ns {
			rows[i] = ProjectRow{Name: n, DisplayName: n}
		}
		return rows, nil
	}
	return nil, nil
}

func (s StoreReader) ProjectCount(ctx context.Context, r registry.Repository) (int, error) {
	rows, err := s.names(ctx, r)
	return len(rows), err
}

func (s StoreReader) Projects(ctx context.Context, r registry.Repository, q ProjectQuery) (ProjectPage, error) {
	rows, err := s.names(ctx, r)
	if err != nil {
		return ProjectPage{}, err
	}
	search := pypi.Normalize(strings.TrimSpace(q.Search))
	kept := rows[:0]
	for _, row := range rows {
		if (search == "" || strings.Contains(row.Name, search)) && (q.Only == nil || q.Only(row.Name)) {
			kept = append(kept, row)
		}
	}
	page := ProjectPage{Total: len(kept)}
	lo := min(q.Offset, len(kept))
	hi := min(lo+q.Limit, len(kept))
	page.Projects = kept[lo:hi]
	if r.Kind != registry.Hosted {
		return page, nil
	}
	for i, row := range page.Projects {
		p, err := s.Store.Projects().Get(ctx, r.ID, row.Name)
		if err != nil {
			return page, err
		}
		files, err := s.Store.Files().ListByProject(ctx, p.ID)
		if err != nil {
			return page, err
		}
		page.Projects[i].Latest, page.Projects[i].LastUpload = latest(files)
	}
	return page, nil
}

func (s StoreReader) Project(ctx context.Context, r registry.Repository, name string) (registry.Project, []registry.File, error) {
	p, err := s.Store.Projects().Get(ctx, r.ID, pypi.Normalize(name))
	if errors.Is(err, store.ErrNotFound) {
		return p, nil, errNoProject(r.Name, name)
	}
	if err != nil {
		return p, nil, err
	}
	files, err := s.Store.Files().ListByProject(ctx, p.ID)
	return p, files, err
}

// maxMetadata bounds what is read of a metadata blob.
const maxMetadata = pypi.MaxMetadataSize

func (s StoreReader) Metadata(ctx context.Context, f registry.File) (pypi.Metadata, bool, error) {
	if f.MetadataSHA256 == "" {
		return pypi.Metadata{}, false, nil
	}
	obj, err := s.Blobs.Open(ctx, f.MetadataSHA256)
	if err != nil {
		return pypi.Metadata{}, false, err
	}
	defer obj.Close()
	b, err := io.ReadAll(io.LimitReader(obj, maxMetadata+1))
	if err != nil {
		return pypi.Metadata{}, false, err
	}
	m, err := pypi.ParseMetadata(b)
	if err != nil {
		return pypi.Metadata{}, false, nil // shown as "no metadata", not an error page
	}
	return m, true, nil
}

// Provenance names the token that uploaded the file. Tokens minted by
// trusted publishing say so by their origin; the workflow's claims are
// the JSON API's provenance records, which replace this.
func (s StoreReader) Provenance(ctx context.Context, f registry.File) Provenance {
	if f.UploadedBy == "" {
		return Provenance{Line: "uploader not recorded"}
	}
	t, err := s.Store.Tokens().Get(ctx, f.UploadedBy)
	if err != nil {
		return Provenance{Line: "uploaded with token " + f.UploadedBy}
	}
	if iss, ok := strings.CutPrefix(t.Origin, "oidc:"); ok {
		line := "published by trusted publishing (issuer " + iss + ")"
		if t.Description != "" {
			line += ": " + t.Description
		}
		return Provenance{Line: line, Trusted: true}
	}
	if t.Description != "" {
		return Provenance{Line: "uploaded with token '" + t.Description + "' (" + t.ID + ")"}
	}
	return Provenance{Line: "uploaded with token " + t.ID}
}

// recentScan bounds how many projects of one repository Recent looks at.
const recentScan = 200

func (s StoreReader) Recent(ctx context.Context, repos []registry.Repository, n int, only func(repo, project string) bool) ([]Upload, error) {
	var out []Upload
	for _, r := range repos {
		if r.Kind != registry.Hosted {
			continue
		}
		ps, err := s.Store.Projects().List(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		// Newest projects first: without an index on upload time this
		// is the cheap approximation (the listing service has the real one).
		slices.SortFunc(ps, func(a, b registry.Project) int { return b.CreatedAt.Compare(a.CreatedAt) })
		for _, p := range ps[:min(len(ps), recentScan)] {
			if only != nil && !only(r.Name, p.Name) {
				continue
			}
			files, err := s.Store.Files().ListByProject(ctx, p.ID)
			if err != nil {
				return nil, err
			}
			for _, rel := range releases(files) {
				out = append(out, Upload{Repo: r.Name, Project: p.Name, DisplayName: p.DisplayName, Version: rel.Version, At: rel.Uploaded})
			}
		}
	}
	slices.SortFunc(out, func(a, b Upload) int { return cmp.Or(b.At.Compare(a.At), strings.Compare(a.Project, b.Project)) })
	return out[:min(len(out), n)], nil
}
