package store

import "context"

// Table describes one table of the metadata database as wharf migrate
// copies it: its columns, the first Key of which form the primary key.
type Table struct {
	Name    string
	Columns []string
	Key     int
}

// Tables is a row-level view of the whole metadata database, so an
// installation can be copied to another backend (wharf migrate) with every
// ID, hash and ciphertext exactly as stored. Row values are int64, string,
// bool, []byte or nil (NULL), the same Go types on every dialect. It is
// not part of Store: only the copier needs it, and it type-asserts.
type Tables interface {
	// Tables lists the copied tables in an order that satisfies foreign
	// keys (parents first). Derived and ephemeral state (change serials,
	// leases) is not listed.
	Tables() []Table
	// Snapshot runs fn with a reader of one consistent read-only snapshot
	// of every table, so a copy of a running installation never sees a
	// file without its project. scan calls row for each row of the table
	// ordered by primary key; row must not keep the slice.
	Snapshot(ctx context.Context, fn func(scan func(table string, row func([]any) error) error) error) error
	// WriteRows inserts rows and replaces the non-key columns of updates
	// (matched by primary key), in one transaction.
	WriteRows(ctx context.Context, table string, inserts, updates [][]any) error
	// DeleteRows deletes the rows whose primary-key values are keys (each
	// the key columns, in order), in one transaction.
	DeleteRows(ctx context.Context, table string, keys [][]any) error
	// CountRows returns the number of rows of the table.
	CountRows(ctx context.Context, table string) (int64, error)
	// AfterCopy brings generated IDs past the copied ones (PostgreSQL
	// identity sequences), so the next row created gets a fresh ID.
	AfterCopy(ctx context.Context) error
}
