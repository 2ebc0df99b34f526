package virtual_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/virtual"
	"github.com/wharf-dev/wharf/internal/store"
	"github.com/wharf-dev/wharf/internal/store/sqlstore"
)

// fakeIndex is a member: fixed pages, or an error for every call (an
// unreachable upstream); it counts the calls it gets.
type fakeIndex struct {
	mu    sync.Mutex
	pages map[string]pypi.ProjectPage // by "repo/project"
	fail  map[string]error            // by repo name
	calls map[string]int              // by repo name
}

func (f *fakeIndex) count(repo string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[repo]++
	return f.fail[repo]
}

func (f *fakeIndex) asked(repo string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[repo]
}

func (f *fakeIndex) PageToken(repo registry.Repository, project string) (uint64, bool) {
	return uint64(repo.ID), true
}

func (f *fakeIndex) Root(ctx context.Context, repo registry.Repository) (pypi.ProjectList, registry.PageInfo, error) {
	if err := f.count(repo.Name); err != nil {
		return pypi.ProjectList{}, registry.PageInfo{}, err
	}
	var l pypi.ProjectList
	for k := range f.pages {
		if r, p, _ := strings.Cut(k, "/"); r == repo.Name {
			l.Projects = append(l.Projects, pypi.ProjectEntry{Name: p, Normalized: p})
		}
	}
	return l, registry.PageInfo{Token: uint64(repo.ID)}, nil
}

func (f *fakeIndex) Project(ctx context.Context, repo registry.Repository, name string) (pypi.ProjectPage, registry.PageInfo, error) {
	if err := f.count(repo.Name); err != nil {
		return pypi.ProjectPage{}, registry.PageInfo{}, err
	}
	p, ok := f.pages[repo.Name+"/"+name]
	if !ok {
		return p, registry.PageInfo{}, errs.Errorf(errs.NotFound, "fake", "no %s in %s", name, repo.Name)
	}
	return p, registry.PageInfo{Token: uint64(repo.ID)}, nil
}

func (f *fakeIndex) Open(ctx context.Context, repo registry.Repository, sha256, filename string, metadata bool) (registry.Download, error) {
	if err := f.count(repo.Name); err != nil {
		return registry.Download{}, err
	}
	for k, p := range f.pages {
		r, project, _ := strings.Cut(k, "/")
		if r != repo.Name {
			continue
		}
		for _, fe := range p.Files {
			// As real indexes do: the project is the stored one, and a
			// file of a project the caller may not read is absent.
			if fe.SHA256 == sha256 && fe.Filename == filename && registry.ReaderFrom(ctx).CanReadProject(repo, project) {
				return registry.Download{Key: repo.Name + ":" + sha256, Project: project}, nil
			}
		}
	}
	return registry.Download{}, errs.Errorf(errs.NotFound, "fake", "no file %s in %s", filename, repo.Name)
}

func file(name, sha string) pypi.FileEntry {
	return pypi.FileEntry{Filename: name, SHA256: strings.Repeat(sha, 64)[:64], URL: name}
}

type env struct {
	st   store.Store
	svc  *virtual.Service
	fake *fakeIndex
	now  time.Time
}

// newEnv builds hosted "local" and "private", remotes "pypi" and "down"
// (whose every call fails as an unreachable upstream would), and the given
// virtual repositories (name → settings).
func newEnv(t *testing.T, virtuals map[string]registry.VirtualSettings) *env {
	t.Helper()
	ctx := t.Context()
	st, err := sqlstore.Open(ctx, sqlstore.Config{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{st: st, now: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), fake: &fakeIndex{
		pages: map[string]pypi.ProjectPage{
			"local/demo":     {Name: "demo", Files: []pypi.FileEntry{file("demo-1.0-py3-none-any.whl", "a")}, Versions: []string{"1.0"}},
			"pypi/demo":      {Name: "demo", Files: []pypi.FileEntry{file("demo-1.0-py3-none-any.whl", "b"), file("demo-9.0-py3-none-any.whl", "c")}, Versions: []string{"1.0", "9.0"}},
			"pypi/public":    {Name: "public", Files: []pypi.FileEntry{file("public-2.0-py3-none-any.whl", "d")}, Versions: []string{"2.0"}},
			"private/lib":    {Name: "lib", Files: []pypi.FileEntry{file("lib-0.1-py3-none-any.whl", "e")}, Versions: []string{"0.1"}},
			"private/secret": {Name: "secret", Files: []pypi.FileEntry{file("secret-1.0-py3-none-any.whl", "0")}, Versions: []string{"1.0"}},
			"pypi/lib":       {Name: "lib", Files: []pypi.FileEntry{file("lib-5.0-py3-none-any.whl", "f")}, Versions: []string{"5.0"}},
		},
		fail:  map[string]error{"down": errs.Errorf(errs.Upstream, "fake", "upstream unreachable")},
		calls: map[string]int{},
	}}
	for _, r := range []registry.Repository{{Name: "local", Kind: registry.Hosted, Public: true}, {Name: "private", Kind: registry.Hosted},
		{Name: "pypi", Kind: registry.Remote, Public: true}, {Name: "down", Kind: registry.Remote, Public: true}} {
		if err := st.Repos().Create(ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	for name, set := range virtuals {
		r := registry.Repository{Name: name, Kind: registry.Virtual, Public: true}
		if err := st.Repos().Create(ctx, &r); err != nil {
			t.Fatal(err)
		}
		e.putSettings(t, name, set)
	}
	e.svc = virtual.New(virtual.Config{
		Store: st,
		Repo:  func(ctx context.Context, name string) (registry.Repository, error) { return e.repo(ctx, name) },
		Index: func(kind registry.RepoKind) registry.Index {
			if kind == registry.Virtual {
				return e.svc
			}
			return e.fake
		},
		Now: func() time.Time { return e.now },
	})
	return e
}

func (e *env) repo(ctx context.Context, name string) (registry.Repository, error) {
	r, err := e.st.Repos().Get(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return r, errs.Errorf(errs.NotFound, "test", "no repository %s", name)
	}
	return r, err
}

func (e *env) putSettings(t *testing.T, name string, set registry.VirtualSettings) {
	t.Helper()
	r, err := e.st.Repos().Get(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(registry.RepoSettings{Virtual: &set})
	if err := e.st.Remote().PutSettings(t.Context(), r.ID, b); err != nil {
		t.Fatal(err)
	}
}

func (e *env) project(t *testing.T, repo, project string) (pypi.ProjectPage, registry.PageInfo, error) {
	t.Helper()
	r, err := e.repo(t.Context(), repo)
	if err != nil {
		t.Fatal(err)
	}
	return e.svc.Project(readsAll(t), r, project)
}

// everything is the Reader of a caller who may read every repository.
type everything struct{}

func (everything) CanRead(registry.Repository) (bool, bool)        { return true, true }
func (everything) CanReadProject(registry.Repository, string) bool { return true }

// readsAll is the test's context for a caller who may read everything.
func readsAll(t *testing.T) context.Context { return registry.WithReader(t.Context(), everything{}) }

func filenames(p pypi.ProjectPage) []string {
	var out []string
	for _, f := range p.Files {
		out = append(out, f.Filename+"@"+f.SHA256[:1])
	}
	return out
}

func TestResolution(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		set      registry.VirtualSettings
		project  string
		want     []string // filename@first letter of sha256
		versions []string
		kind     errs.Kind // when an error is wanted
		notAsked []string  // members that must not be asked
	}{
		{name: "first member wins, later ones not asked",
			set: registry.VirtualSettings{Members: []string{"local", "pypi"}}, project: "demo",
			want: []string{"demo-1.0-py3-none-any.whl@a"}, versions: []string{"1.0"}, notAsked: []string{"pypi"}},
		{name: "a public project never mixes into a private one, whatever the order of files",
			set: registry.VirtualSettings{Members: []string{"local", "pypi"}, Merge: []string{"other"}}, project: "demo",
			want: []string{"demo-1.0-py3-none-any.whl@a"}, versions: []string{"1.0"}},
		{name: "later member when earlier ones lack the project",
			set: registry.VirtualSettings{Members: []string{"local", "pypi"}}, project: "public",
			want: []string{"public-2.0-py3-none-any.whl@d"}, versions: []string{"2.0"}},
		{name: "merge is opt-in per project and earlier members win a filename",
			set: registry.VirtualSettings{Members: []string{"local", "pypi"}, Merge: []string{"demo"}}, project: "demo",
			want: []string{"demo-1.0-py3-none-any.whl@a", "demo-9.0-py3-none-any.whl@c"}, versions: []string{"1.0", "9.0"}},
		{name: "order decides",
			set: registry.VirtualSettings{Members: []string{"pypi", "local"}}, project: "demo",
			want: []string{"demo-1.0-py3-none-any.whl@b", "demo-9.0-py3-none-any.whl@c"}, versions: []string{"1.0", "9.0"}, notAsked: []string{"local"}},
		{name: "an unreachable later member is not asked",
			set: registry.VirtualSettings{Members: []string{"local", "down"}}, project: "demo",
			want: []string{"demo-1.0-py3-none-any.whl@a"}, versions: []string{"1.0"}, notAsked: []string{"down"}},
		{name: "an unreachable member that must be asked fails the page",
			set: registry.VirtualSettings{Members: []string{"local", "down", "pypi"}}, project: "public",
			kind: errs.Upstream, notAsked: []string{"pypi"}},
		{name: "a deleted member is skipped",
			set: registry.VirtualSettings{Members: []string{"gone", "pypi"}}, project: "public",
			want: []string{"public-2.0-py3-none-any.whl@d"}, versions: []string{"2.0"}},
		{name: "nested virtual",
			set: registry.VirtualSettings{Members: []string{"inner", "pypi"}}, project: "lib",
			want: []string{"lib-0.1-py3-none-any.whl@e"}, versions: []string{"0.1"}, notAsked: []string{"pypi"}},
		{name: "nowhere", set: registry.VirtualSettings{Members: []string{"local", "pypi"}}, project: "nope", kind: errs.NotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, map[string]registry.VirtualSettings{"all": tt.set, "inner": {Members: []string{"private"}}})
			page, _, err := e.project(t, "all", tt.project)
			if tt.kind != 0 {
				if errs.KindOf(err) != tt.kind {
					t.Fatalf("err = %v (%v), want kind %v", err, errs.KindOf(err), tt.kind)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, filenames(page)); diff != "" {
					t.Errorf("files (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.versions, page.Versions); diff != "" {
					t.Errorf("versions (-want +got):\n%s", diff)
				}
			}
			for _, m := range tt.notAsked {
				if n := e.fake.asked(m); n != 0 {
					t.Errorf("member %s was asked %d times, want never", m, n)
				}
			}
		})
	}
}

func TestOpenAndRoot(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]registry.VirtualSettings{"all": {Members: []string{"local", "pypi"}}})
	ctx := readsAll(t)
	all, _ := e.repo(ctx, "all")
	// A file is served by the member that has those exact bytes.
	for _, tt := range []struct{ sha, name, want string }{
		{"a", "demo-1.0-py3-none-any.whl", "local:"},
		{"b", "demo-1.0-py3-none-any.whl", "pypi:"},
	} {
		sha := strings.Repeat(tt.sha, 64)
		d, err := e.svc.Open(ctx, all, sha, tt.name, false)
		if err != nil || d.Key != tt.want+sha {
			t.Errorf("Open(%s…) = %q, %v; want from %s", tt.sha, d.Key, err, tt.want)
		}
	}
	if _, err := e.svc.Open(ctx, all, strings.Repeat("f", 64), "demo-1.0-py3-none-any.whl", false); errs.KindOf(err) != errs.NotFound {
		t.Errorf("Open of bytes no member has: %v, want not found", err)
	}
	l, _, err := e.svc.Root(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range l.Projects {
		names = append(names, p.Normalized)
	}
	if diff := cmp.Diff([]string{"demo", "lib", "public"}, names); diff != "" {
		t.Errorf("root: sorted, one entry per name (-want +got):\n%s", diff)
	}
}

func TestUploadTarget(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]registry.VirtualSettings{
		"with":   {Members: []string{"local", "pypi"}, UploadTo: "local"},
		"none":   {Members: []string{"local", "pypi"}},
		"remote": {Members: []string{"local", "pypi"}, UploadTo: "pypi"}, // only by editing the database
	})
	ctx := t.Context()
	for _, tt := range []struct {
		repo, want string
		kind       errs.Kind
		msg        string
	}{
		{repo: "with", want: "local"},
		{repo: "none", kind: errs.Invalid, msg: "has no upload target: upload to one of its hosted members (local, pypi)"},
		{repo: "remote", kind: errs.Invalid, msg: "is remote, not hosted"},
	} {
		r, _ := e.repo(ctx, tt.repo)
		got, err := e.svc.UploadTarget(ctx, r)
		if tt.kind != 0 {
			if errs.KindOf(err) != tt.kind || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("%s: %v, want %v containing %q", tt.repo, err, tt.kind, tt.msg)
			}
			continue
		}
		if err != nil || got.Name != tt.want {
			t.Errorf("%s: %q, %v; want %s", tt.repo, got.Name, err, tt.want)
		}
	}
}

func TestCycles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]registry.VirtualSettings{
		"a": {Members: []string{"local"}},
		"b": {Members: []string{"a", "pypi"}},
	})
	ctx := t.Context()
	settingsOf := func(ctx context.Context, r registry.Repository) (*registry.VirtualSettings, error) {
		s, err := e.svc.Settings(ctx, r)
		return &s, err
	}
	for _, tt := range []struct {
		name string
		set  registry.VirtualSettings
		msg  string
	}{
		{"a", registry.VirtualSettings{Members: []string{"local", "b"}}, "would form a cycle: a -> b -> a"},
		{"a", registry.VirtualSettings{Members: []string{"a"}}, "would form a cycle: a -> a"},
		{"c", registry.VirtualSettings{Members: []string{"b", "nope"}}, "member 'nope' of virtual repository 'c' does not exist"},
		{"c", registry.VirtualSettings{}, "needs at least one member"},
		{"c", registry.VirtualSettings{Members: []string{"b", "local"}, UploadTo: "b"}, "must be a hosted repository"},
		{"c", registry.VirtualSettings{Members: []string{"b"}, UploadTo: "local"}, "must be one of its members"},
		{"c", registry.VirtualSettings{Members: []string{"b", "a", "local"}, UploadTo: "local"}, ""}, // a diamond is no cycle
	} {
		err := virtual.CheckMembers(ctx, tt.name, tt.set, e.repo, settingsOf)
		if tt.msg == "" {
			if err != nil {
				t.Errorf("%s %v: %v, want accepted", tt.name, tt.set.Members, err)
			}
			continue
		}
		if errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s %v: %v, want invalid containing %q", tt.name, tt.set.Members, err, tt.msg)
		}
	}

	// A cycle made behind the API's back is stopped by the depth limit,
	// not by a stack overflow.
	e.putSettings(t, "a", registry.VirtualSettings{Members: []string{"b"}})
	ra, _ := e.repo(ctx, "a")
	e.svc.Forget(ra.ID)
	if _, _, err := e.project(t, "b", "demo"); errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), "nests more than") {
		t.Errorf("project through a stored cycle: %v, want the depth limit", err)
	}
}

func TestPageViewFollowsSettings(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]registry.VirtualSettings{"all": {Members: []string{"local", "pypi"}}})
	ctx := readsAll(t)
	all, _ := e.repo(ctx, "all")
	if pv := e.svc.PageView(ctx, all, "demo"); pv.Current || pv.Cacheable {
		t.Errorf("PageView answered before the settings were loaded: %+v", pv)
	}
	if _, ok := e.svc.PageToken(all, "demo"); ok {
		t.Error("PageToken answered: a virtual page depends on its reader")
	}
	_, info, err := e.svc.Project(ctx, all, "demo")
	if err != nil {
		t.Fatal(err)
	}
	pv := e.svc.PageView(ctx, all, "demo")
	if !pv.Current || !pv.Cacheable {
		t.Fatalf("PageView did not answer with warm settings: %+v", pv)
	}
	if pv.ID != info.View {
		t.Errorf("PageView %x and the page's view %x differ: the page would never be cached", pv.ID, info.View)
	}
	e.putSettings(t, "all", registry.VirtualSettings{Members: []string{"local", "pypi"}, Merge: []string{"demo"}})
	e.svc.Forget(all.ID)
	page, info2, err := e.project(t, "all", "demo")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Files) != 2 {
		t.Errorf("merged page has %v", filenames(page))
	}
	pv2 := e.svc.PageView(ctx, all, "demo")
	if !pv2.Current || pv2.Token == pv.Token || pv2.ID == pv.ID || info2.Token == info.Token {
		t.Errorf("tokens and views did not change with the merge list: %+v → %+v, page %x → %x", pv, pv2, info.Token, info2.Token)
	}
	// Settings are cached for SettingsTTL; then the token is unknown, but
	// the view still answers (a stale page may be served while the
	// database is down).
	e.now = e.now.Add(time.Minute)
	if pv3 := e.svc.PageView(ctx, all, "demo"); pv3.Current || pv3.ID != pv2.ID || !pv3.Cacheable {
		t.Errorf("PageView with expired settings: %+v, want the view %x without a token", pv3, pv2.ID)
	}
}

// TestReadsSkipHiddenMembers: reading through a virtual repository needs
// read access to each member that supplies the data; a member the caller
// may not read is skipped as if absent, on every path (project pages, the
// root, files), and the page view tells the callers apart so a cached page
// is never shared between them.
func TestReadsSkipHiddenMembers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]registry.VirtualSettings{
		"all":    {Members: []string{"private", "pypi"}},
		"inner":  {Members: []string{"private"}},
		"nested": {Members: []string{"inner", "pypi"}},
	})
	read := []registry.Action{registry.Read}
	readers := map[string]registry.Reader{
		"anonymous":        registry.Anonymous{},
		"everything":       everything{},
		"token for all":    auth.Principal{Scope: registry.Scope{Actions: read, Repos: []string{"all", "nested", "inner"}}}.Reader(),
		"token for both":   auth.Principal{Scope: registry.Scope{Actions: read, Repos: []string{"all", "private"}}}.Reader(),
		"token for lib":    auth.Principal{Scope: registry.Scope{Actions: read, Projects: []string{"lib"}}}.Reader(),
		"upload-only full": auth.Principal{Scope: registry.Scope{Actions: []registry.Action{registry.Upload}}}.Reader(),
	}
	for _, tt := range []struct {
		reader, repo string
		lib          string   // the file lib resolves to (@ first letter of its sha)
		secret       bool     // whether the private-only project is served
		root         []string // the root's names
		cacheable    bool     // whether the root page may be cached
	}{
		{reader: "anonymous", repo: "all", lib: "lib-5.0-py3-none-any.whl@f", root: []string{"demo", "lib", "public"}, cacheable: true},
		{reader: "token for all", repo: "all", lib: "lib-5.0-py3-none-any.whl@f", root: []string{"demo", "lib", "public"}, cacheable: true},
		{reader: "upload-only full", repo: "all", lib: "lib-5.0-py3-none-any.whl@f", root: []string{"demo", "lib", "public"}, cacheable: true},
		{reader: "everything", repo: "all", lib: "lib-0.1-py3-none-any.whl@e", secret: true, root: []string{"demo", "lib", "public", "secret"}, cacheable: true},
		{reader: "token for both", repo: "all", lib: "lib-0.1-py3-none-any.whl@e", secret: true, root: []string{"demo", "lib", "public", "secret"}, cacheable: true},
		{reader: "token for lib", repo: "all", lib: "lib-0.1-py3-none-any.whl@e", root: []string{"demo", "lib", "public"}},
		{reader: "anonymous", repo: "nested", lib: "lib-5.0-py3-none-any.whl@f", root: []string{"demo", "lib", "public"}},
		{reader: "token for all", repo: "nested", lib: "lib-5.0-py3-none-any.whl@f", root: []string{"demo", "lib", "public"}},
		{reader: "everything", repo: "nested", lib: "lib-0.1-py3-none-any.whl@e", secret: true, root: []string{"demo", "lib", "public", "secret"}},
	} {
		t.Run(tt.reader+" through "+tt.repo, func(t *testing.T) {
			ctx := registry.WithReader(t.Context(), readers[tt.reader])
			repo, _ := e.repo(ctx, tt.repo)
			page, info, err := e.svc.Project(ctx, repo, "lib")
			if err != nil {
				t.Fatal(err)
			}
			if got := filenames(page); len(got) != 1 || got[0] != tt.lib {
				t.Errorf("lib = %v, want %s", got, tt.lib)
			}
			if pv := e.svc.PageView(ctx, repo, "lib"); pv.ID != info.View {
				t.Errorf("PageView %x, page view %x: a page is cached only for the view it was built for", pv.ID, info.View)
			}
			_, _, err = e.svc.Project(ctx, repo, "secret")
			if got := err == nil; got != tt.secret {
				t.Errorf("project secret served = %v (%v), want %v", got, err, tt.secret)
			}
			d, err := e.svc.Open(ctx, repo, strings.Repeat("0", 64), "secret-1.0-py3-none-any.whl", false)
			if got := err == nil; got != tt.secret {
				t.Errorf("file of secret served = %v (%v), want %v", got, err, tt.secret)
			} else if err == nil && !d.Private {
				t.Error("a file from a private member is not marked private (shared caches would keep it)")
			} else if err != nil && errs.KindOf(err) != errs.NotFound {
				t.Errorf("hidden file: %v, want not found", err)
			}
			l, rinfo, err := e.svc.Root(ctx, repo)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range l.Projects {
				names = append(names, p.Normalized)
			}
			if diff := cmp.Diff(tt.root, names); diff != "" {
				t.Errorf("root (-want +got):\n%s", diff)
			}
			if rinfo.PerCaller == tt.cacheable {
				t.Errorf("root PerCaller = %v, want %v", rinfo.PerCaller, !tt.cacheable)
			}
		})
	}

	// Callers who see different members have different views; callers who
	// see the same members share one.
	all, _ := e.repo(t.Context(), "all")
	view := func(reader string) registry.PageView {
		return e.svc.PageView(registry.WithReader(t.Context(), readers[reader]), all, "lib")
	}
	if view("anonymous").ID == view("everything").ID {
		t.Error("anonymous and full readers share a page view")
	}
	if view("anonymous").ID != view("token for all").ID || view("everything").ID != view("token for both").ID {
		t.Error("readers who see the same members have different views (pages would not be shared)")
	}
	if view("anonymous").Shared {
		t.Error("a view of a virtual repository with a private member is marked shared")
	}
}

func TestCheckPublic(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]registry.VirtualSettings{"inner": {Members: []string{"private"}}, "open": {Members: []string{"local"}}})
	ctx := t.Context()
	settingsOf := func(ctx context.Context, r registry.Repository) (*registry.VirtualSettings, error) {
		s, err := e.svc.Settings(ctx, r)
		return &s, err
	}
	for _, tt := range []struct {
		public  bool
		members []string
		msg     string
	}{
		{true, []string{"local", "pypi"}, ""},
		{true, []string{"open", "pypi"}, ""},
		{false, []string{"private", "pypi"}, ""},
		{true, []string{"local", "private"}, "virtual repository 'v' is public but its member 'private' is private"},
		{true, []string{"inner", "pypi"}, "its member 'private' (through 'inner') is private"},
	} {
		err := virtual.CheckPublic(ctx, "v", tt.public, registry.VirtualSettings{Members: tt.members}, e.repo, settingsOf)
		if tt.msg == "" {
			if err != nil {
				t.Errorf("public=%v %v: %v, want accepted", tt.public, tt.members, err)
			}
			continue
		}
		if errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), "Make 'v' private") {
			t.Errorf("public=%v %v: %v, want invalid containing %q and the way out", tt.public, tt.members, err, tt.msg)
		}
	}
}
