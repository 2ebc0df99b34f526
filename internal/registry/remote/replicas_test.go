package remote_test

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx" for the schema helper

	"github.com/wharf-dev/wharf/internal/blob/fsblob"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/remote"
	"github.com/wharf-dev/wharf/internal/store/sqlstore"
	"github.com/wharf-dev/wharf/internal/testenv"
	"github.com/wharf-dev/wharf/internal/upstream"
)

// postgresDSN is a fresh schema on the test PostgreSQL (testenv).
func postgresDSN(t *testing.T) string { return testenv.PostgresDSN(t, "wharf_remote_") }

// TestColdFillOnceAcrossReplicas: two services, each with its own
// connection pools on one PostgreSQL schema and one blob directory (two
// replicas), asked for the same cold page and then the same cold file at
// once, fetch each from the upstream once: the second waits on the
// database's advisory lock and finds the cache filled.
func TestColdFillOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := postgresDSN(t)
	clk := &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	up := newUpstream(t, clk.Now().Add(-100*time.Hour))
	up.delay = 100 * time.Millisecond
	blobs := filepath.Join(t.TempDir(), "blobs")
	var svcs [2]*remote.Service
	var repo registry.Repository
	for i := range svcs {
		st, err := sqlstore.Open(ctx, sqlstore.Config{Driver: "postgres", DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if i == 0 {
			repo = registry.Repository{Name: "up", Kind: registry.Remote, Public: true}
			if err := st.Repos().Create(ctx, &repo); err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(registry.RepoSettings{Remote: &registry.RemoteSettings{Upstream: up.srv.URL + "/simple/"}})
			if err := st.Remote().PutSettings(ctx, repo.ID, b); err != nil {
				t.Fatal(err)
			}
		}
		bs, err := fsblob.New(blobs)
		if err != nil {
			t.Fatal(err)
		}
		svcs[i] = remote.New(remote.Config{Store: st, Blobs: bs, Upstream: upstream.New(upstream.Config{}), Now: clk.Now})
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if _, _, err := svcs[i%2].Project(ctx, repo, "demo"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := up.pageHits.Load(); n != 1 {
		t.Errorf("a cold page asked of two replicas at once was fetched %d times, want 1", n)
	}
	for i := range 10 {
		wg.Go(func() {
			d, err := svcs[i%2].Open(ctx, repo, up.advertised, "demo-1.0-py3-none-any.whl", false)
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(d.Content)
			d.Content.Close()
			if string(b) != string(up.wheel) {
				t.Errorf("content %q", b)
			}
		})
	}
	wg.Wait()
	if n := up.fileHits.Load(); n != 1 {
		t.Errorf("a cold file asked of two replicas at once was fetched %d times, want 1", n)
	}
}
