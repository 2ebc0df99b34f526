package sqlstore

import (
	"context"
	"errors"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/wharf-dev/wharf/internal/errs"
)

// dialect is what differs between the engines once the SQL text is shared:
// how their errors read. DDL differences live in the per-dialect migrations.
type dialect uint8

const (
	sqliteDialect dialect = iota + 1
	postgresDialect
)

// foreignKey reports a foreign-key violation (a parent row is missing).
func (d dialect) foreignKey(err error) bool {
	switch d {
	case sqliteDialect:
		return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	case postgresDialect:
		return pgCode(err) == "23503"
	}
	return false
}

// unique reports a unique or primary-key violation. Most inserts avoid it
// with ON CONFLICT DO NOTHING; this catches the rest.
func (d dialect) unique(err error) bool {
	switch d {
	case sqliteDialect:
		c := sqliteCode(err)
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	case postgresDialect:
		return pgCode(err) == "23505"
	}
	return false
}

// unavailable reports errors that mean "try again later": a lock held too
// long by another process, or a database that went away.
func (d dialect) unavailable(err error) bool {
	switch d {
	case sqliteDialect:
		switch sqliteCode(err) & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN:
			return true
		}
	case postgresDialect:
		c := pgCode(err)
		// 08: connection exception; 53: insufficient resources; 57P: operator intervention.
		if len(c) == 5 && (c[:2] == "08" || c[:2] == "53" || c[:3] == "57P") {
			return true
		}
		// A database that cannot be reached answers no SQLSTATE at all:
		// the connection fails or breaks (a replica that lost the database
		// refuses writes with 503, not 500).
		return c == "" && pgConnLost(err)
	}
	return false
}

// wrap gives err a kind: the context's own errors and busy databases are
// Unavailable, the rest Internal.
func (d dialect) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || d.unavailable(err) {
		return errs.E(errs.Unavailable, op, err)
	}
	return errs.E(errs.Internal, op, err)
}

func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// pgCode returns the SQLSTATE of a PostgreSQL error. It matches on a method
// rather than pgconn's type so this package does not need pgx until the
// postgres driver is wired in.
func pgCode(err error) string {
	var e interface{ SQLState() string }
	if errors.As(err, &e) {
		return e.SQLState()
	}
	return ""
}
