package maint

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wharf-dev/wharf/internal/blob/fsblob"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
	"github.com/wharf-dev/wharf/internal/store/sqlstore"
)

// TestSweepKeepsRemoteCacheBlobs is the sweep as the server configures it
// (store.RemoteBlobs as Referenced and InUse): blobs of the remote cache
// (content and core metadata) and of hosted files stay, an old orphan
// goes, a young orphan (an upload whose row is not committed yet) stays.
func TestSweepKeepsRemoteCacheBlobs(t *testing.T) {
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
	ctx := t.Context()
	var rb store.RemoteBlobs = st
	hosted := putBlob(t, bs, "hosted wheel")
	cached := putBlob(t, bs, "cached upstream wheel")
	cachedMeta := putBlob(t, bs, "Metadata-Version: 2.1")
	orphan := putBlob(t, bs, "nobody's")
	young := putBlob(t, bs, "uploaded a second ago")
	now := time.Now()
	// Age every blob but the young one past the grace period.
	for _, k := range []string{hosted, cached, cachedMeta, orphan} {
		ageBlob(t, filepath.Join(dir, "blobs"), k, now.Add(-2*time.Hour))
	}

	r := registry.Repository{Name: "main", Kind: registry.Hosted}
	cache := registry.Repository{Name: "pypi", Kind: registry.Remote}
	for _, repo := range []*registry.Repository{&r, &cache} {
		if err := st.Repos().Create(ctx, repo); err != nil {
			t.Fatal(err)
		}
	}
	p, _, err := st.Projects().Ensure(ctx, registry.Project{RepoID: r.ID, Name: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Files().Add(ctx, &registry.File{RepoID: r.ID, ProjectID: p.ID, Filename: "demo-1.0-py3-none-any.whl",
		Version: "1.0", Release: "1.0", Filetype: registry.Wheel, SHA256: hosted, UploadedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := st.Remote().PutFiles(ctx, []store.RemoteFile{{RepoID: cache.ID, SHA256: cached, Filename: "up-1.0-py3-none-any.whl",
		URL: "https://files/up.whl", MetadataSHA256: cachedMeta}}); err != nil {
		t.Fatal(err)
	}
	run := NewRunner(Config{Store: st, Blobs: bs, Holder: "a", SweepBlobs: true, BlobGrace: time.Hour,
		Referenced: rb.RemoteBlobKeys, InUse: []func(context.Context, string) (bool, error){rb.RemoteBlobInUse}})
	rep, err := run.Once(ctx)
	if err != nil || rep.Blobs != 1 {
		t.Fatalf("Once = %+v, %v; want one blob swept", rep, err)
	}
	for k, want := range map[string]bool{hosted: true, cached: true, cachedMeta: true, young: true, orphan: false} {
		_, err := bs.Stat(ctx, k)
		if (err == nil) != want {
			t.Errorf("blob %.8s: present = %v, want %v", k, err == nil, want)
		}
	}

	// Once its repository is deleted, the cache's blobs are orphans too.
	if err := st.Repos().Delete(ctx, "pypi"); err != nil {
		t.Fatal(err)
	}
	run = NewRunner(Config{Store: st, Blobs: bs, Holder: "a", SweepBlobs: true, BlobGrace: time.Hour,
		Referenced: rb.RemoteBlobKeys, InUse: []func(context.Context, string) (bool, error){rb.RemoteBlobInUse},
		Now: func() time.Time { return now.Add(time.Minute) }})
	if rep, err := run.Once(ctx); err != nil || rep.Blobs != 2 {
		t.Errorf("after the remote repository went: Once = %+v, %v; want its 2 blobs swept", rep, err)
	}
}

// ageBlob sets a filesystem blob's modification time (fsblob keeps
// <dir>/sha256/ab/cd/<hex>).
func ageBlob(t *testing.T, dir, key string, at time.Time) {
	t.Helper()
	if err := os.Chtimes(filepath.Join(dir, "sha256", key[:2], key[2:4], key), at, at); err != nil {
		t.Fatal(err)
	}
}
