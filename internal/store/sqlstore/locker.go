package sqlstore

import (
	"context"
	"hash/fnv"
	"time"

	"github.com/wharf-dev/wharf/internal/store"
)

var _ store.Locker = (*Store)(nil)

// maxLockConns bounds the locks held (cold fills running) at once per
// process; more wait in Go.
const maxLockConns = 32

// WithLock implements store.Locker. On PostgreSQL it holds a
// transaction-scoped advisory lock on a 64-bit FNV-1a hash of key (computed
// here, so any bytes may be in a key; PostgreSQL's text cannot hold NUL)
// for the duration of fn,
// on a connection of the lock pool, not the query pool fn uses (so
// holders never starve fn of connections, and the lock dies with the
// process); a hash collision between two keys only makes them wait for
// each other. SQLite serves one process, whose in-process deduplication is
// enough: fn runs at once.
func (s *Store) WithLock(ctx context.Context, key string, fn func(ctx context.Context) error) error {
	if s.locks == nil {
		return fn(ctx)
	}
	const op = "sqlstore.WithLock"
	// The transaction lives as long as fn, so its context has no deadline
	// of its own; the lock wait and the COMMIT get theirs below. pgx runs
	// COMMIT under the context given to BeginTx: cancelling it is what
	// bounds a COMMIT the server never answers.
	txctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tx, err := s.locks.BeginTx(txctx, nil)
	if err != nil {
		return s.d.wrap(op, err)
	}
	defer tx.Rollback()
	h := fnv.New64a()
	h.Write([]byte(key))
	lctx, lcancel := deadline(ctx, s.lockWait)
	_, err = tx.ExecContext(lctx, `SELECT pg_advisory_xact_lock($1)`, int64(h.Sum64()))
	lcancel()
	if err != nil {
		return s.d.wrap(op, err)
	}
	if err := fn(ctx); err != nil {
		return err
	}
	// Commit or roll back alike release the lock; the transaction wrote
	// nothing.
	if s.timeout > 0 {
		defer time.AfterFunc(s.timeout, cancel).Stop()
	}
	return s.d.wrap(op, tx.Commit())
}
