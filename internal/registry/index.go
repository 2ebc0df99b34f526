package registry

import (
	"context"
	"io"
	"time"

	"github.com/wharf-dev/wharf/internal/pypi"
)

// Index is what the simple API reads from a repository, whatever its kind:
// hosted, remote and virtual repositories each implement it, and the HTTP
// layer dispatches on Repository.Kind.
type Index interface {
	// PageToken returns a number that changes whenever the page of project
	// ("" for the root) may have changed, so rendered pages can be cached
	// without asking the index. ok is false when the index cannot tell
	// without doing work (a remote entry past its freshness): the caller
	// then asks for the page and uses the token that comes back with it.
	PageToken(repo Repository, project string) (token uint64, ok bool)
	// Root returns the repository's project list.
	Root(ctx context.Context, repo Repository) (pypi.ProjectList, PageInfo, error)
	// Project returns one project's page; name is PEP 503 normalised.
	Project(ctx context.Context, repo Repository, name string) (pypi.ProjectPage, PageInfo, error)
	// Open opens the file a download URL names (its core metadata when
	// metadata is set). A URL whose sha256 is not the file's is not found.
	Open(ctx context.Context, repo Repository, sha256, filename string, metadata bool) (Download, error)
}

// PageInfo says how fresh a page is.
type PageInfo struct {
	// Token is the PageToken of the data the page was built from.
	Token uint64
	// Stale is set when the page is older than its freshness lifetime and
	// is served because the upstream failed (stale-if-error).
	Stale bool
	// View is, for pages whose content depends on who reads them (virtual
	// repositories), the fingerprint of what the caller was shown (see
	// PageView); 0 for pages the same for every allowed reader.
	View uint64
	// PerCaller is set when the page was built for this caller alone
	// (filtered by its token's project patterns, or through a nested
	// virtual repository): it must not be cached or shown to anyone else.
	PerCaller bool
}

// Viewer is implemented by indexes whose pages depend on the caller (the
// Reader in the context): virtual repositories, which skip the members the
// caller may not read. Their pages are cached per view.
type Viewer interface {
	PageView(ctx context.Context, repo Repository, project string) PageView
}

// PageView is one caller's view of a page, computed without I/O.
type PageView struct {
	// ID fingerprints the settings the page is built from and which members
	// are hidden from the caller: pages are cached under it, and a page
	// whose PageInfo.View differs is not cached.
	ID uint64
	// Token is the page token of this view; Current says it is known.
	Token   uint64
	Current bool
	// Cacheable is false when the page must be built for this caller alone.
	Cacheable bool
	// Shared is set when every member is public: the page is the same for
	// every reader, so shared caches may keep it.
	Shared bool
}

// Download is an opened distribution or metadata file.
type Download struct {
	Content io.ReadSeekCloser
	// Key is the sha256 of Content (the ETag).
	Key     string
	ModTime time.Time
	// Unsized is set when Content is still arriving from an upstream that
	// did not give its length: it cannot seek to its end, so it is sent
	// whole, without Content-Length or ranges.
	Unsized bool
	// Project is the PEP 503 name of the project the file belongs to, as
	// its stored row says (never parsed from the URL); "" when unknown.
	Project string
	// Private is set when the file came from a repository not everyone may
	// read (a private member of a virtual repository): shared caches must
	// not keep it.
	Private bool
}
