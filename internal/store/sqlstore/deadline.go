package sqlstore

import (
	"context"
	"database/sql"
	"time"
)

// Deadlines: a database that accepts connections and then stops answering
// (a partition, a paused server, another process holding SQLite's write
// lock) must fail a request in bounded time rather than hold it, and the
// connection it holds, forever. Neither driver has a deadline of its own:
// pgx and modernc's SQLite stop a statement only when its context ends.
const (
	// DefaultTimeout bounds each statement and each transaction.
	DefaultTimeout = 10 * time.Second
	// DefaultLockWait bounds the wait for a cross-replica lock (WithLock),
	// which another replica may hold for a whole upstream fetch.
	DefaultLockWait = time.Minute
)

// deadline derives the context one database call runs under: the caller's,
// cut to d from now (a caller's earlier deadline stays). d <= 0 means none.
func deadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// row is a *sql.Row whose query runs under a deadline; Scan, which reads
// and closes it, releases the deadline.
type row struct {
	*sql.Row
	cancel context.CancelFunc
}

func (r row) Scan(dest ...any) error {
	defer r.cancel()
	return r.Row.Scan(dest...)
}

// rows is a *sql.Rows whose query runs under a deadline, which covers
// reading the rows too; Close releases it.
type rows struct {
	*sql.Rows
	cancel context.CancelFunc
}

func (r *rows) Close() error {
	defer r.cancel()
	return r.Rows.Close()
}

// timed runs the statements of a querier under a deadline each.
type timed struct {
	timeout time.Duration
}

func (t timed) exec(ctx context.Context, run func(context.Context) (sql.Result, error)) (sql.Result, error) {
	ctx, cancel := deadline(ctx, t.timeout)
	defer cancel()
	return run(ctx)
}

func (t timed) query(ctx context.Context, run func(context.Context) (*sql.Rows, error)) (*rows, error) {
	ctx, cancel := deadline(ctx, t.timeout)
	rs, err := run(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	return &rows{Rows: rs, cancel: cancel}, nil
}

func (t timed) queryRow(ctx context.Context, run func(context.Context) *sql.Row) row {
	ctx, cancel := deadline(ctx, t.timeout)
	return row{Row: run(ctx), cancel: cancel}
}

// ping checks a pool answers within d, so Open fails rather than hangs on a
// server that accepts connections and never answers.
func ping(ctx context.Context, db *sql.DB, d time.Duration) error {
	ctx, cancel := deadline(ctx, d)
	defer cancel()
	return db.PingContext(ctx)
}
