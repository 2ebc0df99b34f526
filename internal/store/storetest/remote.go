package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/store"
)

// testRemote holds store.Remote to its contract: settings and cached pages
// are replaced in place, 404s are remembered without a body, the file map
// is upserted by sha256 per repository, Projects lists only real cached
// pages, and everything goes with its repository.
func testRemote(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := mustRepo(t, s, "cache")
	other := mustRepo(t, s, "other")
	rm := s.Remote()

	_, err := rm.Settings(ctx, r.ID)
	wantErr(t, "Settings before Put", err, store.ErrNotFound)
	ok(t, "PutSettings", rm.PutSettings(ctx, r.ID, []byte(`{"remote":{"upstream":"https://a/simple/"}}`)))
	ok(t, "PutSettings replace", rm.PutSettings(ctx, r.ID, []byte(`{"remote":{"upstream":"https://b/simple/"}}`)))
	got, err := rm.Settings(ctx, r.ID)
	ok(t, "Settings", err)
	if string(got) != `{"remote":{"upstream":"https://b/simple/"}}` {
		t.Errorf("Settings = %s, want the replacement", got)
	}
	_, err = rm.Settings(ctx, other.ID)
	wantErr(t, "Settings of another repo", err, store.ErrNotFound)
	wantErr(t, "PutSettings of a missing repo", rm.PutSettings(ctx, r.ID+1000, []byte(`{}`)), store.ErrNotFound)

	_, err = rm.Page(ctx, r.ID, "demo")
	wantErr(t, "Page before Put", err, store.ErrNotFound)
	pages := []store.CachedPage{
		{RepoID: r.ID, Project: "demo", Body: []byte(`{"page":1}`), FetchedAt: base()},
		{RepoID: r.ID, Project: "", Body: []byte(`{"root":true}`), FetchedAt: base()},
		{RepoID: r.ID, Project: "missing", NotFound: true, FetchedAt: base().Add(time.Second)},
		{RepoID: r.ID, Project: "alpha", Body: []byte(`{"page":"a"}`), FetchedAt: base()},
		{RepoID: other.ID, Project: "demo", Body: []byte(`{"other":1}`), FetchedAt: base()},
	}
	for _, p := range pages {
		ok(t, "PutPage "+p.Project, rm.PutPage(ctx, p))
	}
	for _, want := range pages {
		got, err := rm.Page(ctx, want.RepoID, want.Project)
		ok(t, "Page "+want.Project, err)
		if want.Body == nil {
			want.Body = []byte{} // a 404 is stored without a body
		}
		if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b []byte) bool { return string(a) == string(b) })); diff != "" {
			t.Errorf("Page %d/%q (-put +got):\n%s", want.RepoID, want.Project, diff)
		}
	}
	// A refresh replaces the page: a 404 can turn into a page and back.
	refreshed := store.CachedPage{RepoID: r.ID, Project: "missing", Body: []byte(`{"now":"here"}`), FetchedAt: base().Add(time.Hour)}
	ok(t, "PutPage refresh", rm.PutPage(ctx, refreshed))
	gotPage, err := rm.Page(ctx, r.ID, "missing")
	ok(t, "Page refreshed", err)
	if gotPage.NotFound || string(gotPage.Body) != `{"now":"here"}` || !gotPage.FetchedAt.Equal(base().Add(time.Hour)) {
		t.Errorf("refreshed page = %+v", gotPage)
	}
	ok(t, "PutPage 404 again", rm.PutPage(ctx, store.CachedPage{RepoID: r.ID, Project: "gone", NotFound: true, FetchedAt: base()}))
	wantErr(t, "PutPage of a missing repo", rm.PutPage(ctx, store.CachedPage{RepoID: r.ID + 1000, Project: "x", FetchedAt: base()}), store.ErrNotFound)

	names, err := rm.Projects(ctx, r.ID)
	ok(t, "Projects", err)
	if diff := cmp.Diff([]string{"alpha", "demo", "missing"}, names); diff != "" {
		t.Errorf("Projects: not the root, not 404s, ordered (-want +got):\n%s", diff)
	}

	files := []store.RemoteFile{
		{RepoID: r.ID, SHA256: hexSum("a"), Filename: "demo-1.0-py3-none-any.whl", URL: "https://files.example/demo-1.0-py3-none-any.whl",
			MetadataSHA256: hexSum("a.metadata"), UploadTime: base(), Project: "demo"},
		{RepoID: r.ID, SHA256: hexSum("b"), Filename: "demo-1.0.tar.gz", URL: "https://files.example/demo-1.0.tar.gz"},
	}
	ok(t, "PutFiles", rm.PutFiles(ctx, files))
	ok(t, "PutFiles empty", rm.PutFiles(ctx, nil))
	for _, want := range files {
		got, err := rm.File(ctx, r.ID, want.SHA256)
		ok(t, "File "+want.Filename, err)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("File %s (-put +got):\n%s", want.Filename, diff)
		}
	}
	// Same sha256: the entry is replaced (the upstream moved the file).
	moved := files[1]
	moved.URL, moved.UploadTime, moved.Project = "https://mirror.example/demo-1.0.tar.gz", base().Add(time.Minute), "demo"
	ok(t, "PutFiles replace", rm.PutFiles(ctx, []store.RemoteFile{moved}))
	gotFile, err := rm.File(ctx, r.ID, moved.SHA256)
	ok(t, "File replaced", err)
	if diff := cmp.Diff(moved, gotFile); diff != "" {
		t.Errorf("replaced file (-want +got):\n%s", diff)
	}
	_, err = rm.File(ctx, other.ID, files[0].SHA256)
	wantErr(t, "File of another repo", err, store.ErrNotFound)
	wantErr(t, "PutFiles of a missing repo", rm.PutFiles(ctx, []store.RemoteFile{{RepoID: r.ID + 1000, SHA256: hexSum("c"), Filename: "c.whl", URL: "u"}}), store.ErrNotFound)
	// The failed batch left nothing behind.
	_, err = rm.File(ctx, r.ID+1000, hexSum("c"))
	wantErr(t, "File of a failed batch", err, store.ErrNotFound)

	// Everything goes with its repository.
	ok(t, "Repos.Delete", s.Repos().Delete(ctx, "cache"))
	_, err = rm.Settings(ctx, r.ID)
	wantErr(t, "Settings of a deleted repo", err, store.ErrNotFound)
	_, err = rm.Page(ctx, r.ID, "demo")
	wantErr(t, "Page of a deleted repo", err, store.ErrNotFound)
	_, err = rm.File(ctx, r.ID, files[0].SHA256)
	wantErr(t, "File of a deleted repo", err, store.ErrNotFound)
	if _, err := rm.Page(ctx, other.ID, "demo"); err != nil {
		t.Errorf("another repository's page went too: %v", err)
	}
}
