package store

import (
	"context"
	"time"
)

// Cluster is the coordination state replicas sharing one database use.
type Cluster interface {
	// Serials returns each repository's change serial: a number the
	// database raises in the same transaction as every change to the
	// repository's projects or files, however it was made. Repositories
	// that never changed may be missing. Page caches compare serials to
	// learn that another replica changed a repository.
	Serials(ctx context.Context) (map[int64]int64, error)
	// AcquireLease gives holder the named lease until `until`, when the
	// lease is free, expired at now, or already holder's (a renewal). It
	// reports whether holder holds the lease afterwards. Atomic.
	AcquireLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error)
	// ReleaseLease frees the lease if holder holds it.
	ReleaseLease(ctx context.Context, name, holder string) error
}
