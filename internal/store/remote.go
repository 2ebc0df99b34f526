package store

import (
	"context"
	"time"
)

// CachedPage is a remote repository's copy of one upstream page: the page
// model as JSON (owned by registry/remote), or a remembered upstream 404.
type CachedPage struct {
	RepoID    int64
	Project   string // normalised; "" is the root
	NotFound  bool   // the upstream answered 404 (negative cache)
	Body      []byte // JSON of the page model; empty when NotFound
	FetchedAt time.Time
}

// RemoteFile maps a file offered by a remote repository to where the
// upstream serves it, so a download after a restart still knows the URL.
type RemoteFile struct {
	RepoID         int64
	SHA256         string
	Filename       string
	URL            string // absolute upstream URL
	MetadataSHA256 string // "" when the upstream advertises no core metadata
	UploadTime     time.Time
	// Project is the PEP 503 name of the project page that listed the file:
	// downloads are authorised by it, never by the URL's filename. "" for
	// entries stored before wharf kept it (unknown: never a wildcard).
	Project string
}

// Remote persists repository settings (remote and virtual repositories)
// and the pull-through cache's pages and file map, so a restarted wharf
// keeps serving cached pages while its upstream is down.
type Remote interface {
	// Settings returns the repository's kind-specific settings (JSON owned
	// by registry); ErrNotFound when none were stored.
	Settings(ctx context.Context, repoID int64) ([]byte, error)
	// PutSettings stores or replaces them.
	PutSettings(ctx context.Context, repoID int64, settings []byte) error
	// Page returns a cached page; ErrNotFound when none is stored.
	Page(ctx context.Context, repoID int64, project string) (CachedPage, error)
	// PutPage stores or replaces a cached page.
	PutPage(ctx context.Context, p CachedPage) error
	// PutFiles records files, replacing entries with the same sha256.
	PutFiles(ctx context.Context, files []RemoteFile) error
	// File returns the entry of sha256 in the repository; ErrNotFound.
	File(ctx context.Context, repoID int64, sha256 string) (RemoteFile, error)
	// Projects lists the projects with a cached page that is not a 404,
	// ordered by name.
	Projects(ctx context.Context, repoID int64) ([]string, error)
}
