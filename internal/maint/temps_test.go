package maint

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wharf-dev/wharf/internal/blob/fsblob"
	"github.com/wharf-dev/wharf/internal/store/sqlstore"
)

// TestOnceSweepsTemporaries: every run reclaims abandoned upload
// temporaries through the blob store, also on a replica that does not hold
// the lease (each may have a blob directory of its own).
func TestOnceSweepsTemporaries(t *testing.T) {
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
	t.Cleanup(func() { bs.Close() })
	holder := NewRunner(Config{Store: st, Blobs: bs, Holder: "a"})
	other := NewRunner(Config{Store: st, Blobs: bs, Holder: "b"})
	if rep, err := holder.Once(t.Context()); err != nil || !rep.Ran {
		t.Fatalf("first run = %+v, %v", rep, err)
	}
	// A temporary with no owner to ask, two hours old (the layout before
	// owner locks); fsblob's own tests cover crashed owners.
	leftover := filepath.Join(dir, "blobs", "tmp", "LEFTOVER")
	if err := os.WriteFile(leftover, []byte("half an upload"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(leftover, old, old); err != nil {
		t.Fatal(err)
	}
	rep, err := other.Once(t.Context())
	if err != nil || rep.Ran || rep.Temps != 1 {
		t.Fatalf("run without the lease = %+v, %v; want Temps 1 and Ran false", rep, err)
	}
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Errorf("%s still there: %v", leftover, err)
	}
}
