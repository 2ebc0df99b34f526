package hosted

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

// ProjectList returns the repository's root index.
func (s *Service) ProjectList(ctx context.Context, repo registry.Repository) (pypi.ProjectList, error) {
	ps, err := s.store.Projects().List(ctx, repo.ID)
	if err != nil {
		return pypi.ProjectList{}, err
	}
	l := pypi.ProjectList{Projects: make([]pypi.ProjectEntry, len(ps))}
	for i, p := range ps {
		l.Projects[i] = pypi.ProjectEntry{Name: p.DisplayName, Normalized: p.Name}
	}
	return l, nil
}

// FileURL is where a file is served, relative to a project page
// ({repo}/simple/{project}/), so pages work under any host and prefix.
func FileURL(sha256, filename string) string {
	return "../../files/" + sha256 + "/" + filename
}

// ProjectPage returns one project's index page; name must be normalised.
// Files are ordered by version (PEP 440), then filename.
func (s *Service) ProjectPage(ctx context.Context, repo registry.Repository, name string) (pypi.ProjectPage, error) {
	p, err := s.store.Projects().Get(ctx, repo.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return pypi.ProjectPage{}, errs.Errorf(errs.NotFound, "hosted", "project '%s' not found in repository '%s'", name, repo.Name)
	}
	if err != nil {
		return pypi.ProjectPage{}, err
	}
	files, err := s.store.Files().ListByProject(ctx, p.ID)
	if err != nil {
		return pypi.ProjectPage{}, err
	}
	type keyed struct {
		v pypi.Version
		f *registry.File
	}
	ks := make([]keyed, len(files))
	for i := range files {
		v, _ := pypi.ParseVersion(files[i].Version) // stored versions were parsed at upload
		ks[i] = keyed{v, &files[i]}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int {
		if c := pypi.Compare(a.v, b.v); c != 0 {
			return c
		}
		return strings.Compare(a.f.Filename, b.f.Filename)
	})
	page := pypi.ProjectPage{Name: p.Name, DisplayName: p.DisplayName, Files: make([]pypi.FileEntry, len(ks))}
	for i, k := range ks {
		f := k.f
		page.Files[i] = pypi.FileEntry{
			Filename:           f.Filename,
			URL:                FileURL(f.SHA256, f.Filename),
			SHA256:             f.SHA256,
			RequiresPython:     f.RequiresPython,
			Yanked:             f.Yanked,
			YankedReason:       f.YankedReason,
			CoreMetadataSHA256: f.MetadataSHA256,
			Size:               f.Size,
			UploadTime:         f.UploadedAt,
			Version:            f.Version,
		}
		if n := len(page.Versions); n == 0 || page.Versions[n-1] != f.Version {
			page.Versions = append(page.Versions, f.Version)
		}
	}
	page.Versions = slices.Compact(page.Versions)
	return page, nil
}

// LookupFile finds the file a download URL names. A URL whose sha256 does
// not match the file's is not found, so URLs never serve other content; nor
// is a file of a project the caller (ctx's registry.Reader) may not read.
func (s *Service) LookupFile(ctx context.Context, repo registry.Repository, sha256, filename string) (registry.File, error) {
	f, err := s.store.Files().GetByFilename(ctx, repo.ID, filename)
	switch {
	case err == nil:
		s.recent.put(f)
	case errors.Is(err, store.ErrNotFound):
		s.recent.forget(repo.ID, filename)
	case errs.KindOf(err) == errs.Unavailable:
		// The database is unreachable: serve what this replica served.
		if rf, ok := s.recent.get(repo.ID, filename); ok {
			f, err = rf, nil
		}
	}
	if err == nil && f.SHA256 != sha256 {
		err = store.ErrNotFound
	}
	if err == nil && !registry.ReaderFrom(ctx).CanReadProject(repo, FileProject(f)) {
		// A file of a project the caller may not read is absent for it.
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		return f, errs.Errorf(errs.NotFound, "hosted", "file '%s' not found in repository '%s'", filename, repo.Name)
	}
	return f, err
}

// FileProject is the PEP 503 name of a stored file's project: the upload
// refused any filename whose project is not the project it was stored
// under, so the stored filename names it. "" (unknown, never a wildcard)
// if it does not parse.
func FileProject(f registry.File) string {
	d, err := pypi.ParseFilename(f.Filename)
	if err != nil {
		return ""
	}
	return d.Project()
}
