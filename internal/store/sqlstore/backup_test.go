package sqlstore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/wharf-dev/wharf/internal/registry"
)

// A snapshot taken while the store is open holds what was committed before
// it and is a database the store opens; later writes are not in it.
func TestSnapshotTo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	// One read connection: the one SnapshotTo made writable for a moment.
	st, err := Open(ctx, Config{DSN: filepath.Join(dir, "live.db"), ReadConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Repos().Create(ctx, &registry.Repository{Name: "before", Kind: registry.Hosted}); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(dir, "snap.db")
	if err := st.SnapshotTo(ctx, snap); err != nil {
		t.Fatalf("SnapshotTo: %v", err)
	}
	if err := st.SnapshotTo(ctx, snap); err == nil {
		t.Error("SnapshotTo over an existing file succeeded")
	}
	if _, err := st.r.ExecContext(ctx, `CREATE TABLE stray (a INTEGER)`); err == nil {
		t.Error("the read pool accepts writes after a snapshot")
	}
	if err := st.Repos().Create(ctx, &registry.Repository{Name: "after", Kind: registry.Hosted}); err != nil {
		t.Fatal(err)
	}
	cp, err := Open(ctx, Config{DSN: snap})
	if err != nil {
		t.Fatalf("opening the snapshot: %v", err)
	}
	defer cp.Close()
	repos, err := cp.Repos().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range repos {
		names = append(names, r.Name)
	}
	if len(names) != 1 || names[0] != "before" {
		t.Errorf("snapshot holds repositories %v, want [before]", names)
	}
}
