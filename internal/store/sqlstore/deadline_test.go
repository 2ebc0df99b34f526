package sqlstore

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
	"github.com/wharf-dev/wharf/internal/testenv"
)

// usePausedDatabase runs reads, writes and a transaction against a database
// that stopped answering (pause) and expects Unavailable from each, then
// expects them to work again after resume, on the same Store.
func usePausedDatabase(t *testing.T, s *Store, pause, resume func()) {
	ctx := t.Context()
	repo := registry.Repository{Name: "before", Kind: registry.Hosted}
	if err := s.Repos().Create(ctx, &repo); err != nil {
		t.Fatal(err)
	}
	pause()
	for what, fn := range map[string]func() error{
		"read": func() error { _, err := s.Repos().Get(ctx, "before"); return err },
		"write": func() error {
			return s.Repos().Create(ctx, &registry.Repository{Name: "during", Kind: registry.Hosted})
		},
		"transaction": func() error {
			return s.InTx(ctx, func(tx store.Store) error {
				_, _, err := tx.Projects().Ensure(ctx, registry.Project{RepoID: repo.ID, Name: "p", DisplayName: "p"})
				return err
			})
		},
	} {
		err := testenv.Bounded(t, what, fn)
		if what == "read" && err == nil && s.d == sqliteDialect {
			continue // SQLite's WAL readers do not wait for the writer's lock
		}
		if errs.KindOf(err) != errs.Unavailable {
			t.Errorf("%s while paused: %v (kind %v), want Unavailable", what, err, errs.KindOf(err))
		}
	}
	resume()
	ctx, cancel := context.WithTimeout(ctx, testenv.HangBound)
	defer cancel()
	if err := s.Repos().Create(ctx, &registry.Repository{Name: "after", Kind: registry.Hosted}); err != nil {
		t.Errorf("write after resume: %v", err)
	}
	if _, err := s.Repos().Get(ctx, "after"); err != nil {
		t.Errorf("read after resume: %v", err)
	}
}

func TestPausedPostgres(t *testing.T) {
	t.Parallel()
	dsn := postgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewPauseProxy(t, u.Host)
	u.Host = proxy.Addr()
	s, err := Open(t.Context(), Config{Driver: "postgres", DSN: u.String(), Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	t.Cleanup(proxy.Resume) // first: a hung test's Close would wait for the paused connections
	usePausedDatabase(t, s, proxy.Pause, proxy.Resume)
}

// TestLockedSQLite: another process holds SQLite's write lock.
func TestLockedSQLite(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "wharf.db")
	s, err := Open(t.Context(), Config{DSN: path, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var lock *sql.Conn
	usePausedDatabase(t, s, func() {
		if lock, err = other.Conn(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := lock.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
			t.Fatal(err)
		}
	}, func() {
		lock.ExecContext(t.Context(), "ROLLBACK")
		lock.Close()
	})
}
