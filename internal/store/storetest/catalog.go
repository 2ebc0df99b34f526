package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

func testCatalogDetails(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := mustRepo(t, s, "main")
	p := mustProject(t, s, r.ID, "demo")
	f1 := mustFile(t, s, newFile(p, "demo-1.0.tar.gz", "1.0", "1.0"))
	f2 := mustFile(t, s, newFile(p, "demo-1.0-py3-none-any.whl", "1.0", "1.0"))
	f3 := mustFile(t, s, newFile(p, "demo-2.0.tar.gz", "2.0", "2.0"))

	missing, err := s.Catalog().Missing(ctx, 0, 10)
	ok(t, "Missing", err)
	if len(missing) != 3 || missing[0].ID != f1.ID || missing[2].ID != f3.ID {
		t.Fatalf("Missing = %v, want the three files in ID order", missing)
	}
	if next, err := s.Catalog().Missing(ctx, f1.ID, 1); err != nil || len(next) != 1 || next[0].ID != f2.ID {
		t.Fatalf("Missing after f1, limit 1 = %v, %v; want f2", next, err)
	}

	d1 := registry.FileDetails{FileID: f1.ID,
		Metadata: &registry.CoreMetadata{Name: "Demo", Version: "1.0", Summary: "A demo of the tooling",
			Classifiers: []string{"A :: B"}, ProjectURLs: []string{"Home, https://x"}},
		Provenance: registry.Provenance{Kind: registry.ProvenanceTrusted, TokenID: "tok", Repository: "o/r",
			RunID: "7", UploadedAt: base(), UserAgent: "twine/6"},
	}
	ok(t, "Put f1", s.Catalog().Put(ctx, f1, d1))
	// f2: provenance only (no readable metadata).
	d2 := registry.FileDetails{FileID: f2.ID, Provenance: registry.Provenance{Kind: registry.ProvenanceUnknown}}
	ok(t, "Put f2", s.Catalog().Put(ctx, f2, d2))
	// Put again replaces.
	d1.Provenance.RunID = "8"
	ok(t, "Put f1 again", s.Catalog().Put(ctx, f1, d1))

	got, err := s.Catalog().ByProject(ctx, p.ID)
	ok(t, "ByProject", err)
	want := map[int64]registry.FileDetails{f1.ID: d1, f2.ID: d2}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ByProject (-want +got):\n%s", diff)
	}
	missing, err = s.Catalog().Missing(ctx, 0, 10)
	ok(t, "Missing after Put", err)
	if len(missing) != 1 || missing[0].ID != f3.ID {
		t.Errorf("Missing after Put = %v, want only f3", missing)
	}
	wantErr(t, "Put for a missing file", s.Catalog().Put(ctx, registry.File{ID: f3.ID + 1000, ProjectID: p.ID, UploadedAt: base()},
		registry.FileDetails{FileID: f3.ID + 1000}), store.ErrNotFound)

	// Deleting the file deletes its details.
	ok(t, "Delete f1", s.Files().Delete(ctx, f1.ID))
	got, err = s.Catalog().ByProject(ctx, p.ID)
	ok(t, "ByProject after delete", err)
	if _, ok := got[f1.ID]; ok || len(got) != 1 {
		t.Errorf("ByProject after delete = %v, want only f2", got)
	}
}

func testCatalogProjects(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := mustRepo(t, s, "main")
	other := mustRepo(t, s, "other")
	mustProject(t, s, other.ID, "alpha-other")
	at := func(h int) time.Time { return base().Add(time.Duration(h) * time.Hour) }
	for i, n := range []string{"alpha", "alpha-two", "beta", "gamma"} {
		p := mustProject(t, s, r.ID, n)
		if n == "gamma" {
			continue // no upload
		}
		f := newFile(p, n+"-1.0.tar.gz", "1.0", "1.0")
		f.UploadedAt = at(i)
		f = mustFile(t, s, f)
		ok(t, "Put", s.Catalog().Put(ctx, f, registry.FileDetails{FileID: f.ID,
			Metadata: &registry.CoreMetadata{Summary: "summary of " + n}}))
	}
	names := func(es []store.ProjectEntry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Name)
		}
		return out
	}
	for _, tc := range []struct {
		q        store.ProjectQuery
		want     []string
		wantMore bool
	}{
		{store.ProjectQuery{RepoID: r.ID}, []string{"alpha", "alpha-two", "beta", "gamma"}, false},
		{store.ProjectQuery{RepoID: r.ID, Limit: 2}, []string{"alpha", "alpha-two"}, true},
		{store.ProjectQuery{RepoID: r.ID, Limit: 2, Offset: 2}, []string{"beta", "gamma"}, false},
		{store.ProjectQuery{RepoID: r.ID, Prefix: "alpha"}, []string{"alpha", "alpha-two"}, false},
		{store.ProjectQuery{RepoID: r.ID, Prefix: "alpha-"}, []string{"alpha-two"}, false},
		{store.ProjectQuery{RepoID: r.ID, Sort: store.SortLastUpload}, []string{"beta", "alpha-two", "alpha", "gamma"}, false},
	} {
		got, more, err := s.Catalog().Projects(ctx, tc.q)
		ok(t, fmt.Sprintf("Projects %+v", tc.q), err)
		if diff := cmp.Diff(tc.want, names(got)); diff != "" || more != tc.wantMore {
			t.Errorf("Projects %+v: more=%v (want %v), names (-want +got):\n%s", tc.q, more, tc.wantMore, diff)
		}
	}
	got, _, err := s.Catalog().Projects(ctx, store.ProjectQuery{RepoID: r.ID, Prefix: "beta"})
	ok(t, "Projects beta", err)
	if len(got) != 1 || got[0].Summary != "summary of beta" || !got[0].LastUpload.Equal(at(2)) || got[0].Repo != "main" {
		t.Errorf("beta entry = %+v, want its summary, last upload %v and repository", got, at(2))
	}
	// An older file put later does not move the last upload back.
	p, err := s.Projects().Get(ctx, r.ID, "beta")
	ok(t, "Get beta", err)
	old := newFile(p, "beta-0.1.tar.gz", "0.1", "0.1")
	old.UploadedAt = at(-10)
	old = mustFile(t, s, old)
	ok(t, "Put old", s.Catalog().Put(ctx, old, registry.FileDetails{FileID: old.ID}))
	got, _, _ = s.Catalog().Projects(ctx, store.ProjectQuery{RepoID: r.ID, Prefix: "beta"})
	if len(got) != 1 || !got[0].LastUpload.Equal(at(2)) {
		t.Errorf("after an older file, beta = %+v, want last upload %v", got, at(2))
	}
}

func testCatalogSearch(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := mustRepo(t, s, "main")
	other := mustRepo(t, s, "other")
	hidden := mustRepo(t, s, "hidden")
	put := func(repo registry.Repository, name, summary string) {
		p := mustProject(t, s, repo.ID, name)
		f := mustFile(t, s, newFile(p, name+"-1.0.tar.gz", "1.0", "1.0"))
		ok(t, "Put", s.Catalog().Put(ctx, f, registry.FileDetails{FileID: f.ID,
			Metadata: &registry.CoreMetadata{Summary: summary}}))
	}
	put(r, "requests", "HTTP for Humans")
	put(r, "requests-toolbelt", "A utility belt for requests")
	put(r, "httpx", "The next generation HTTP client")
	put(other, "requests", "a fork")
	put(hidden, "requests-secret", "not for you")
	// A new summary replaces the old words.
	put(r, "oldname", "flask helper")
	p, _ := s.Projects().Get(ctx, r.ID, "oldname")
	f := mustFile(t, s, newFile(p, "oldname-2.0.tar.gz", "2.0", "2.0"))
	ok(t, "Put new summary", s.Catalog().Put(ctx, f, registry.FileDetails{FileID: f.ID,
		Metadata: &registry.CoreMetadata{Summary: "django helper"}}))

	type hit struct{ Repo, Name string }
	hits := func(es []store.ProjectEntry) []hit {
		var out []hit
		for _, e := range es {
			out = append(out, hit{e.Repo, e.Name})
		}
		return out
	}
	readable := []int64{r.ID, other.ID}
	for _, tc := range []struct {
		name  string
		words []string
		limit int
		want  []hit
	}{
		// Exact name first (every readable repository), then prefix words.
		{"requests", []string{"requests"}, 0, []hit{{"main", "requests"}, {"other", "requests"}, {"main", "requests-toolbelt"}}},
		{"", []string{"http"}, 0, []hit{{"main", "httpx"}, {"main", "requests"}}},
		{"", []string{"http", "client"}, 0, []hit{{"main", "httpx"}}},
		{"", []string{"hum"}, 0, []hit{{"main", "requests"}}},
		{"", []string{"flask"}, 0, nil},
		{"", []string{"django"}, 0, []hit{{"main", "oldname"}}},
		{"requests", []string{"requests"}, 1, []hit{{"main", "requests"}, {"other", "requests"}}},
		{"nothing", []string{"nothing"}, 0, nil},
	} {
		got, err := s.Catalog().Search(ctx, readable, tc.name, tc.words, tc.limit)
		ok(t, "Search", err)
		if diff := cmp.Diff(tc.want, hits(got)); diff != "" {
			t.Errorf("Search(%q, %q) (-want +got):\n%s", tc.name, tc.words, diff)
		}
	}
	if got, err := s.Catalog().Search(ctx, nil, "requests", []string{"requests"}, 0); err != nil || len(got) != 0 {
		t.Errorf("Search over no repositories = %v, %v; want nothing", got, err)
	}
}

func testDownloads(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := mustRepo(t, s, "main")
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	next := day.AddDate(0, 0, 1)
	// Two replicas flush counts for the same key: they add up.
	ok(t, "Add", s.Downloads().Add(ctx, []store.DownloadCount{
		{RepoID: r.ID, Project: "demo", Version: "1.0", Day: day, Count: 3},
		{RepoID: r.ID, Project: "demo", Version: "2.0", Day: next, Count: 1},
		{RepoID: r.ID, Project: "other", Version: "1.0", Day: day, Count: 9},
	}))
	ok(t, "Add again", s.Downloads().Add(ctx, []store.DownloadCount{
		{RepoID: r.ID, Project: "demo", Version: "1.0", Day: day, Count: 2},
		{RepoID: r.ID + 1000, Project: "gone", Version: "1.0", Day: day, Count: 2}, // repository deleted: dropped
	}))
	got, err := s.Downloads().Counts(ctx, r.ID, "demo", "", day)
	ok(t, "Counts", err)
	want := []store.DownloadCount{
		{RepoID: r.ID, Project: "demo", Version: "1.0", Day: day, Count: 5},
		{RepoID: r.ID, Project: "demo", Version: "2.0", Day: next, Count: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Counts (-want +got):\n%s", diff)
	}
	got, err = s.Downloads().Counts(ctx, r.ID, "demo", "2.0", next)
	ok(t, "Counts of a version since a day", err)
	if diff := cmp.Diff(want[1:], got); diff != "" {
		t.Errorf("Counts 2.0 (-want +got):\n%s", diff)
	}
}

func testAuditTarget(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, target := range []string{"tok-a", "tok-b", "tok-a"} {
		ok(t, "Append", s.Audit().Append(ctx, registry.AuditEvent{Time: base(), Action: "oidc.mint", Target: target}))
	}
	got, err := s.Audit().List(ctx, store.AuditFilter{Target: "tok-a"})
	ok(t, "List by target", err)
	if len(got) != 2 || got[0].Target != "tok-a" || got[1].Target != "tok-a" {
		t.Errorf("List by target = %+v, want the two tok-a events", got)
	}
}
