package sqlstore

import (
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/wharf-dev/wharf/internal/store"
	"github.com/wharf-dev/wharf/internal/store/storetest"
)

// postgresDSN returns a DSN for a fresh, empty schema on the database named
// by WHARF_TEST_POSTGRES_URL, dropped when the test ends. Without the
// variable the test is skipped, except in CI (CI=true), where a skipped
// backend would hide failures, so it fails.
func postgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv("WHARF_TEST_POSTGRES_URL")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("WHARF_TEST_POSTGRES_URL is not set; CI must run the PostgreSQL tests")
		}
		t.Skip("set WHARF_TEST_POSTGRES_URL (postgres://user@host:port/db) to run the PostgreSQL tests")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("WHARF_TEST_POSTGRES_URL: %v", err)
	}
	t.Cleanup(func() { admin.Close() })
	// rand.Text is base32: letters and digits, safe unquoted once lowered.
	schema := "wharf_test_" + strings.ToLower(rand.Text()[:16])
	if _, err := admin.ExecContext(t.Context(), `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("WHARF_TEST_POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func openPostgresT(t testing.TB) *Store {
	t.Helper()
	dsn := postgresDSN(t)
	s, err := Open(t.Context(), Config{Driver: "postgres", DSN: dsn, ReadConns: 4})
	if err != nil {
		t.Fatalf("Open postgres: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformancePostgres(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return openPostgresT(t) })
}
