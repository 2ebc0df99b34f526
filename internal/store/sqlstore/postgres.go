package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"hash/crc64"
	"io/fs"
	"runtime"

	_ "github.com/jackc/pgx/v5/stdlib" // registers driver "pgx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/wharf-dev/wharf/internal/errs"
)

// openPostgres opens one pool for reads and writes: PostgreSQL's MVCC needs
// no reader/writer split. Queries are the SQLite ones, unchanged.
func openPostgres(ctx context.Context, cfg Config) (*Store, error) {
	const op = "sqlstore.Open"
	if cfg.DSN == "" {
		return nil, errs.E(errs.Invalid, op, fmt.Errorf("the postgres driver needs a DSN (postgres://user:password@host/db)"))
	}
	db, err := sql.Open("pgx", cfg.DSN)
	if err != nil {
		return nil, errs.E(errs.Invalid, op, fmt.Errorf("postgres DSN: %w", err))
	}
	n := cfg.ReadConns
	if n <= 0 {
		n = max(4, 2*runtime.GOMAXPROCS(0))
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	if err := ping(ctx, db, cfg.Timeout); err != nil {
		db.Close()
		return nil, errs.E(errs.Unavailable, op, fmt.Errorf("connect to postgres: %w", err))
	}
	// The migration lock is per schema, so replicas sharing a schema take
	// turns while databases in other schemas (tests) do not wait.
	var schema string
	if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		db.Close()
		return nil, errs.E(errs.Unavailable, op, err)
	}
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(int64(crc64.Checksum([]byte("wharf:"+schema), crc64.MakeTable(crc64.ECMA))>>1)),
		lock.WithLockTimeout(1, 300))
	if err != nil {
		db.Close()
		return nil, errs.E(errs.Internal, op, err)
	}
	fsys, err := fs.Sub(migrations, "migrations/postgres")
	if err != nil {
		db.Close()
		return nil, errs.E(errs.Internal, op, err)
	}
	if err := migrate(ctx, goose.DialectPostgres, db, fsys, goose.WithSessionLocker(locker)); err != nil {
		db.Close()
		return nil, errs.E(errs.Internal, op, err)
	}
	s := &Store{w: db, r: db, d: postgresDialect, now: cfg.Now, timeout: cfg.Timeout, lockWait: cfg.LockWait}
	// sql.Open connects lazily: the lock pool costs nothing until a
	// cold remote page is filled.
	if s.locks, err = sql.Open("pgx", cfg.DSN); err != nil {
		db.Close()
		return nil, errs.E(errs.Invalid, op, err)
	}
	s.locks.SetMaxOpenConns(maxLockConns)
	s.locks.SetMaxIdleConns(2)
	if err := s.prepare(ctx); err != nil {
		s.locks.Close()
		db.Close()
		return nil, errs.E(errs.Internal, op, err)
	}
	return s, nil
}
