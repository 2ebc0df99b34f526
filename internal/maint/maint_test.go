package maint

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/blob"
	"github.com/wharf-dev/wharf/internal/blob/fsblob"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
	"github.com/wharf-dev/wharf/internal/store/sqlstore"
)

func open(t *testing.T) (store.Store, blob.Store) {
	t.Helper()
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
	return st, bs
}

func putBlob(t *testing.T, bs blob.Store, data string) string {
	t.Helper()
	tmp, err := bs.Create(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Abort()
	tmp.Write([]byte(data))
	info, err := tmp.Commit(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.Key
}

func TestSerialsSeeOtherWriters(t *testing.T) {
	t.Parallel()
	st, _ := open(t)
	ctx := t.Context()
	s := NewSerials(st.Cluster(), time.Millisecond, nil)
	r := registry.Repository{Name: "main", Kind: registry.Hosted}
	if err := st.Repos().Create(ctx, &r); err != nil {
		t.Fatal(err)
	}
	if got := s.Get(r.ID); got != 0 {
		t.Fatalf("Get before any change = %d, want 0", got)
	}
	// The write goes to the database directly, as another replica's would.
	if _, _, err := st.Projects().Ensure(ctx, registry.Project{RepoID: r.ID, Name: "demo"}); err != nil {
		t.Fatal(err)
	}
	if got := s.Get(r.ID); got != 0 {
		t.Fatalf("Get before a refresh = %d, want the old 0", got)
	}
	if err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	first := s.Get(r.ID)
	if first == 0 {
		t.Fatal("Get after a change and a refresh = 0, want a new serial")
	}
	// Run picks up later changes by itself.
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { s.Run(rctx); close(done) }()
	if _, _, err := st.Projects().Ensure(ctx, registry.Project{RepoID: r.ID, Name: "other"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Get(r.ID) == first && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if s.Get(r.ID) == first {
		t.Error("Run did not pick up a change within 5s")
	}
}

func TestRunnerOneHolderAndCleanup(t *testing.T) {
	t.Parallel()
	st, bs := open(t)
	ctx := t.Context()
	// fsblob stamps blobs with the real time; the runner's clock is two
	// hours later, past the blob grace period.
	now := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Microsecond)

	// An expired token, a live one; an expired replay entry, a live one.
	for _, tok := range []registry.Token{
		{ID: "old", SecretHash: []byte("x"), CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)},
		{ID: "live", SecretHash: []byte("y"), CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
	} {
		if err := st.Tokens().Create(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Replay().Claim(ctx, "iss", "old", now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Replay().Claim(ctx, "iss", "live", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// A referenced blob and an orphan, both older than the grace period.
	used := putBlob(t, bs, "wheel bytes")
	orphan := putBlob(t, bs, "orphan bytes")
	r := registry.Repository{Name: "main", Kind: registry.Hosted}
	if err := st.Repos().Create(ctx, &r); err != nil {
		t.Fatal(err)
	}
	p, _, err := st.Projects().Ensure(ctx, registry.Project{RepoID: r.ID, Name: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	f := registry.File{RepoID: r.ID, ProjectID: p.ID, Filename: "demo-1.0.tar.gz", Version: "1.0", Release: "1.0",
		Filetype: registry.Sdist, Size: 11, SHA256: used, UploadedAt: now}
	if err := st.Files().Add(ctx, &f); err != nil {
		t.Fatal(err)
	}
	lateClock := func() time.Time { return now }

	a := NewRunner(Config{Store: st, Blobs: bs, Holder: "a", Now: lateClock, SweepBlobs: true})
	b := NewRunner(Config{Store: st, Blobs: bs, Holder: "b", Now: lateClock, SweepBlobs: true})
	rep, err := a.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := Report{Ran: true, Tokens: 1, ReplayEntries: 1, Blobs: 1}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("first run (-want +got):\n%s", diff)
	}
	if rep, err := b.Once(ctx); err != nil || rep.Ran {
		t.Errorf("second replica's run while the lease is held = %+v, %v; want skipped", rep, err)
	}
	if _, err := bs.Stat(ctx, used); err != nil {
		t.Errorf("referenced blob swept: %v", err)
	}
	if _, err := bs.Stat(ctx, orphan); err == nil {
		t.Error("orphan blob kept")
	}
}

func TestRunnerSweepOffByDefault(t *testing.T) {
	t.Parallel()
	st, bs := open(t)
	orphan := putBlob(t, bs, "orphan")
	late := time.Now().Add(24 * time.Hour)
	r := NewRunner(Config{Store: st, Blobs: bs, Now: func() time.Time { return late }})
	rep, err := r.Once(t.Context())
	if err != nil || !rep.Ran || rep.Blobs != 0 {
		t.Fatalf("Once = %+v, %v; want a run that sweeps nothing", rep, err)
	}
	if _, err := bs.Stat(t.Context(), orphan); err != nil {
		t.Errorf("blob removed with the sweep off: %v", err)
	}
	// InUse hooks protect blobs other subsystems reference.
	r = NewRunner(Config{Store: st, Blobs: bs, Holder: "x", Now: func() time.Time { return late.Add(time.Hour) },
		SweepBlobs: true, InUse: []func(context.Context, string) (bool, error){
			func(_ context.Context, key string) (bool, error) { return key == orphan, nil },
		}})
	// The first runner's lease (no explicit holder) lasts 20 minutes past late.
	if rep, err := r.Once(t.Context()); err != nil || rep.Blobs != 0 {
		t.Errorf("Once with an InUse hook = %+v, %v; want nothing swept", rep, err)
	}
	if _, err := bs.Stat(t.Context(), orphan); err != nil {
		t.Errorf("blob referenced through InUse removed: %v", err)
	}
}
