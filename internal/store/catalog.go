package store

import (
	"context"
	"time"

	"github.com/wharf-dev/wharf/internal/registry"
)

// ProjectEntry is one project of a listing or a search: the project, the
// repository it is in, and the facts of its latest upload.
type ProjectEntry struct {
	registry.Project
	Repo       string
	Summary    string
	LastUpload time.Time // zero: no file recorded yet
}

// Project listing orders.
const (
	SortName       = "name"
	SortLastUpload = "last_upload" // newest first, then by name
)

// ProjectQuery selects a page of one repository's projects.
type ProjectQuery struct {
	RepoID int64
	Prefix string // normalised name prefix; "" for all
	Sort   string // SortName (default) or SortLastUpload
	Offset int
	Limit  int // 0: 100
}

// Catalog persists what wharf knows about the files it holds (parsed core
// metadata and provenance) and answers listings and searches.
type Catalog interface {
	// Put stores or replaces the details of f (which must exist). With
	// metadata it also makes its summary the project's and re-indexes the
	// project's search words; it raises the project's last upload time to
	// f.UploadedAt.
	Put(ctx context.Context, f registry.File, d registry.FileDetails) error
	// ByProject returns the details of the project's files by file ID;
	// files without details are absent.
	ByProject(ctx context.Context, projectID int64) (map[int64]registry.FileDetails, error)
	// Missing returns up to limit files with an ID above afterID that have
	// no details, in ID order (the backfill).
	Missing(ctx context.Context, afterID int64, limit int) ([]registry.File, error)
	// Projects returns a page of a repository's projects and whether more
	// follow.
	Projects(ctx context.Context, q ProjectQuery) (page []ProjectEntry, more bool, err error)
	// Search finds projects of the given repositories whose normalised
	// name equals name (first), or that have a search word starting with
	// each of words (a project's name parts and its summary's words),
	// ordered by name, at most limit.
	Search(ctx context.Context, repoIDs []int64, name string, words []string, limit int) ([]ProjectEntry, error)
}

// DownloadCount is a number of downloads of one version on one UTC day.
type DownloadCount struct {
	RepoID  int64
	Project string // normalised
	Version string
	Day     time.Time // midnight UTC
	Count   int64
}

// Downloads persists download counts. Every writer adds, so replicas that
// flush their own counts for the same key sum up.
type Downloads interface {
	// Add adds each count to the stored one, in one transaction.
	Add(ctx context.Context, counts []DownloadCount) error
	// Counts returns the counts of a project (of one version when version
	// is not "") from since (a day) on.
	Counts(ctx context.Context, repoID int64, project, version string, since time.Time) ([]DownloadCount, error)
}
