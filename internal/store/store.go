// Package store defines wharf's metadata persistence: one small interface per
// aggregate, implemented by store/sqlstore (SQLite and PostgreSQL) and held to
// one contract by the conformance suite in store/storetest.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
)

// Sentinel errors carry a kind, so both errors.Is and errs.KindOf work.
var (
	ErrNotFound = errs.E(errs.NotFound, "store", errors.New("not found"))
	ErrExists   = errs.E(errs.Conflict, "store", errors.New("already exists"))
	// ErrFilenameUsed: the filename belonged to a file that was deleted;
	// PyPI never lets a filename be reused.
	ErrFilenameUsed = errs.E(errs.Conflict, "store", errors.New("filename was used by a deleted file"))
	// ErrContentExists: the same bytes (sha256) are stored in the
	// repository under another filename; PyPI refuses them too.
	ErrContentExists = errs.E(errs.Conflict, "store", errors.New("the same content is stored under another filename"))
)

// Store is the whole metadata store.
type Store interface {
	Repos() Repos
	Projects() Projects
	Files() Files
	Tokens() Tokens
	Audit() Audit
	Publishers() Publishers
	Replay() Replay
	Policies() Policies
	Cluster() Cluster
	Remote() Remote
	Secrets() Secrets
	Catalog() Catalog
	Downloads() Downloads
	// InTx runs fn in one transaction; fn's Store sees and writes only
	// inside it. The transaction commits when fn returns nil.
	InTx(ctx context.Context, fn func(tx Store) error) error
	// Ping checks that the database answers (readiness).
	Ping(ctx context.Context) error
	Close() error
}

// Repos persists repositories.
type Repos interface {
	// Create inserts r, setting ID and CreatedAt; ErrExists if the name is taken.
	Create(ctx context.Context, r *registry.Repository) error
	Get(ctx context.Context, name string) (registry.Repository, error)
	List(ctx context.Context) ([]registry.Repository, error) // by name
	Update(ctx context.Context, r registry.Repository) error // Public, Description
	// Delete removes the repository and everything in it (projects, files,
	// tombstones). Blobs are left for the orphan sweep.
	Delete(ctx context.Context, name string) error
}

// Projects persists projects. name arguments are PEP 503 normalised.
type Projects interface {
	Get(ctx context.Context, repoID int64, name string) (registry.Project, error)
	// Ensure returns the project, creating it when missing (created reports
	// which). An existing project's DisplayName is updated to p.DisplayName.
	Ensure(ctx context.Context, p registry.Project) (got registry.Project, created bool, err error)
	// List returns the repository's projects ordered by Name.
	List(ctx context.Context, repoID int64) ([]registry.Project, error)
	// Delete removes the project and its files, tombstoning their filenames.
	Delete(ctx context.Context, id int64) error
}

// Files persists distribution files.
type Files interface {
	// Add inserts f, setting ID. A filename already present in the
	// repository gives ErrExists; a tombstoned one ErrFilenameUsed; the
	// same sha256 under another filename of the repository
	// ErrContentExists (checked in the insert's transaction).
	Add(ctx context.Context, f *registry.File) error
	GetByFilename(ctx context.Context, repoID int64, filename string) (registry.File, error)
	// GetBySHA256 returns a file of the repository with that content (the
	// oldest); ErrNotFound when none.
	GetBySHA256(ctx context.Context, repoID int64, sha256 string) (registry.File, error)
	// ListByProject returns the project's files ordered by filename.
	ListByProject(ctx context.Context, projectID int64) ([]registry.File, error)
	// SetYanked yanks or unyanks every file of a release (release is the
	// canonical version) and returns how many changed.
	SetYanked(ctx context.Context, projectID int64, release string, yanked bool, reason string) (int, error)
	// Delete removes a file and tombstones its filename.
	Delete(ctx context.Context, id int64) error
	// BlobInUse reports whether any file references sha256 as its content
	// or its metadata, in any repository.
	BlobInUse(ctx context.Context, sha256 string) (bool, error)
}

// Tokens persists API tokens.
type Tokens interface {
	Create(ctx context.Context, t registry.Token) error // ErrExists on a duplicate ID
	Get(ctx context.Context, id string) (registry.Token, error)
	List(ctx context.Context) ([]registry.Token, error) // newest first
	Revoke(ctx context.Context, id string, at time.Time) error
	Touch(ctx context.Context, id string, at time.Time) error // LastUsedAt
	// DeleteExpired removes tokens that expired before cutoff.
	DeleteExpired(ctx context.Context, cutoff time.Time) (int, error)
}

// AuditFilter selects audit events; zero fields match everything.
type AuditFilter struct {
	Repo    string
	Project string
	Target  string // exact: a filename, a version, a token ID
	Action  string // exact, or a prefix ending in "." ("oidc.")
	Since   time.Time
	Limit   int // 0: 100
}

// Audit is the append-only audit log.
type Audit interface {
	Append(ctx context.Context, e registry.AuditEvent) error
	// List returns matching events, newest first.
	List(ctx context.Context, f AuditFilter) ([]registry.AuditEvent, error)
}

// Publishers persists trusted publishers. The kind-specific configuration
// is opaque JSON to the store; the oidc package owns its meaning.
type Publishers interface {
	// Create inserts p, setting ID and CreatedAt.
	Create(ctx context.Context, p *registry.PublisherRecord) error
	Get(ctx context.Context, id int64) (registry.PublisherRecord, error)
	// List returns the publishers of a repository ("" for all), optionally
	// of one project (""), ordered by ID.
	List(ctx context.Context, repo, project string) ([]registry.PublisherRecord, error)
	// ForIssuer returns every publisher whose Issuer equals issuer exactly.
	ForIssuer(ctx context.Context, issuer string) ([]registry.PublisherRecord, error)
	Delete(ctx context.Context, id int64) error
	// Reify turns a pending publisher into a normal one once its project
	// exists.
	Reify(ctx context.Context, id int64) error
}

// Replay remembers which OIDC ID tokens (issuer, jti) were used, so each is
// exchanged once, also across replicas sharing the database.
type Replay interface {
	// Claim records (issuer, jti) until the given time. fresh is false when
	// it was already recorded and not yet expired. Atomic.
	Claim(ctx context.Context, issuer, jti string, until time.Time) (fresh bool, err error)
	// DeleteExpired forgets entries that expired before cutoff.
	DeleteExpired(ctx context.Context, cutoff time.Time) (int, error)
}
