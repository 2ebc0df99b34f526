package store

import "context"

// Locker serialises one piece of work across replicas sharing a database,
// such as the upstream fetch that fills a cold remote-cache page: the second
// replica waits, then finds the page filled. It is not part of Store (the
// callers that need it type-assert), and a database with one process
// (SQLite) runs fn at once.
type Locker interface {
	// WithLock runs fn while holding the lock named key, released when fn
	// returns (and by the database if this process dies). fn must not use
	// the lock's connection: it uses the Store as usual.
	WithLock(ctx context.Context, key string, fn func(ctx context.Context) error) error
}
