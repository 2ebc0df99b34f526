package sqlstore

import (
	"testing"

	"github.com/wharf-dev/wharf/internal/store"
	"github.com/wharf-dev/wharf/internal/store/storetest"
	"github.com/wharf-dev/wharf/internal/testenv"
)

// postgresDSN returns a fresh schema on the test PostgreSQL (testenv).
func postgresDSN(t testing.TB) string { return testenv.PostgresDSN(t, "wharf_test_") }

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
