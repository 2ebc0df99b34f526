package sqlstore

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestTablesCoverSchema keeps wharf migrate complete: every table of the
// schema is copied (or knowingly left out) with exactly its columns, so a
// new migration that adds a table or column fails here until tables.go
// learns it.
func TestTablesCoverSchema(t *testing.T) {
	t.Parallel()
	skipped := []string{"goose_db_version", "repo_serials", "leases"}
	for _, tc := range []struct {
		name string
		open func(t *testing.T) *Store
		tabs string
		cols string
	}{
		{"sqlite", func(t *testing.T) *Store { return openSQLiteT(t, nil) },
			`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`,
			`SELECT name FROM pragma_table_info($1) ORDER BY cid`},
		{"postgres", func(t *testing.T) *Store { return openPostgresT(t) },
			`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`,
			`SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := tc.open(t)
			list := func(q string, args ...any) []string {
				rows, err := s.r.QueryContext(t.Context(), q, args...)
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				var out []string
				for rows.Next() {
					var n string
					if err := rows.Scan(&n); err != nil {
						t.Fatal(err)
					}
					out = append(out, n)
				}
				return out
			}
			var want []string
			for _, n := range list(tc.tabs) {
				if !slices.Contains(skipped, n) {
					want = append(want, n)
				}
			}
			var got []string
			for _, tb := range s.Tables() {
				got = append(got, tb.Name)
				spec, _ := specOf(tb.Name)
				if len(spec.kinds) != len(spec.cols) {
					t.Errorf("%s: %d kinds for %d columns", tb.Name, len(spec.kinds), len(spec.cols))
				}
				cols := list(tc.cols, tb.Name)
				slices.Sort(cols)
				specCols := slices.Sorted(slices.Values(tb.Columns))
				if diff := cmp.Diff(cols, specCols); diff != "" {
					t.Errorf("%s columns (-schema +copied):\n%s", tb.Name, diff)
				}
			}
			slices.Sort(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("tables (-schema +copied):\n%s", diff)
			}
		})
	}
}

// TestWithLockPostgres: two holders of one key never overlap; other keys
// do not wait.
func TestWithLockPostgres(t *testing.T) {
	t.Parallel()
	s := openPostgresT(t)
	ctx := t.Context()
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			err := s.WithLock(ctx, "page:1:requests", func(context.Context) error {
				n := inside.Add(1)
				if n > most.Load() {
					most.Store(n)
				}
				// While this holder is inside, a lock on another key is
				// taken at once.
				if err := s.WithLock(ctx, "page:1:other", func(context.Context) error { return nil }); err != nil {
					return err
				}
				time.Sleep(20 * time.Millisecond)
				inside.Add(-1)
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Errorf("%d holders of one lock at once, want 1", most.Load())
	}
	want := errors.New("fn failed")
	if err := s.WithLock(ctx, "k", func(context.Context) error { return want }); !errors.Is(err, want) {
		t.Errorf("WithLock returned %v, want fn's error", err)
	}
}
