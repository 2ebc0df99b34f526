package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"

	"github.com/wharf-dev/wharf/internal/errs"
)

// SnapshotTo writes a consistent copy of a SQLite database to path (which
// must not exist) with VACUUM INTO: one read transaction, so writers go on
// while it runs and the copy is the database as of its start, compacted.
// PostgreSQL installations are backed up with PostgreSQL's tools (pg_dump,
// pg_basebackup), which this does not replace.
func (s *Store) SnapshotTo(ctx context.Context, path string) error {
	const op = "sqlstore.SnapshotTo"
	if s.d != sqliteDialect {
		return errs.E(errs.Invalid, op, errors.New("online snapshots are for SQLite; back up PostgreSQL with pg_dump or pg_basebackup"))
	}
	if _, err := os.Stat(path); err == nil {
		return errs.E(errs.Conflict, op, fmt.Errorf("%s already exists", path))
	}
	// A connection of the read pool, so the snapshot never holds the one
	// writer connection: uploads go on while it runs (WAL). The pool is
	// query_only, which refuses VACUUM INTO although it writes only the
	// new file; lift it for this statement and put it back.
	conn, err := s.r.Conn(ctx)
	if err != nil {
		return s.d.wrap(op, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA query_only = 0`); err != nil {
		return s.d.wrap(op, err)
	}
	_, verr := conn.ExecContext(ctx, `VACUUM INTO ?`, path)
	// Back to read-only before the connection returns to the pool; if that
	// fails the connection is discarded rather than reused writable.
	if _, err := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA query_only = 1`); err != nil {
		conn.Raw(func(any) error { return driver.ErrBadConn })
		return s.d.wrap(op, err)
	}
	if verr != nil {
		os.Remove(path)
		return s.d.wrap(op, fmt.Errorf("VACUUM INTO %s: %w", path, verr))
	}
	return nil
}
