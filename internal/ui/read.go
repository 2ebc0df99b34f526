package ui

import (
	"context"
	"time"

	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
)

// Reader is what the pages read. StoreReader implements it over the
// metadata and blob stores; the listing service of the JSON API will take
// its place.
type Reader interface {
	// Repos lists every repository by name; the UI filters what the viewer
	// may read.
	Repos(ctx context.Context) ([]registry.Repository, error)
	// Repo returns one repository; an errs.NotFound error when missing.
	Repo(ctx context.Context, name string) (registry.Repository, error)
	// Settings returns a remote or virtual repository's settings.
	Settings(ctx context.Context, repo registry.Repository) (registry.RepoSettings, error)
	// ProjectCount counts a repository's projects.
	ProjectCount(ctx context.Context, repo registry.Repository) (int, error)
	// Projects returns one page of a repository's projects in name order.
	Projects(ctx context.Context, repo registry.Repository, q ProjectQuery) (ProjectPage, error)
	// Project returns a project and all its files; errs.NotFound when the
	// repository has no such project.
	Project(ctx context.Context, repo registry.Repository, name string) (registry.Project, []registry.File, error)
	// Metadata returns a file's core metadata; ok is false when none was
	// kept (sdists).
	Metadata(ctx context.Context, f registry.File) (m pypi.Metadata, ok bool, err error)
	// Provenance says who uploaded a file.
	Provenance(ctx context.Context, f registry.File) Provenance
	// Recent returns the newest uploads across repos, newest first.
	Recent(ctx context.Context, repos []registry.Repository, n int, only func(repo, project string) bool) ([]Upload, error)
}

// ProjectQuery selects a page of projects.
type ProjectQuery struct {
	// Search keeps projects whose normalised name contains it.
	Search string
	// Offset and Limit select the page.
	Offset, Limit int
	// Only, when set, keeps the projects the viewer may read (a token
	// limited to some projects).
	Only func(project string) bool
}

// ProjectPage is one page of a listing.
type ProjectPage struct {
	Projects []ProjectRow
	Total    int // matching projects, all pages
}

// ProjectRow is a project as listings show it.
type ProjectRow struct {
	Name        string // normalised
	DisplayName string
	Latest      string // newest version ("" for a remote repository's cache)
	LastUpload  time.Time
}

// Upload is one recently uploaded release.
type Upload struct {
	Repo, Project, DisplayName, Version string
	At                                  time.Time
}

// Provenance is how a file came to be: trusted publishing (with the
// workflow that ran) or an API token.
type Provenance struct {
	// Line is the sentence shown, "published by trusted publishing from
	// octo/demo, …" or "uploaded with token 'ci-upload'".
	Line string
	// Trusted is set for trusted publishing.
	Trusted bool
}
