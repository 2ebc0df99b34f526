package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/store"
)

// column kinds: how a value is normalised so both dialects hand out (and
// take) the same Go types. SQLite stores booleans as 0/1 integers and may
// hand out an empty BLOB as NULL. An upper-case kind marks a nullable
// column.
const (
	kInt   = 'i'
	kText  = 't'
	kBool  = 'b'
	kBytes = 'x'
)

// tableSpec is a copied table; kinds has one letter per column. ident is
// the identity column PostgreSQL must move past after a copy ("" none).
type tableSpec struct {
	name  string
	cols  []string
	kinds string
	key   int
	ident string
}

// copiedTables lists every table wharf migrate copies, parents first, with
// the primary key columns leading. repo_serials (raised by triggers as the
// rows arrive) and leases (ephemeral) are left out.
var copiedTables = [...]tableSpec{
	{"repositories", []string{"id", "name", "kind", "public", "description", "created_at"}, "ittbti", 1, "id"},
	{"repo_settings", []string{"repo_id", "settings"}, "ix", 1, ""},
	{"projects", []string{"id", "repo_id", "name", "display_name", "created_at", "summary", "last_upload_at"}, "iittitI", 1, "id"},
	{"files", []string{"id", "repo_id", "project_id", "filename", "version", "release", "filetype", "python_version",
		"requires_python", "size", "sha256", "blake2b_256", "md5", "metadata_sha256", "yanked", "yanked_reason",
		"uploaded_at", "uploaded_by"}, "iiittttttittttbtit", 1, "id"},
	{"file_tombstones", []string{"repo_id", "filename", "deleted_at"}, "iti", 2, ""},
	{"tokens", []string{"id", "secret_hash", "description", "scope", "created_at", "expires_at", "revoked_at",
		"last_used_at", "origin"}, "txttiIIIt", 1, ""},
	{"audit_events", []string{"id", "time", "actor", "action", "repo", "project", "target", "outcome", "detail"},
		"iittttttt", 1, "id"},
	{"publishers", []string{"id", "repo", "project", "pending", "kind", "issuer", "config", "created_at", "created_by"},
		"ittbttxit", 1, "id"},
	{"oidc_replay", []string{"issuer", "jti", "expires_at"}, "tti", 2, ""},
	{"policies", []string{"id", "name", "issuer", "config", "created_at", "created_by"}, "ittxit", 1, "id"},
	{"secrets", []string{"id", "name", "wrapped_key", "kek_id", "created_at"}, "itxti", 1, "id"},
	{"secret_versions", []string{"secret_id", "version", "state", "ciphertext", "created_at"}, "iitXi", 2, ""},
	{"secret_grants", []string{"secret_id", "repo", "created_at"}, "iti", 2, ""},
	{"remote_pages", []string{"repo_id", "project", "not_found", "body", "fetched_at"}, "itbxi", 2, ""},
	{"remote_files", []string{"repo_id", "sha256", "filename", "url", "metadata_sha256", "upload_time", "project"}, "ittttIt", 2, ""},
	{"file_details", []string{"file_id", "metadata", "provenance"}, "itt", 1, ""},
	{"project_terms", []string{"term", "project_id"}, "ti", 2, ""},
	{"downloads", []string{"repo_id", "project", "version", "day", "count"}, "ittii", 4, ""},
}

var _ store.Tables = (*Store)(nil)

func specOf(table string) (*tableSpec, error) {
	for i := range copiedTables {
		if copiedTables[i].name == table {
			return &copiedTables[i], nil
		}
	}
	return nil, errs.Errorf(errs.Invalid, "sqlstore.Tables", "no copied table %q", table)
}

// Tables implements store.Tables.
func (s *Store) Tables() []store.Table {
	out := make([]store.Table, len(copiedTables))
	for i, t := range copiedTables {
		out[i] = store.Table{Name: t.name, Columns: append([]string(nil), t.cols...), Key: t.key}
	}
	return out
}

// Snapshot implements store.Tables: one read-only transaction (a WAL
// snapshot on SQLite, REPEATABLE READ on PostgreSQL).
func (s *Store) Snapshot(ctx context.Context, fn func(scan func(table string, row func([]any) error) error) error) error {
	const op = "sqlstore.Snapshot"
	opts := &sql.TxOptions{ReadOnly: true}
	if s.d == postgresDialect {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.r.BeginTx(ctx, opts)
	if err != nil {
		return s.d.wrap(op, err)
	}
	defer tx.Rollback()
	// SQLite starts a read transaction lazily; the first statement fixes
	// the snapshot for all the tables.
	scan := func(table string, row func([]any) error) error {
		t, err := specOf(table)
		if err != nil {
			return err
		}
		q := "SELECT " + strings.Join(t.cols, ", ") + " FROM " + t.name + " ORDER BY " + strings.Join(t.cols[:t.key], ", ")
		rows, err := tx.QueryContext(ctx, q)
		if err != nil {
			return s.d.wrap(op, err)
		}
		defer rows.Close()
		vals := make([]any, len(t.cols))
		ptrs := make([]any, len(t.cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return s.d.wrap(op, err)
			}
			for i := range vals {
				if vals[i], err = normalise(vals[i], t.kinds[i]); err != nil {
					return errs.E(errs.Internal, op, fmt.Errorf("%s.%s: %w", t.name, t.cols[i], err))
				}
			}
			if err := row(vals); err != nil {
				return err
			}
		}
		return s.d.wrap(op, rows.Err())
	}
	return fn(scan)
}

// normalise turns a driver value into the column kind's Go type.
func normalise(v any, kind byte) (any, error) {
	nullable := kind >= 'A' && kind <= 'Z'
	kind |= 0x20 // lower case
	switch x := v.(type) {
	case nil:
		switch {
		case nullable:
			return nil, nil
		case kind == kBytes:
			return []byte{}, nil
		case kind == kText:
			return "", nil
		}
	case int64:
		if kind == kBool {
			return x != 0, nil
		}
		if kind == kInt {
			return x, nil
		}
	case bool:
		if kind == kBool {
			return x, nil
		}
	case string:
		switch kind {
		case kText:
			return x, nil
		case kBytes:
			return []byte(x), nil
		}
	case []byte:
		switch {
		case x == nil && nullable:
			return nil, nil
		case x == nil && kind == kBytes:
			return []byte{}, nil
		case kind == kBytes:
			return x, nil
		case kind == kText:
			return string(x), nil
		}
	}
	return nil, fmt.Errorf("unexpected %T for a column of kind %c", v, kind)
}

// WriteRows implements store.Tables.
func (s *Store) WriteRows(ctx context.Context, table string, inserts, updates [][]any) error {
	const op = "sqlstore.WriteRows"
	t, err := specOf(table)
	if err != nil {
		return err
	}
	var ins, upd strings.Builder
	ins.WriteString("INSERT INTO " + t.name + " (" + strings.Join(t.cols, ", ") + ") VALUES (")
	for i := range t.cols {
		if i > 0 {
			ins.WriteString(", ")
		}
		fmt.Fprintf(&ins, "$%d", i+1)
	}
	ins.WriteString(")")
	upd.WriteString("UPDATE " + t.name + " SET ")
	for i, c := range t.cols[t.key:] {
		if i > 0 {
			upd.WriteString(", ")
		}
		fmt.Fprintf(&upd, "%s = $%d", c, t.key+i+1)
	}
	upd.WriteString(" WHERE " + t.keyMatch())
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.d.wrap(op, err)
	}
	defer tx.Rollback()
	for _, q := range []struct {
		sql  string
		rows [][]any
	}{{ins.String(), inserts}, {upd.String(), updates}} {
		if len(q.rows) == 0 {
			continue
		}
		st, err := tx.PrepareContext(ctx, q.sql)
		if err != nil {
			return s.d.wrap(op, err)
		}
		for _, r := range q.rows {
			if len(r) != len(t.cols) {
				st.Close()
				return errs.Errorf(errs.Invalid, op, "%s: a row has %d values for %d columns", t.name, len(r), len(t.cols))
			}
			if _, err := st.ExecContext(ctx, r...); err != nil {
				st.Close()
				return s.d.wrap(op, fmt.Errorf("%s row %v: %w", t.name, r[:t.key], err))
			}
		}
		st.Close()
	}
	return s.d.wrap(op, tx.Commit())
}

// keyMatch is the condition matching one row by its primary key, the key
// values bound to $1..$key.
func (t tableSpec) keyMatch() string {
	var b strings.Builder
	for i, c := range t.cols[:t.key] {
		if i > 0 {
			b.WriteString(" AND ")
		}
		fmt.Fprintf(&b, "%s = $%d", c, i+1)
	}
	return b.String()
}

// DeleteRows implements store.Tables.
func (s *Store) DeleteRows(ctx context.Context, table string, keys [][]any) error {
	const op = "sqlstore.DeleteRows"
	t, err := specOf(table)
	if err != nil {
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.d.wrap(op, err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, "DELETE FROM "+t.name+" WHERE "+t.keyMatch())
	if err != nil {
		return s.d.wrap(op, err)
	}
	defer st.Close()
	for _, k := range keys {
		if len(k) != t.key {
			return errs.Errorf(errs.Invalid, op, "%s: a key has %d values for %d key columns", t.name, len(k), t.key)
		}
		if _, err := st.ExecContext(ctx, k...); err != nil {
			return s.d.wrap(op, fmt.Errorf("%s row %v: %w", t.name, k, err))
		}
	}
	return s.d.wrap(op, tx.Commit())
}

// CountRows implements store.Tables.
func (s *Store) CountRows(ctx context.Context, table string) (int64, error) {
	t, err := specOf(table)
	if err != nil {
		return 0, err
	}
	var n int64
	err = s.r.QueryRowContext(ctx, "SELECT count(*) FROM "+t.name).Scan(&n)
	return n, s.d.wrap("sqlstore.CountRows", err)
}

// AfterCopy implements store.Tables. SQLite's INTEGER PRIMARY KEY already
// continues after the largest ID; PostgreSQL's identity sequences do not
// see explicit IDs.
func (s *Store) AfterCopy(ctx context.Context) error {
	if s.d != postgresDialect {
		return nil
	}
	for _, t := range copiedTables {
		if t.ident == "" {
			continue
		}
		q := fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%[1]s', '%[2]s'), COALESCE((SELECT max(%[2]s) FROM %[1]s), 0) + 1, false)`, t.name, t.ident)
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			return s.d.wrap("sqlstore.AfterCopy", err)
		}
	}
	return nil
}
