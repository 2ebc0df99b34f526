// Package sqlstore implements store.Store over database/sql: one hand-written
// SQL layer whose query text ($N placeholders, ON CONFLICT, RETURNING) runs on
// both SQLite (modernc.org/sqlite) and PostgreSQL (pgx's stdlib driver). What really differs between
// the engines (DDL, connection set-up, error codes) lives in a dialect and in
// the per-dialect migrations under migrations/.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers driver "sqlite"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/store"
)

//go:embed migrations
var migrations embed.FS

// Config says which database to open.
type Config struct {
	// Driver is "sqlite" (the default) or "postgres".
	Driver string
	// DSN is, for sqlite, the database file path (created when missing; extra
	// driver parameters may follow a "?"); for postgres a connection URL.
	DSN string
	// ReadConns is the size of the SQLite read pool, or of the one
	// PostgreSQL pool; 0 means max(4, 2*GOMAXPROCS).
	ReadConns int
	// BusyTimeout is how long a SQLite connection waits for a lock held by
	// another process before failing; 0 means 5s (never more than Timeout).
	BusyTimeout time.Duration
	// Timeout bounds each statement and each transaction; 0 means
	// DefaultTimeout, negative none.
	Timeout time.Duration
	// LockWait bounds the wait for WithLock's lock; 0 means
	// DefaultLockWait, negative none.
	LockWait time.Duration
	// Now is the clock used for CreatedAt and similar fields; nil means
	// time.Now.
	Now func() time.Time
}

// Store is a store.Store backed by a SQL database. The root Store owns the
// connection pools; the Store handed to an InTx callback is bound to that
// transaction.
type Store struct {
	w   *sql.DB // writes: one connection on SQLite, so writers queue in Go, not on SQLITE_BUSY
	r   *sql.DB // reads: a query_only pool on SQLite, so reads never wait for the writer; == w on PostgreSQL
	tx  *sql.Tx // non-nil in a transaction-bound Store
	d   dialect
	now func() time.Time
	// timeout bounds each statement and transaction, lockWait the wait
	// for a WithLock lock (<= 0: none).
	timeout, lockWait time.Duration
	// locks holds WithLock's advisory locks on PostgreSQL: a pool of its
	// own, so lock holders waiting on each other never starve the queries
	// their work needs (nil on SQLite).
	locks *sql.DB

	// Where queries go: rq reads, wq writes. Outside a transaction they
	// use the hot statements prepared on each pool; inside one, both are the
	// transaction.
	rq, wq querier
}

var _ store.Store = (*Store)(nil)

// Open opens the database, applies pending migrations and returns the store.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	const op = "sqlstore.Open"
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.LockWait == 0 {
		cfg.LockWait = DefaultLockWait
	}
	switch cfg.Driver {
	case "", "sqlite":
		return openSQLite(ctx, cfg)
	case "postgres":
		return openPostgres(ctx, cfg)
	default:
		return nil, errs.Errorf(errs.Invalid, op, "unknown database driver %q; use sqlite or postgres", cfg.Driver)
	}
}

func openSQLite(ctx context.Context, cfg Config) (*Store, error) {
	const op = "sqlstore.Open"
	path, extra, _ := strings.Cut(cfg.DSN, "?")
	if path == "" || path == ":memory:" || strings.Contains(path, "mode=memory") {
		// Separate read and write pools need a shared file.
		return nil, errs.E(errs.Invalid, op, errors.New("the sqlite database needs a file path (in-memory databases are not supported)"))
	}
	busy := cfg.BusyTimeout
	if busy <= 0 {
		busy = 5 * time.Second
	}
	if cfg.Timeout > 0 {
		// A lock wait longer than the statement's deadline would end
		// as a cancelled statement rather than SQLITE_BUSY.
		busy = min(busy, cfg.Timeout)
	}
	common := fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)", busy.Milliseconds())
	if extra != "" {
		common += "&" + extra
	}
	// journal_mode(WAL) is persistent in the file; the writer sets it before
	// the read pool is opened. synchronous(NORMAL) is safe under WAL (a crash
	// may lose the last commits, never corrupt) and makes a commit cost no
	// fsync. _txlock=immediate takes the write lock at BEGIN, so a
	// transaction never fails half-way on a lock upgrade.
	// A plain path (no "file:" prefix) is opened literally, so '#' or '%'
	// in a directory name mean nothing special.
	wdsn := path + "?" + common + "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	rdsn := path + "?" + common + "&_pragma=query_only(1)"

	w, err := sql.Open("sqlite", wdsn)
	if err != nil {
		return nil, errs.E(errs.Internal, op, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := ping(ctx, w, cfg.Timeout); err != nil {
		w.Close()
		return nil, errs.E(errs.Unavailable, op, fmt.Errorf("open sqlite database %s: %w", path, err))
	}
	fsys, err := fs.Sub(migrations, "migrations/sqlite")
	if err != nil {
		w.Close()
		return nil, errs.E(errs.Internal, op, err)
	}
	if err := migrate(ctx, goose.DialectSQLite3, w, fsys); err != nil {
		w.Close()
		return nil, errs.E(errs.Internal, op, err)
	}

	r, err := sql.Open("sqlite", rdsn)
	if err != nil {
		w.Close()
		return nil, errs.E(errs.Internal, op, err)
	}
	n := cfg.ReadConns
	if n <= 0 {
		n = max(4, 2*runtime.GOMAXPROCS(0))
	}
	r.SetMaxOpenConns(n)
	// Keep every read connection: opening one re-runs the pragmas and
	// re-reads the schema.
	r.SetMaxIdleConns(n)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	if err := ping(ctx, r, cfg.Timeout); err != nil {
		w.Close()
		r.Close()
		return nil, errs.E(errs.Unavailable, op, fmt.Errorf("open sqlite read pool %s: %w", path, err))
	}
	s := &Store{w: w, r: r, d: sqliteDialect, now: cfg.Now, timeout: cfg.Timeout, lockWait: cfg.LockWait}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, errs.E(errs.Internal, op, err)
	}
	return s, nil
}

func migrate(ctx context.Context, d goose.Dialect, db *sql.DB, fsys fs.FS, opts ...goose.ProviderOption) error {
	p, err := goose.NewProvider(d, db, fsys, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

func (s *Store) Repos() store.Repos       { return repos{s} }
func (s *Store) Projects() store.Projects { return projects{s} }
func (s *Store) Files() store.Files       { return files{s} }
func (s *Store) Tokens() store.Tokens     { return tokens{s} }
func (s *Store) Audit() store.Audit       { return audit{s} }

// InTx runs fn in one transaction on the write connection. Inside a
// transaction-bound Store it just runs fn with the same transaction, so
// helpers that open their own InTx compose.
//
// On SQLite fn holds the only write connection: fn must use the Store it is
// given, never the outer one, for writes, or it waits for itself.
func (s *Store) InTx(ctx context.Context, fn func(tx store.Store) error) error {
	if s.tx != nil {
		return fn(s)
	}
	// PostgreSQL may abort a transaction that raced another replica's
	// (serialization failure, deadlock); it is run again from the start.
	for attempt := 1; ; attempt++ {
		err := s.inTx(ctx, fn)
		if attempt == maxTxAttempts || !s.d.retryable(err) {
			return err
		}
	}
}

func (s *Store) inTx(ctx context.Context, fn func(tx store.Store) error) error {
	// The transaction's deadline also bounds its COMMIT and ROLLBACK,
	// which run under the context given to BeginTx.
	txctx, cancel := deadline(ctx, s.timeout)
	defer cancel()
	tx, err := s.w.BeginTx(txctx, nil)
	if err != nil {
		return s.d.wrap("sqlstore.InTx", err)
	}
	done := false
	defer func() {
		if !done {
			tx.Rollback() // fn panicked
		}
	}()
	err = fn(s.bind(tx))
	done = true
	if err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return s.d.wrap("sqlstore.InTx", err)
	}
	return nil
}

// Ping checks that both pools answer.
func (s *Store) Ping(ctx context.Context) error {
	const op = "sqlstore.Ping"
	if s.tx != nil {
		return nil
	}
	if err := s.w.PingContext(ctx); err != nil {
		return errs.E(errs.Unavailable, op, err)
	}
	if s.r != s.w {
		if err := s.r.PingContext(ctx); err != nil {
			return errs.E(errs.Unavailable, op, err)
		}
	}
	return nil
}

// Close closes the pools. On a transaction-bound Store it does nothing: the
// transaction ends when the InTx callback returns.
func (s *Store) Close() error {
	if s.tx != nil {
		return nil
	}
	var err error
	qs := []querier{s.rq, s.wq}
	if s.rq == s.wq {
		qs = qs[:1]
	}
	for _, q := range qs {
		if q, ok := q.(*dbq); ok {
			for _, st := range q.st {
				err = errors.Join(err, st.Close())
			}
		}
	}
	err = errors.Join(err, s.w.Close())
	if s.locks != nil {
		err = errors.Join(err, s.locks.Close())
	}
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// Hot queries are prepared once per pool: modernc's SQLite parses every
// unprepared query again, which doubles the cost of a point lookup.
func hotReads() []string {
	return []string{qRepoGet, qProjectGet, qProjectList, qFileGet, qFileBySHA, qFileList, qTokenGet, qBlobInUse, qPublishersForIssuer}
}

func hotWrites() []string {
	return []string{qTombCheck, qSameBytes, qFileInsert, qProjectInsert, qProjectUpdate, qTokenTouch, qTokenInsert, qReplayClaim, qAuditInsert}
}

func (s *Store) prepare(ctx context.Context) error {
	if s.r == s.w {
		// One pool (PostgreSQL): one set of statements serves reads,
		// writes and transactions alike.
		st, err := prepareAll(ctx, s.w, append(hotReads(), hotWrites()...))
		if err != nil {
			return err
		}
		q := &dbq{timed: timed{s.timeout}, db: s.w, st: st}
		s.rq, s.wq = q, q
		return nil
	}
	rst, err := prepareAll(ctx, s.r, hotReads())
	if err != nil {
		return err
	}
	s.rq = &dbq{timed: timed{s.timeout}, db: s.r, st: rst}
	wst, err := prepareAll(ctx, s.w, hotWrites())
	if err != nil {
		for _, st := range rst {
			st.Close()
		}
		return err
	}
	s.wq = &dbq{timed: timed{s.timeout}, db: s.w, st: wst}
	return nil
}

func prepareAll(ctx context.Context, db *sql.DB, queries []string) (map[string]*sql.Stmt, error) {
	m := make(map[string]*sql.Stmt, len(queries))
	for _, q := range queries {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			for _, st := range m {
				st.Close()
			}
			return nil, fmt.Errorf("prepare %q: %w", q, err)
		}
		m[q] = st
	}
	return m, nil
}

// bind returns a Store bound to tx.
func (s *Store) bind(tx *sql.Tx) *Store {
	q := &txq{timed: timed{s.timeout}, tx: tx}
	if w, ok := s.wq.(*dbq); ok {
		q.st = w.st
	}
	return &Store{w: s.w, r: s.r, tx: tx, d: s.d, now: s.now, timeout: s.timeout, lockWait: s.lockWait, rq: q, wq: q}
}

// querier runs statements on a pool or in a transaction, each under the
// statement deadline (deadline.go).
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) row
}

// dbq runs queries on a pool, through a prepared statement when the query
// has one. st is read-only after Open.
type dbq struct {
	timed
	db *sql.DB
	st map[string]*sql.Stmt
}

func (q *dbq) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return q.exec(ctx, func(ctx context.Context) (sql.Result, error) {
		if st := q.st[query]; st != nil {
			return st.ExecContext(ctx, args...)
		}
		return q.db.ExecContext(ctx, query, args...)
	})
}

func (q *dbq) QueryContext(ctx context.Context, query string, args ...any) (*rows, error) {
	return q.query(ctx, func(ctx context.Context) (*sql.Rows, error) {
		if st := q.st[query]; st != nil {
			return st.QueryContext(ctx, args...)
		}
		return q.db.QueryContext(ctx, query, args...)
	})
}

func (q *dbq) QueryRowContext(ctx context.Context, query string, args ...any) row {
	return q.queryRow(ctx, func(ctx context.Context) *sql.Row {
		if st := q.st[query]; st != nil {
			return st.QueryRowContext(ctx, args...)
		}
		return q.db.QueryRowContext(ctx, query, args...)
	})
}

// txq runs queries in a transaction, reusing the write pool's prepared
// statements (Tx.StmtContext finds the one already prepared on the
// transaction's connection). Read statements belong to the other pool and
// cannot be used here; those run as plain queries.
type txq struct {
	timed
	tx *sql.Tx
	st map[string]*sql.Stmt
}

func (q *txq) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return q.exec(ctx, func(ctx context.Context) (sql.Result, error) {
		if st := q.st[query]; st != nil {
			return q.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
		}
		return q.tx.ExecContext(ctx, query, args...)
	})
}

func (q *txq) QueryContext(ctx context.Context, query string, args ...any) (*rows, error) {
	return q.query(ctx, func(ctx context.Context) (*sql.Rows, error) {
		if st := q.st[query]; st != nil {
			return q.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
		}
		return q.tx.QueryContext(ctx, query, args...)
	})
}

func (q *txq) QueryRowContext(ctx context.Context, query string, args ...any) row {
	return q.queryRow(ctx, func(ctx context.Context) *sql.Row {
		if st := q.st[query]; st != nil {
			return q.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
		}
		return q.tx.QueryRowContext(ctx, query, args...)
	})
}

// rd is where reads go: the transaction when bound to one, else the read pool.
func (s *Store) rd() querier { return s.rq }

// wr is where single-statement writes go (autocommit outside a transaction).
func (s *Store) wr() querier { return s.wq }

// write runs fn in a transaction: the bound one, or a new one on the write
// connection, for writes of more than one statement.
func (s *Store) write(ctx context.Context, op string, fn func(q querier) error) error {
	if s.tx != nil {
		return fn(s.wq)
	}
	txctx, cancel := deadline(ctx, s.timeout)
	defer cancel()
	tx, err := s.w.BeginTx(txctx, nil)
	if err != nil {
		return s.d.wrap(op, err)
	}
	if err := fn(s.bind(tx).wq); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return s.d.wrap(op, err)
	}
	return nil
}

// nowTime reads the store clock, truncated to the stored precision so the
// value set on a struct equals the one read back.
func (s *Store) nowTime() time.Time { return fromMicros(s.now().UnixMicro()) }

// Times are stored as unix microseconds (see migrations/sqlite/0001_init.sql);
// zero times as NULL.

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func toNullMicros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromNullMicros(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromMicros(n.Int64)
}

// storeErr is a client-facing message that matches one of the store's
// sentinel errors under errors.Is, without putting the sentinel's own text
// ("not found") in the message errs.Message shows.
type storeErr struct {
	msg      string
	sentinel error
}

func (e *storeErr) Error() string        { return e.msg }
func (e *storeErr) Is(target error) bool { return target == e.sentinel }

func sentinelErr(sentinel error, op, format string, args ...any) error {
	return errs.E(errs.KindOf(sentinel), op, &storeErr{msg: fmt.Sprintf(format, args...), sentinel: sentinel})
}

func notFound(op, format string, args ...any) error {
	return sentinelErr(store.ErrNotFound, op, format, args...)
}

func exists(op, format string, args ...any) error {
	return sentinelErr(store.ErrExists, op, format, args...)
}

// queryAll runs a read query and scans every row with scan; errors are
// wrapped with op.
func queryAll[T any](ctx context.Context, s *Store, op string, scan func(interface{ Scan(...any) error }) (T, error), query string, args ...any) ([]T, error) {
	rows, err := s.rd().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.d.wrap(op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, s.d.wrap(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, s.d.wrap(op, err)
	}
	return out, nil
}
