// Package storetest is the conformance suite every store.Store
// implementation must pass. Implementations call Run from their own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { ... })
//	}
package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

// Run runs the suite. open must return a new, empty store each call and
// close it in t.Cleanup; subtests run in parallel, each on its own store.
//
// Times the suite passes in are whole microseconds, the precision stores
// must keep at least.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	for _, tt := range []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Ping", testPing},
		{"Repos", testRepos},
		{"ReposDeleteCascades", testReposDeleteCascades},
		{"Projects", testProjects},
		{"ProjectsDelete", testProjectsDelete},
		{"Files", testFiles},
		{"FilesDeleteTombstones", testFilesDelete},
		{"FilesSetYanked", testSetYanked},
		{"FilesBlobInUse", testBlobInUse},
		{"RemoteBlobs", testRemoteBlobs},
		{"FilesConcurrentAdd", testConcurrentAdd},
		{"InTxCommit", testInTxCommit},
		{"InTxRollback", testInTxRollback},
		{"InTxNested", testInTxNested},
		{"Tokens", testTokens},
		{"TokensRevokeTouch", testTokensRevokeTouch},
		{"TokensDeleteExpired", testTokensDeleteExpired},
		{"Audit", testAudit},
		{"AuditDefaultLimit", testAuditDefaultLimit},
		{"Publishers", testPublishers},
		{"Replay", testReplay},
		{"ClusterSerials", testSerials},
		{"ClusterLeases", testLeases},
		{"Secrets", testSecrets},
		{"Policies", testPolicies},
		{"Remote", testRemote},
		{"CatalogDetails", testCatalogDetails},
		{"CatalogProjects", testCatalogProjects},
		{"CatalogSearch", testCatalogSearch},
		{"Downloads", testDownloads},
		{"AuditTarget", testAuditTarget},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// base is a fixed, microsecond-aligned time for fields the caller sets.
func base() time.Time { return time.Date(2026, 11, 1, 12, 0, 0, 123456000, time.UTC) }

// wantErr fails unless err matches sentinel under errors.Is and carries
// sentinel's kind.
func wantErr(t *testing.T, what string, err, sentinel error) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s: err = %v, want %v", what, err, sentinel)
	}
	if got, want := errs.KindOf(err), errs.KindOf(sentinel); got != want {
		t.Fatalf("%s: kind = %v, want %v", what, got, want)
	}
}

func ok(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func mustRepo(t *testing.T, s store.Store, name string) registry.Repository {
	t.Helper()
	r := registry.Repository{Name: name, Kind: registry.Hosted, Description: "repo " + name}
	ok(t, "Repos.Create "+name, s.Repos().Create(t.Context(), &r))
	return r
}

func mustProject(t *testing.T, s store.Store, repoID int64, name string) registry.Project {
	t.Helper()
	p, _, err := s.Projects().Ensure(t.Context(), registry.Project{RepoID: repoID, Name: name, DisplayName: name})
	ok(t, "Projects.Ensure "+name, err)
	return p
}

func newFile(p registry.Project, filename, version, release string) registry.File {
	return registry.File{
		RepoID: p.RepoID, ProjectID: p.ID, Filename: filename,
		Version: version, Release: release, Filetype: registry.Wheel,
		PythonVersion: "py3", RequiresPython: ">=3.9", Size: 1234,
		SHA256:     hexSum(fmt.Sprint(p.RepoID, "/", filename)),
		BLAKE2b256: "b2", MD5: "m5",
		UploadedAt: base(), UploadedBy: "tok-1",
	}
}

func hexSum(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func mustFile(t *testing.T, s store.Store, f registry.File) registry.File {
	t.Helper()
	ok(t, "Files.Add "+f.Filename, s.Files().Add(t.Context(), &f))
	return f
}

func testPing(t *testing.T, s store.Store) {
	ok(t, "Ping", s.Ping(t.Context()))
}

func testRepos(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := registry.Repository{Name: "main", Kind: registry.Hosted, Public: true, Description: "the main one"}
	ok(t, "Create", s.Repos().Create(ctx, &r))
	if r.ID == 0 || r.CreatedAt.IsZero() {
		t.Fatalf("Create did not set ID and CreatedAt: %+v", r)
	}
	got, err := s.Repos().Get(ctx, "main")
	ok(t, "Get", err)
	if diff := cmp.Diff(r, got); diff != "" {
		t.Errorf("Get (-created +got):\n%s", diff)
	}

	dup := registry.Repository{Name: "main", Kind: registry.Remote}
	wantErr(t, "Create duplicate", s.Repos().Create(ctx, &dup), store.ErrExists)
	_, err = s.Repos().Get(ctx, "nope")
	wantErr(t, "Get missing", err, store.ErrNotFound)

	mustRepo(t, s, "zeta")
	mustRepo(t, s, "alpha")
	mustRepo(t, s, "a-b")
	list, err := s.Repos().List(ctx)
	ok(t, "List", err)
	var names []string
	for _, r := range list {
		names = append(names, r.Name)
	}
	if diff := cmp.Diff([]string{"a-b", "alpha", "main", "zeta"}, names); diff != "" {
		t.Errorf("List order (-want +got):\n%s", diff)
	}

	upd := r
	upd.Public, upd.Description = false, "changed"
	upd.Kind = registry.Virtual // not an updatable field
	ok(t, "Update", s.Repos().Update(ctx, upd))
	got, err = s.Repos().Get(ctx, "main")
	ok(t, "Get after Update", err)
	want := r
	want.Public, want.Description = false, "changed"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after Update (-want +got):\n%s", diff)
	}
	wantErr(t, "Update missing", s.Repos().Update(ctx, registry.Repository{Name: "nope"}), store.ErrNotFound)

	ok(t, "Delete", s.Repos().Delete(ctx, "zeta"))
	_, err = s.Repos().Get(ctx, "zeta")
	wantErr(t, "Get deleted", err, store.ErrNotFound)
	wantErr(t, "Delete missing", s.Repos().Delete(ctx, "zeta"), store.ErrNotFound)
}

func testReposDeleteCascades(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := mustRepo(t, s, "main")
	other := mustRepo(t, s, "other")
	p := mustProject(t, s, r.ID, "demo")
	op := mustProject(t, s, other.ID, "demo")
	kept := mustFile(t, s, newFile(p, "demo-1.0-py3-none-any.whl", "1.0", "1.0"))
	gone := mustFile(t, s, newFile(p, "demo-0.9-py3-none-any.whl", "0.9", "0.9"))
	ok(t, "Files.Delete", s.Files().Delete(ctx, gone.ID))
	of := mustFile(t, s, newFile(op, "demo-1.0-py3-none-any.whl", "1.0", "1.0"))

	ok(t, "Repos.Delete", s.Repos().Delete(ctx, "main"))

	// Recreated under the same name, the repository is empty: no projects,
	// no files, no tombstones.
	r2 := mustRepo(t, s, "main")
	if r2.ID == r.ID {
		// Not forbidden, but the checks below would then prove less.
		t.Logf("recreated repository reused ID %d", r.ID)
	}
	_, err := s.Projects().Get(ctx, r.ID, "demo")
	wantErr(t, "project of deleted repo", err, store.ErrNotFound)
	list, err := s.Projects().List(ctx, r2.ID)
	ok(t, "Projects.List", err)
	if len(list) != 0 {
		t.Errorf("recreated repo has projects %+v", list)
	}
	files, err := s.Files().ListByProject(ctx, p.ID)
	ok(t, "ListByProject", err)
	if len(files) != 0 {
		t.Errorf("deleted project still lists files %+v", files)
	}
	if inUse, err := s.Files().BlobInUse(ctx, kept.SHA256); err != nil || inUse {
		t.Errorf("BlobInUse(file of deleted repo) = %v, %v; want false", inUse, err)
	}
	p2 := mustProject(t, s, r2.ID, "demo")
	mustFile(t, s, newFile(p2, gone.Filename, "0.9", "0.9")) // tombstone went with the repo

	// The other repository is untouched.
	got, err := s.Files().GetByFilename(ctx, other.ID, of.Filename)
	ok(t, "other repo's file", err)
	if diff := cmp.Diff(of, got); diff != "" {
		t.Errorf("other repo's file (-want +got):\n%s", diff)
	}
}

func testProjects(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := mustRepo(t, s, "main")
	other := mustRepo(t, s, "other")

	p, created, err := s.Projects().Ensure(ctx, registry.Project{RepoID: r.ID, Name: "my-pkg", DisplayName: "My_Pkg"})
	ok(t, "Ensure new", err)
	if !created || p.ID == 0 || p.CreatedAt.IsZero() || p.RepoID != r.ID || p.Name != "my-pkg" || p.DisplayName != "My_Pkg" {
		t.Fatalf("Ensure new = %+v, created %v", p, created)
	}
	got, err := s.Projects().Get(ctx, r.ID, "my-pkg")
	ok(t, "Get", err)
	if diff := cmp.Diff(p, got); diff != "" {
		t.Errorf("Get (-ensured +got):\n%s", diff)
	}

	again, created, err := s.Projects().Ensure(ctx, registry.Project{RepoID: r.ID, Name: "my-pkg", DisplayName: "my.pkg"})
	ok(t, "Ensure existing", err)
	want := p
	want.DisplayName = "my.pkg"
	if created {
		t.Errorf("Ensure existing reported created")
	}
	if diff := cmp.Diff(want, again); diff != "" {
		t.Errorf("Ensure existing (-want +got):\n%s", diff)
	}
	got, err = s.Projects().Get(ctx, r.ID, "my-pkg")
	ok(t, "Get after Ensure", err)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Get after Ensure (-want +got):\n%s", diff)
	}

	_, err = s.Projects().Get(ctx, other.ID, "my-pkg")
	wantErr(t, "Get in other repo", err, store.ErrNotFound)
	_, err = s.Projects().Get(ctx, r.ID, "nope")
	wantErr(t, "Get missing", err, store.ErrNotFound)
	_, _, err = s.Projects().Ensure(ctx, registry.Project{RepoID: r.ID + other.ID + 1000, Name: "x"})
	wantErr(t, "Ensure in missing repo", err, store.ErrNotFound)

	for _, n := range []string{"zope", "a0", "a-b", "ab", "b"} {
		mustProject(t, s, r.ID, n)
	}
	mustProject(t, s, other.ID, "elsewhere")
	list, err := s.Projects().List(ctx, r.ID)
	ok(t, "List", err)
	var names []string
	for _, p := range list {
		if p.RepoID != r.ID {
			t.Errorf("List returned project of repo %d", p.RepoID)
		}
		names = append(names, p.Name)
	}
	// Byte order: '-' < '0' < 'a'.
	if diff := cmp.Diff([]string{"a-b", "a0", "ab", "b", "my-pkg", "zope"}, names); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	empty := mustRepo(t, s, "empty")
	list, err = s.Projects().List(ctx, empty.ID)
	ok(t, "List empty", err)
	if len(list) != 0 {
		t.Errorf("List of empty repo = %+v", list)
	}
}

func testProjectsDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := mustRepo(t, s, "main")
	p := mustProject(t, s, r.ID, "demo")
	keep := mustProject(t, s, r.ID, "keep")
	f1 := mustFile(t, s, newFile(p, "demo-1.0.tar.gz", "1.0", "1.0"))
	mustFile(t, s, newFile(p, "demo-1.0-py3-none-any.whl", "1.0", "1.0"))
	kf := mustFile(t, s, newFile(keep, "keep-1.0.tar.gz", "1.0", "1.0"))

	ok(t, "Delete", s.Projects().Delete(ctx, p.ID))
	_, err := s.Projects().Get(ctx, r.ID, "demo")
	wantErr(t, "Get deleted", err, store.ErrNotFound)
	_, err = s.Files().GetByFilename(ctx, r.ID, f1.Filename)
	wantErr(t, "file of deleted project", err, store.ErrNotFound)
	files, err := s.Files().ListByProject(ctx, p.ID)
	ok(t, "ListByProject", err)
	if len(files) != 0 {
		t.Errorf("deleted project lists %d files", len(files))
	}
	wantErr(t, "Delete missing", s.Projects().Delete(ctx, p.ID), store.ErrNotFound)

	// The filenames stay burnt, even for a new project of the same name.
	p2 := mustProject(t, s, r.ID, "demo")
	f := newFile(p2, f1.Filename, "1.0", "1.0")
	wantErr(t, "re-add tombstoned", s.Files().Add(ctx, &f), store.ErrFilenameUsed)

	if _, err := s.Files().GetByFilename(ctx, r.ID, kf.Filename); err != nil {
		t.Errorf("other project's file: %v", err)
	}
}

func testFiles(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := mustRepo(t, s, "main")
	other := mustRepo(t, s, "other")
	p := mustProject(t, s, r.ID, "demo")
	p2 := mustProject(t, s, r.ID, "second")
	op := mustProject(t, s, other.ID, "demo")

	f := newFile(p, "demo-1.0-py3-none-any.whl", "1.0", "1.0")
	f.MetadataSHA256 = fmt.Sprintf("%064x", 42)
	f.Yanked, f.YankedReason = true, "broken"
	ok(t, "Add", s.Files().Add(ctx, &f))
	if f.ID == 0 {
		t.Fatal("Add did not set ID")
	}
	got, err := s.Files().GetByFilename(ctx, r.ID, f.Filename)
	ok(t, "GetByFilename", err)
	if diff := cmp.Diff(f, got); diff != "" {
		t.Errorf("GetByFilename (-added +got):\n%s", diff)
	}

	dup := newFile(p, f.Filename, "1.0", "1.0")
	wantErr(t, "Add duplicate", s.Files().Add(ctx, &dup), store.ErrExists)
	dup2 := newFile(p2, f.Filename, "1.0", "1.0")
	wantErr(t, "Add duplicate in other project", s.Files().Add(ctx, &dup2), store.ErrExists)
	mustFile(t, s, newFile(op, f.Filename, "1.0", "1.0")) // other repository: fine

	// The same bytes under another filename of the repository are
	// refused, as PyPI does (a renamed or re-tagged copy of a release);
	// another repository may hold them.
	same := newFile(p, "demo-1.0-1-py3-none-any.whl", "1.0", "1.0")
	same.SHA256 = f.SHA256
	wantErr(t, "Add same content under another filename", s.Files().Add(ctx, &same), store.ErrContentExists)
	got, err = s.Files().GetBySHA256(ctx, r.ID, f.SHA256)
	ok(t, "GetBySHA256", err)
	if got.ID != f.ID {
		t.Errorf("GetBySHA256 = file %d (%s), want %d", got.ID, got.Filename, f.ID)
	}
	elsewhere := newFile(op, "demo-1.0-1-py3-none-any.whl", "1.0", "1.0")
	elsewhere.SHA256 = f.SHA256
	mustFile(t, s, elsewhere)
	_, err = s.Files().GetBySHA256(ctx, r.ID, fmt.Sprintf("%064x", 7))
	wantErr(t, "GetBySHA256 missing", err, store.ErrNotFound)

	_, err = s.Files().GetByFilename(ctx, r.ID, "nope.whl")
	wantErr(t, "GetByFilename missing", err, store.ErrNotFound)
	_, err = s.Files().GetByFilename(ctx, r.ID+other.ID+1000, f.Filename)
	wantErr(t, "GetByFilename wrong repo", err, store.ErrNotFound)

	bad := newFile(registry.Project{ID: p.ID + p2.ID + op.ID + 1000, RepoID: r.ID}, "x-1.0.tar.gz", "1.0", "1.0")
	wantErr(t, "Add to missing project", s.Files().Add(ctx, &bad), store.ErrNotFound)
	// A project of another repository is not a project of this one.
	cross := newFile(registry.Project{ID: op.ID, RepoID: r.ID}, "y-1.0.tar.gz", "1.0", "1.0")
	wantErr(t, "Add with project of other repo", s.Files().Add(ctx, &cross), store.ErrNotFound)

	var want []string
	for _, fn := range []string{"demo-2.0.tar.gz", "demo-0.1.tar.gz", "demo-1.0.tar.gz"} {
		mustFile(t, s, newFile(p, fn, "x", "x"))
	}
	mustFile(t, s, newFile(p2, "second-1.0.tar.gz", "1.0", "1.0"))
	want = []string{"demo-0.1.tar.gz", "demo-1.0-py3-none-any.whl", "demo-1.0.tar.gz", "demo-2.0.tar.gz"}
	list, err := s.Files().ListByProject(ctx, p.ID)
	ok(t, "ListByProject", err)
	var names []string
	for _, f := range list {
		names = append(names, f.Filename)
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("ListByProject (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(f, list[1]); diff != "" {
		t.Errorf("ListByProject row (-added +got):\n%s", diff)
	}
}

func testFilesDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := mustRepo(t, s, "main")
	other := mustRepo(t, s, "other")
	p := mustProject(t, s, r.ID, "demo")
	op := mustProject(t, s, other.ID, "demo")
	f := mustFile(t, s, newFile(p, "demo-1.0.tar.gz", "1.0", "1.0"))

	ok(t, "Delete", s.Files().Delete(ctx, f.ID))
	_, err := s.Files().GetByFilename(ctx, r.ID, f.Filename)
	wantErr(t, "Get deleted", err, store.ErrNotFound)
	wantErr(t, "Delete again", s.Files().Delete(ctx, f.ID), store.ErrNotFound)

	again := newFile(p, f.Filename, "1.0", "1.0")
	err = s.Files().Add(ctx, &again)
	wantErr(t, "re-add", err, store.ErrFilenameUsed)
	if errors.Is(err, store.ErrExists) {
		t.Errorf("re-add: tombstone error also matches ErrExists: %v", err)
	}
	// The tombstone is per repository.
	mustFile(t, s, newFile(op, f.Filename, "1.0", "1.0"))
}

func testSetYanked(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := mustRepo(t, s, "main")
	p := mustProject(t, s, r.ID, "demo")
	q := mustProject(t, s, r.ID, "other")
	a := mustFile(t, s, newFile(p, "demo-1.0.tar.gz", "1.0", "1"))
	b := mustFile(t, s, newFile(p, "demo-1.0.0-py3-none-any.whl", "1.0.0", "1"))
	c := mustFile(t, s, newFile(p, "demo-2.0.tar.gz", "2.0", "2"))
	d := mustFile(t, s, newFile(q, "other-1.0.tar.gz", "1.0", "1"))

	type state struct {
		Yanked bool
		Reason string
	}
	check := func(what string, want map[string]state) {
		t.Helper()
		got := map[string]state{}
		for _, f := range []registry.File{a, b, c, d} {
			g, err := s.Files().GetByFilename(ctx, r.ID, f.Filename)
			ok(t, what, err)
			got[f.Filename] = state{g.Yanked, g.YankedReason}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", what, diff)
		}
	}
	for _, step := range []struct {
		name    string
		project int64
		release string
		yanked  bool
		reason  string
		changed int
		want    map[string]state
	}{
		{"yank release", p.ID, "1", true, "bad build", 2, map[string]state{
			a.Filename: {true, "bad build"}, b.Filename: {true, "bad build"}, c.Filename: {}, d.Filename: {}}},
		{"yank again", p.ID, "1", true, "bad build", 0, map[string]state{
			a.Filename: {true, "bad build"}, b.Filename: {true, "bad build"}, c.Filename: {}, d.Filename: {}}},
		{"new reason", p.ID, "1", true, "CVE", 2, map[string]state{
			a.Filename: {true, "CVE"}, b.Filename: {true, "CVE"}, c.Filename: {}, d.Filename: {}}},
		{"unknown release", p.ID, "9", true, "x", 0, map[string]state{
			a.Filename: {true, "CVE"}, b.Filename: {true, "CVE"}, c.Filename: {}, d.Filename: {}}},
		{"unyank clears reason", p.ID, "1", false, "ignored", 2, map[string]state{
			a.Filename: {}, b.Filename: {}, c.Filename: {}, d.Filename: {}}},
		{"unyank again", p.ID, "1", false, "", 0, map[string]state{
			a.Filename: {}, b.Filename: {}, c.Filename: {}, d.Filename: {}}},
	} {
		n, err := s.Files().SetYanked(ctx, step.project, step.release, step.yanked, step.reason)
		ok(t, step.name, err)
		if n != step.changed {
			t.Errorf("%s: changed %d, want %d", step.name, n, step.changed)
		}
		check(step.name, step.want)
	}
}

func testBlobInUse(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := mustRepo(t, s, "main")
	p := mustProject(t, s, r.ID, "demo")
	f := newFile(p, "demo-1.0-py3-none-any.whl", "1.0", "1.0")
	f.SHA256 = fmt.Sprintf("%064x", 1)
	f.MetadataSHA256 = fmt.Sprintf("%064x", 2)
	f = mustFile(t, s, f)
	g := newFile(p, "demo-1.0.tar.gz", "1.0", "1.0")
	g.SHA256 = fmt.Sprintf("%064x", 3)
	mustFile(t, s, g)

	for _, tt := range []struct {
		sha  string
		want bool
	}{
		{f.SHA256, true},
		{f.MetadataSHA256, true},
		{g.SHA256, true},
		{fmt.Sprintf("%064x", 4), false},
		{"", false},
	} {
		got, err := s.Files().BlobInUse(ctx, tt.sha)
		ok(t, "BlobInUse", err)
		if got != tt.want {
			t.Errorf("BlobInUse(%q) = %v, want %v", tt.sha, got, tt.want)
		}
	}
	ok(t, "Delete", s.Files().Delete(ctx, f.ID))
	for _, sha := range []string{f.SHA256, f.MetadataSHA256} {
		if got, err := s.Files().BlobInUse(ctx, sha); err != nil || got {
			t.Errorf("BlobInUse(%q) after delete = %v, %v; want false", sha, got, err)
		}
	}
}

func testConcurrentAdd(t *testing.T, s store.Store) {
	r := mustRepo(t, s, "main")
	p := mustProject(t, s, r.ID, "demo")
	const n = 8
	errc := make(chan error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			f := newFile(p, "demo-1.0.tar.gz", "1.0", "1.0")
			errc <- s.Files().Add(t.Context(), &f)
		})
	}
	close(start)
	wg.Wait()
	close(errc)
	var okCount, existsCount int
	for err := range errc {
		switch {
		case err == nil:
			okCount++
		case errors.Is(err, store.ErrExists):
			existsCount++
		default:
			t.Errorf("concurrent Add: unexpected error %v", err)
		}
	}
	if okCount != 1 || existsCount != n-1 {
		t.Errorf("concurrent Add: %d succeeded, %d ErrExists; want 1 and %d", okCount, existsCount, n-1)
	}
	files, err := s.Files().ListByProject(t.Context(), p.ID)
	ok(t, "ListByProject", err)
	if len(files) != 1 {
		t.Errorf("after concurrent Add: %d files, want 1", len(files))
	}
}

func testInTxCommit(t *testing.T, s store.Store) {
	ctx := t.Context()
	var repoID int64
	err := s.InTx(ctx, func(tx store.Store) error {
		r := registry.Repository{Name: "main", Kind: registry.Hosted}
		if err := tx.Repos().Create(ctx, &r); err != nil {
			return err
		}
		repoID = r.ID
		// The transaction sees its own writes.
		if _, err := tx.Repos().Get(ctx, "main"); err != nil {
			return fmt.Errorf("read own write: %w", err)
		}
		p, _, err := tx.Projects().Ensure(ctx, registry.Project{RepoID: r.ID, Name: "demo"})
		if err != nil {
			return err
		}
		f := newFile(p, "demo-1.0.tar.gz", "1.0", "1.0")
		if err := tx.Files().Add(ctx, &f); err != nil {
			return err
		}
		if err := tx.Files().Delete(ctx, f.ID); err != nil {
			return err
		}
		return tx.Audit().Append(ctx, registry.AuditEvent{Time: base(), Action: "repo.create", Repo: "main"})
	})
	ok(t, "InTx", err)
	if _, err := s.Repos().Get(ctx, "main"); err != nil {
		t.Errorf("repository not committed: %v", err)
	}
	if _, err := s.Projects().Get(ctx, repoID, "demo"); err != nil {
		t.Errorf("project not committed: %v", err)
	}
	ev, err := s.Audit().List(ctx, store.AuditFilter{})
	ok(t, "Audit.List", err)
	if len(ev) != 1 {
		t.Errorf("audit events after commit: %d, want 1", len(ev))
	}
}

func testInTxRollback(t *testing.T, s store.Store) {
	ctx := t.Context()
	existing := mustRepo(t, s, "existing")
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx store.Store) error {
		r := registry.Repository{Name: "main", Kind: registry.Hosted}
		if err := tx.Repos().Create(ctx, &r); err != nil {
			return err
		}
		if _, _, err := tx.Projects().Ensure(ctx, registry.Project{RepoID: existing.ID, Name: "demo"}); err != nil {
			return err
		}
		if err := tx.Repos().Delete(ctx, "existing"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want fn's error", err)
	}
	_, err = s.Repos().Get(ctx, "main")
	wantErr(t, "repo created in rolled-back tx", err, store.ErrNotFound)
	if _, err := s.Repos().Get(ctx, "existing"); err != nil {
		t.Errorf("repo deleted in rolled-back tx: %v", err)
	}
	_, err = s.Projects().Get(ctx, existing.ID, "demo")
	wantErr(t, "project created in rolled-back tx", err, store.ErrNotFound)

	// The store still works after a rollback.
	mustRepo(t, s, "main")
}

func testInTxNested(t *testing.T, s store.Store) {
	ctx := t.Context()
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx store.Store) error {
		err := tx.InTx(ctx, func(inner store.Store) error {
			r := registry.Repository{Name: "inner", Kind: registry.Hosted}
			return inner.Repos().Create(ctx, &r)
		})
		if err != nil {
			return err
		}
		if _, err := tx.Repos().Get(ctx, "inner"); err != nil {
			return fmt.Errorf("outer sees inner write: %w", err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want fn's error", err)
	}
	_, err = s.Repos().Get(ctx, "inner")
	wantErr(t, "nested write after outer rollback", err, store.ErrNotFound)

	err = s.InTx(ctx, func(tx store.Store) error {
		return tx.InTx(ctx, func(inner store.Store) error {
			r := registry.Repository{Name: "inner", Kind: registry.Hosted}
			return inner.Repos().Create(ctx, &r)
		})
	})
	ok(t, "nested commit", err)
	if _, err := s.Repos().Get(ctx, "inner"); err != nil {
		t.Errorf("nested write not committed: %v", err)
	}
}

func testTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	full := registry.Token{
		ID: "tok-a", SecretHash: []byte{1, 2, 3, 0, 255}, Description: "ci",
		Scope: registry.Scope{
			Repos: []string{"main"}, Projects: []string{"acme-*"},
			Actions:  []registry.Action{registry.Read, registry.Upload},
			Bindings: []registry.Binding{{Repo: "main", Project: "acme-web"}},
		},
		CreatedAt: base(), ExpiresAt: base().Add(15 * time.Minute),
		LastUsedAt: base().Add(time.Minute), Origin: "oidc:https://token.actions.githubusercontent.com",
	}
	minimal := registry.Token{
		ID: "tok-b", SecretHash: []byte{9}, Scope: registry.Scope{Actions: []registry.Action{registry.Admin}},
		CreatedAt: base().Add(time.Hour), Origin: "admin",
	}
	for _, tok := range []registry.Token{full, minimal} {
		ok(t, "Create "+tok.ID, s.Tokens().Create(ctx, tok))
		got, err := s.Tokens().Get(ctx, tok.ID)
		ok(t, "Get "+tok.ID, err)
		if diff := cmp.Diff(tok, got); diff != "" {
			t.Errorf("Get %s (-created +got):\n%s", tok.ID, diff)
		}
	}
	wantErr(t, "Create duplicate", s.Tokens().Create(ctx, minimal), store.ErrExists)
	_, err := s.Tokens().Get(ctx, "nope")
	wantErr(t, "Get missing", err, store.ErrNotFound)

	mid := registry.Token{ID: "tok-c", SecretHash: []byte{7}, CreatedAt: base().Add(30 * time.Minute), Origin: "cli"}
	ok(t, "Create mid", s.Tokens().Create(ctx, mid))
	list, err := s.Tokens().List(ctx)
	ok(t, "List", err)
	var ids []string
	for _, tok := range list {
		ids = append(ids, tok.ID)
	}
	if diff := cmp.Diff([]string{"tok-b", "tok-c", "tok-a"}, ids); diff != "" {
		t.Errorf("List newest first (-want +got):\n%s", diff)
	}
}

func testTokensRevokeTouch(t *testing.T, s store.Store) {
	ctx := t.Context()
	tok := registry.Token{ID: "tok", SecretHash: []byte{1}, CreatedAt: base(), ExpiresAt: base().Add(time.Hour)}
	ok(t, "Create", s.Tokens().Create(ctx, tok))

	used := base().Add(2 * time.Minute)
	ok(t, "Touch", s.Tokens().Touch(ctx, "tok", used))
	got, err := s.Tokens().Get(ctx, "tok")
	ok(t, "Get", err)
	if !got.LastUsedAt.Equal(used) || !got.Active(base().Add(time.Minute)) {
		t.Errorf("after Touch: LastUsedAt %v (want %v), active %v", got.LastUsedAt, used, got.Active(base().Add(time.Minute)))
	}

	revoked := base().Add(5 * time.Minute)
	ok(t, "Revoke", s.Tokens().Revoke(ctx, "tok", revoked))
	got, err = s.Tokens().Get(ctx, "tok")
	ok(t, "Get", err)
	if !got.RevokedAt.Equal(revoked) || got.Active(base().Add(time.Minute)) {
		t.Errorf("after Revoke: RevokedAt %v (want %v), active %v", got.RevokedAt, revoked, got.Active(base().Add(time.Minute)))
	}
	wantErr(t, "Revoke missing", s.Tokens().Revoke(ctx, "nope", revoked), store.ErrNotFound)
	wantErr(t, "Touch missing", s.Tokens().Touch(ctx, "nope", used), store.ErrNotFound)
}

func testTokensDeleteExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, tok := range []registry.Token{
		{ID: "expired-1", ExpiresAt: base().Add(-time.Hour)},
		{ID: "expired-2", ExpiresAt: base().Add(-time.Microsecond)},
		{ID: "at-cutoff", ExpiresAt: base()},
		{ID: "later", ExpiresAt: base().Add(time.Hour)},
		{ID: "never"},
		{ID: "revoked-not-expired", ExpiresAt: base().Add(time.Hour), RevokedAt: base().Add(-time.Hour)},
	} {
		tok.SecretHash, tok.CreatedAt = []byte{1}, base().Add(-2*time.Hour)
		ok(t, "Create "+tok.ID, s.Tokens().Create(ctx, tok))
	}
	n, err := s.Tokens().DeleteExpired(ctx, base())
	ok(t, "DeleteExpired", err)
	if n != 2 {
		t.Errorf("DeleteExpired = %d, want 2", n)
	}
	list, err := s.Tokens().List(ctx)
	ok(t, "List", err)
	got := map[string]bool{}
	for _, tok := range list {
		got[tok.ID] = true
	}
	want := map[string]bool{"at-cutoff": true, "later": true, "never": true, "revoked-not-expired": true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tokens left (-want +got):\n%s", diff)
	}
}

func testAudit(t *testing.T, s store.Store) {
	ctx := t.Context()
	events := []registry.AuditEvent{
		{Time: base(), Actor: "system", Action: "repo.create", Repo: "main", Outcome: "ok"},
		{Time: base().Add(1 * time.Second), Actor: "tok-1", Action: "oidc.mint", Repo: "main", Project: "demo", Target: "tok-2", Outcome: "ok",
			Detail: map[string]string{"issuer": "https://token.actions.githubusercontent.com", "repository": "acme/demo"}},
		{Time: base().Add(2 * time.Second), Actor: "tok-2", Action: "file.upload", Repo: "main", Project: "demo", Target: "demo-1.0.tar.gz", Outcome: "ok"},
		{Time: base().Add(3 * time.Second), Actor: "tok-9", Action: "oidc.exchange", Repo: "other", Outcome: "refused", Detail: map[string]string{}},
		{Time: base().Add(4 * time.Second), Actor: "tok-2", Action: "oidcx.other", Repo: "main", Project: "demo", Outcome: "ok"},
		{Time: base().Add(5 * time.Second), Actor: "cli", Action: "oidc", Repo: "main", Outcome: "ok"},
	}
	// Appended out of order: List orders by time, not insertion.
	for _, i := range []int{2, 0, 5, 1, 4, 3} {
		ok(t, "Append", s.Audit().Append(ctx, events[i]))
	}
	for _, tt := range []struct {
		name string
		f    store.AuditFilter
		want []int // indexes into events, newest first
	}{
		{"all", store.AuditFilter{}, []int{5, 4, 3, 2, 1, 0}},
		{"repo", store.AuditFilter{Repo: "other"}, []int{3}},
		{"project", store.AuditFilter{Project: "demo"}, []int{4, 2, 1}},
		{"exact action", store.AuditFilter{Action: "oidc.mint"}, []int{1}},
		{"exact action without dot", store.AuditFilter{Action: "oidc"}, []int{5}},
		{"action prefix", store.AuditFilter{Action: "oidc."}, []int{3, 1}},
		{"since", store.AuditFilter{Since: base().Add(3 * time.Second)}, []int{5, 4, 3}},
		{"limit", store.AuditFilter{Limit: 2}, []int{5, 4}},
		{"combined", store.AuditFilter{Repo: "main", Action: "oidc.", Since: base().Add(time.Second)}, []int{1}},
		{"nothing", store.AuditFilter{Repo: "nope"}, nil},
	} {
		got, err := s.Audit().List(ctx, tt.f)
		ok(t, tt.name, err)
		var want []registry.AuditEvent
		for _, i := range tt.want {
			want = append(want, events[i])
		}
		// IDs are the store's; compare everything else.
		for i := range got {
			if got[i].ID == 0 {
				t.Errorf("%s: event without ID", tt.name)
			}
			got[i].ID = 0
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func testAuditDefaultLimit(t *testing.T, s store.Store) {
	ctx := t.Context()
	err := s.InTx(ctx, func(tx store.Store) error {
		for i := range 105 {
			if err := tx.Audit().Append(ctx, registry.AuditEvent{Time: base().Add(time.Duration(i) * time.Second), Action: "x.y"}); err != nil {
				return err
			}
		}
		return nil
	})
	ok(t, "Append", err)
	got, err := s.Audit().List(ctx, store.AuditFilter{})
	ok(t, "List", err)
	if len(got) != 100 {
		t.Fatalf("List with zero Limit returned %d events, want 100", len(got))
	}
	if want := base().Add(104 * time.Second); !got[0].Time.Equal(want) {
		t.Errorf("newest event at %v, want %v", got[0].Time, want)
	}
}

// Publishers and Replay are not (yet) part of store.Store; stores that
// offer them are held to their contract, others skip these tests.
func testPublishers(t *testing.T, s store.Store) {
	ps := s
	ctx := t.Context()
	mustRepo(t, s, "main")
	mustRepo(t, s, "other")
	gh := "https://token.actions.githubusercontent.com"
	recs := []registry.PublisherRecord{
		{Repo: "main", Project: "demo", Kind: "github", Issuer: gh, Config: []byte(`{"owner":"acme"}`), CreatedBy: "admin"},
		{Repo: "main", Project: "new-thing", Pending: true, Kind: "github", Issuer: gh, Config: []byte(`{}`)},
		{Repo: "other", Project: "demo", Kind: "gitlab", Issuer: "https://gitlab.com", Config: []byte(`{"project_path":"a/b"}`)},
	}
	for i := range recs {
		ok(t, "Create", ps.Publishers().Create(ctx, &recs[i]))
		if recs[i].ID == 0 || recs[i].CreatedAt.IsZero() {
			t.Fatalf("Create did not set ID and CreatedAt: %+v", recs[i])
		}
	}
	got, err := ps.Publishers().Get(ctx, recs[1].ID)
	ok(t, "Get", err)
	if diff := cmp.Diff(recs[1], got); diff != "" {
		t.Errorf("Get (-created +got):\n%s", diff)
	}
	_, err = ps.Publishers().Get(ctx, recs[2].ID+1000)
	wantErr(t, "Get missing", err, store.ErrNotFound)
	bad := registry.PublisherRecord{Repo: "nope", Project: "x", Kind: "github", Issuer: gh}
	wantErr(t, "Create in missing repo", ps.Publishers().Create(ctx, &bad), store.ErrNotFound)

	for _, tt := range []struct {
		name          string
		repo, project string
		issuer        string
		want          []int
	}{
		{"all", "", "", "", []int{0, 1, 2}},
		{"repo", "main", "", "", []int{0, 1}},
		{"project", "", "demo", "", []int{0, 2}},
		{"repo and project", "other", "demo", "", []int{2}},
		{"none", "main", "zzz", "", nil},
		{"issuer", "", "", gh, []int{0, 1}},
		{"other issuer", "", "", "https://gitlab.com", []int{2}},
		{"issuer is exact", "", "", gh + "/", nil},
	} {
		var list []registry.PublisherRecord
		if tt.issuer != "" {
			list, err = ps.Publishers().ForIssuer(ctx, tt.issuer)
		} else {
			list, err = ps.Publishers().List(ctx, tt.repo, tt.project)
		}
		ok(t, tt.name, err)
		var want []registry.PublisherRecord
		for _, i := range tt.want {
			want = append(want, recs[i])
		}
		if diff := cmp.Diff(want, list); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}

	ok(t, "Reify", ps.Publishers().Reify(ctx, recs[1].ID))
	got, err = ps.Publishers().Get(ctx, recs[1].ID)
	ok(t, "Get after Reify", err)
	if got.Pending {
		t.Error("still pending after Reify")
	}
	wantErr(t, "Reify missing", ps.Publishers().Reify(ctx, recs[2].ID+1000), store.ErrNotFound)

	ok(t, "Delete", ps.Publishers().Delete(ctx, recs[0].ID))
	_, err = ps.Publishers().Get(ctx, recs[0].ID)
	wantErr(t, "Get deleted", err, store.ErrNotFound)
	wantErr(t, "Delete again", ps.Publishers().Delete(ctx, recs[0].ID), store.ErrNotFound)

	// A repository's publishers go with it.
	ok(t, "Repos.Delete", s.Repos().Delete(ctx, "other"))
	_, err = ps.Publishers().Get(ctx, recs[2].ID)
	wantErr(t, "publisher of deleted repo", err, store.ErrNotFound)
}

func testReplay(t *testing.T, s store.Store) {
	rs := s
	ctx := t.Context()
	// Far from any clock the store may run on, so the suite needs none.
	past := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	future := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	claim := func(issuer, jti string, until time.Time, want bool) {
		t.Helper()
		fresh, err := rs.Replay().Claim(ctx, issuer, jti, until)
		ok(t, "Claim", err)
		if fresh != want {
			t.Errorf("Claim(%s, %s, %v) = %v, want %v", issuer, jti, until.Year(), fresh, want)
		}
	}
	claim("https://a", "j1", future, true)
	claim("https://a", "j1", future, false) // replay
	claim("https://b", "j1", future, true)  // per issuer
	claim("https://a", "j2", past, true)
	claim("https://a", "j2", future, true) // the old claim had expired
	claim("https://a", "j2", future, false)

	claim("https://a", "old", past, true)
	n, err := rs.Replay().DeleteExpired(ctx, past.Add(time.Hour))
	ok(t, "DeleteExpired", err)
	if n != 1 {
		t.Errorf("DeleteExpired = %d, want 1", n)
	}
	claim("https://a", "j1", future, false) // kept

	// Concurrent claims of one token: exactly one wins.
	const workers = 8
	results := make(chan bool, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			fresh, err := rs.Replay().Claim(ctx, "https://c", "race", future)
			if err != nil {
				t.Errorf("concurrent Claim: %v", err)
			}
			results <- fresh
		})
	}
	wg.Wait()
	close(results)
	wins := 0
	for fresh := range results {
		if fresh {
			wins++
		}
	}
	if wins != 1 {
		t.Errorf("concurrent Claim: %d fresh, want 1", wins)
	}
}
