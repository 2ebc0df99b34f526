package hosted_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wharf-dev/wharf/internal/blob/fsblob"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/hosted"
	"github.com/wharf-dev/wharf/internal/store"
	"github.com/wharf-dev/wharf/internal/store/sqlstore"
)

// lostStore is a store whose file lookups fail as an unreachable database
// does while down is set.
type lostStore struct {
	store.Store
	down *atomic.Bool
}

func (s lostStore) Files() store.Files { return lostFiles{s.Store.Files(), s.down} }

type lostFiles struct {
	store.Files
	down *atomic.Bool
}

func (f lostFiles) GetByFilename(ctx context.Context, repoID int64, filename string) (registry.File, error) {
	if f.down.Load() {
		return registry.File{}, errs.E(errs.Unavailable, "test", errors.New("connection refused"))
	}
	return f.Files.GetByFilename(ctx, repoID, filename)
}

// TestLookupFileWhileDatabaseLost: files looked up before the database
// went away are still found (with their sha256 checked); others, and files
// deleted before, answer the database's error.
func TestLookupFileWhileDatabaseLost(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st, err := sqlstore.Open(t.Context(), sqlstore.Config{DSN: filepath.Join(dir, "wharf.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	down := &atomic.Bool{}
	repo := registry.Repository{Name: "local", Kind: registry.Hosted, Public: true}
	if err := st.Repos().Create(t.Context(), &repo); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	e := &env{svc: hosted.New(hosted.Config{Store: lostStore{st, down}, Blobs: bs, Now: func() time.Time { return now }, MaxFileSize: 1 << 20}),
		st: st, blobs: bs, repo: repo}
	seen, seenBytes := wheel(t, "demo", "1.0", "a")
	unseen, unseenBytes := wheel(t, "demo", "2.0", "b")
	for name, b := range map[string][]byte{seen: seenBytes, unseen: unseenBytes} {
		if _, err := e.upload(t, name, b, form("demo", map[string]string{seen: "1.0", unseen: "2.0"}[name], b)); err != nil {
			t.Fatal(err)
		}
	}
	f, err := e.svc.LookupFile(t.Context(), repo, sha(seenBytes), seen)
	if err != nil {
		t.Fatal(err)
	}

	down.Store(true)
	got, err := e.svc.LookupFile(t.Context(), repo, sha(seenBytes), seen)
	if err != nil || got != f {
		t.Errorf("a file served before, with the database lost: %+v, %v", got, err)
	}
	if _, err := e.svc.LookupFile(t.Context(), repo, sha(unseenBytes), seen); errs.KindOf(err) != errs.NotFound {
		t.Errorf("remembered file under another sha256: %v, want NotFound", err)
	}
	if _, err := e.svc.LookupFile(t.Context(), repo, sha(unseenBytes), unseen); errs.KindOf(err) != errs.Unavailable {
		t.Errorf("a file never served, with the database lost: %v, want Unavailable", err)
	}
}

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
