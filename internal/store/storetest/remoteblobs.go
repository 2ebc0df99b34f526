package storetest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/store"
)

// testRemoteBlobs holds store.RemoteBlobs to its contract: a remote file's
// content and core-metadata hashes count as in use, in any repository,
// until the repository goes.
func testRemoteBlobs(t *testing.T, s store.Store) {
	rb, isRB := s.(store.RemoteBlobs)
	if !isRB {
		t.Skip("the store does not implement store.RemoteBlobs")
	}
	ctx := t.Context()
	r := mustRepo(t, s, "cache")
	content, meta, other := strings.Repeat("a", 64), strings.Repeat("b", 64), strings.Repeat("c", 64)
	ok(t, "PutFiles", s.Remote().PutFiles(ctx, []store.RemoteFile{
		{RepoID: r.ID, SHA256: content, Filename: "x-1.0.tar.gz", URL: "https://u/x", MetadataSHA256: meta, UploadTime: base()},
		{RepoID: r.ID, SHA256: other, Filename: "y-1.0.tar.gz", URL: "https://u/y", UploadTime: base()},
	}))
	keys, err := rb.RemoteBlobKeys(ctx)
	ok(t, "RemoteBlobKeys", err)
	want := map[string]struct{}{content: {}, meta: {}, other: {}}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("RemoteBlobKeys (-want +got):\n%s", diff)
	}
	for key, want := range map[string]bool{content: true, meta: true, other: true, strings.Repeat("d", 64): false} {
		got, err := rb.RemoteBlobInUse(ctx, key)
		ok(t, "RemoteBlobInUse", err)
		if got != want {
			t.Errorf("RemoteBlobInUse(%.8s) = %v, want %v", key, got, want)
		}
	}
	ok(t, "Delete repo", s.Repos().Delete(ctx, "cache"))
	keys, err = rb.RemoteBlobKeys(ctx)
	ok(t, "RemoteBlobKeys after delete", err)
	if len(keys) != 0 {
		t.Errorf("RemoteBlobKeys after the repository went: %v", keys)
	}
}
