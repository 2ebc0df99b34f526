package hosted

import (
	"context"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
)

// Index returns the service as a registry.Index, the interface the simple
// API reads every kind of repository through.
func (s *Service) Index() registry.Index { return index{s} }

type index struct{ s *Service }

// PageToken is the repository's generation: known without the database.
func (x index) PageToken(repo registry.Repository, _ string) (uint64, bool) {
	return x.s.Generation(repo.ID), true
}

// Root reads the generation before the data, so a change racing the read
// gives a page tagged with the older generation, never a stale page tagged
// with the newer one.
func (x index) Root(ctx context.Context, repo registry.Repository) (pypi.ProjectList, registry.PageInfo, error) {
	gen := x.s.Generation(repo.ID)
	l, err := x.s.ProjectList(ctx, repo)
	return l, registry.PageInfo{Token: gen}, err
}

func (x index) Project(ctx context.Context, repo registry.Repository, name string) (pypi.ProjectPage, registry.PageInfo, error) {
	gen := x.s.Generation(repo.ID)
	p, err := x.s.ProjectPage(ctx, repo, name)
	return p, registry.PageInfo{Token: gen}, err
}

func (x index) Open(ctx context.Context, repo registry.Repository, sha256, filename string, metadata bool) (registry.Download, error) {
	f, err := x.s.LookupFile(ctx, repo, sha256, filename)
	if err != nil {
		return registry.Download{}, err
	}
	key := f.SHA256
	if metadata {
		if f.MetadataSHA256 == "" {
			return registry.Download{}, errs.Errorf(errs.NotFound, "hosted", "no core metadata is available for '%s'", filename)
		}
		key = f.MetadataSHA256
	}
	obj, err := x.s.blobs.Open(ctx, key)
	if err != nil {
		return registry.Download{}, err
	}
	return registry.Download{Content: obj, Key: key, ModTime: f.UploadedAt, Project: FileProject(f)}, nil
}
