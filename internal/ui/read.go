package ui

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/catalog"
	"github.com/wharf-dev/wharf/internal/store"
)

// Reader is what the pages read: repositories and their settings, and the
// catalog's listings, projects and search. The UI decides what the viewer
// may read and passes it in (only), as the simple API does.
type Reader interface {
	// Repos lists every repository by name.
	Repos(ctx context.Context) ([]registry.Repository, error)
	// Repo returns one repository; an errs.NotFound error when missing.
	Repo(ctx context.Context, name string) (registry.Repository, error)
	// Settings returns a remote or virtual repository's settings.
	Settings(ctx context.Context, repo registry.Repository) (registry.RepoSettings, error)
	Projects(ctx context.Context, repo registry.Repository, q store.ProjectQuery, only catalog.Only) (catalog.Page, error)
	Project(ctx context.Context, repo registry.Repository, name string) (catalog.Project, error)
	Search(ctx context.Context, repos []registry.Repository, text string, only func(repo, project string) bool, limit int) ([]store.ProjectEntry, error)
}

// CatalogReader is the Reader of a server: the catalog service for
// projects, the store for repositories.
type CatalogReader struct {
	*catalog.Service
	Store store.Store
}

var _ Reader = CatalogReader{}

func (c CatalogReader) Repos(ctx context.Context) ([]registry.Repository, error) {
	return c.Store.Repos().List(ctx)
}

func (c CatalogReader) Repo(ctx context.Context, name string) (registry.Repository, error) {
	r, err := c.Store.Repos().Get(ctx, name)
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

func (c CatalogReader) Settings(ctx context.Context, r registry.Repository) (registry.RepoSettings, error) {
	var rs registry.RepoSettings
	if r.Kind == registry.Hosted {
		return rs, nil
	}
	raw, err := c.Store.Remote().Settings(ctx, r.ID)
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
