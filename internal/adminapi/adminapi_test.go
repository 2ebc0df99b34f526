package adminapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/adminapi"
	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/blob/fsblob"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/oidc"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/hosted"
	"github.com/wharf-dev/wharf/internal/store"
	"github.com/wharf-dev/wharf/internal/store/sqlstore"
)

var epoch = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// testEnv is a real API over SQLite and local files, with a fixed clock.
type testEnv struct {
	url   string
	st    store.Store
	auth  *auth.Service
	admin string // an unrestricted admin token

	mu      sync.Mutex
	changed []string // RepoChanged calls
}

// testIssuers are the issuers the tests' publishers name.
var testIssuers = []oidc.IssuerInfo{
	{Name: "github", URL: oidc.GitHubIssuer, Kind: oidc.KindGitHub},
	{Name: "github-acme", URL: oidc.GitHubIssuer + "/acme-corp", Kind: oidc.KindGitHub},
	{Name: "gitlab", URL: oidc.GitLabIssuer, Kind: oidc.KindGitLab},
	{Name: "ci", URL: "https://ci.example.com", Kind: oidc.KindGeneric},
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	now := func() time.Time { return epoch }
	st, err := sqlstore.Open(ctx, sqlstore.Config{Driver: "sqlite", DSN: filepath.Join(dir, "wharf.db"), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{st: st}
	e.auth = auth.New(auth.Config{Tokens: st.Tokens(), Now: now})
	hs := hosted.New(hosted.Config{Store: st, Blobs: bs, Now: now})
	api := adminapi.New(adminapi.Config{
		Store: st, Hosted: hs, Auth: e.auth, Now: now, Issuers: testIssuers,
		RepoChanged: func(name string) {
			e.mu.Lock()
			e.changed = append(e.changed, name)
			e.mu.Unlock()
		},
	})
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	e.url = srv.URL
	e.admin = e.mint(t, registry.Scope{Actions: []registry.Action{registry.Admin}})
	for _, name := range []string{"local", "other"} {
		if err := st.Repos().Create(ctx, &registry.Repository{Name: name, Kind: registry.Hosted}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *testEnv) mint(t *testing.T, sc registry.Scope) string {
	t.Helper()
	secret, _, err := e.auth.Mint(t.Context(), auth.MintRequest{Scope: sc, Origin: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

func (e *testEnv) client(token string) *adminapi.Client {
	return adminapi.NewClient(e.url, token, nil)
}

// addRelease stores files of project==version in repo directly, as an
// upload would have.
func (e *testEnv) addRelease(t *testing.T, repo, project, version string, filenames ...string) {
	t.Helper()
	ctx := t.Context()
	r, err := e.st.Repos().Get(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := e.st.Projects().Ensure(ctx, registry.Project{RepoID: r.ID, Name: pypi.Normalize(project), DisplayName: project})
	if err != nil {
		t.Fatal(err)
	}
	v, err := pypi.ParseVersion(version)
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range filenames {
		f := registry.File{RepoID: r.ID, ProjectID: p.ID, Filename: fn, Version: version, Release: v.Canonical(),
			Filetype: registry.Wheel, Size: 1, SHA256: fmt.Sprintf("%x", sha256.Sum256([]byte(repo+"/"+fn)))} // one content per file, as uploads require
		if err := e.st.Files().Add(ctx, &f); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *testEnv) file(t *testing.T, repo, filename string) (registry.File, error) {
	t.Helper()
	r, err := e.st.Repos().Get(t.Context(), repo)
	if err != nil {
		t.Fatal(err)
	}
	return e.st.Files().GetByFilename(t.Context(), r.ID, filename)
}

func (e *testEnv) auditActions(t *testing.T, f store.AuditFilter) []string {
	t.Helper()
	evs, err := e.st.Audit().List(t.Context(), f)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Action+" "+ev.Target)
	}
	slices.Sort(out)
	return out
}

// raw sends a request and returns the status and decoded JSON error body.
func raw(t *testing.T, method, url, authz, body string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" && resp.StatusCode != http.StatusNoContent {
		t.Errorf("%s %s: Content-Type %q, want application/json", method, url, ct)
	}
	var e struct {
		Error struct{ Code, Message string }
	}
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e.Error.Code, e.Error.Message
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("__token__:"+e.admin))
	for _, tt := range []struct {
		name, method, path, authz string
		status                    int
		code, msg                 string
	}{
		{"no token", "GET", "/api/v1/repos", "", 401, "unauthenticated", "the admin API needs a token"},
		{"no token on unknown repo", "DELETE", "/api/v1/repos/nope", "", 401, "unauthenticated", "needs a token"},
		{"bad token", "GET", "/api/v1/whoami", "Bearer wharf_nope", 401, "unauthenticated", "invalid or expired token"},
		{"password", "GET", "/api/v1/whoami", "Basic " + base64.StdEncoding.EncodeToString([]byte("bob:pw")), 401, "unauthenticated", "use username __token__"},
		{"bearer", "GET", "/api/v1/whoami", "Bearer " + e.admin, 200, "", ""},
		{"basic __token__", "GET", "/api/v1/whoami", basic, 200, "", ""},
		{"unknown route", "GET", "/api/v1/nope", "Bearer " + e.admin, 404, "not found", "no such API route: GET /api/v1/nope"},
		{"wrong method", "PUT", "/api/v1/repos", "Bearer " + e.admin, 404, "not found", "no such API route: PUT /api/v1/repos"},
		{"unknown route without token", "GET", "/api/v1/", "", 404, "not found", "no such API route"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, code, msg := raw(t, tt.method, e.url+tt.path, tt.authz, "")
			if status != tt.status || code != tt.code || !strings.Contains(msg, tt.msg) {
				t.Errorf("got %d %q %q, want %d %q containing %q", status, code, msg, tt.status, tt.code, tt.msg)
			}
		})
	}
}

func TestWhoami(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sc := registry.Scope{Repos: []string{"local"}, Projects: []string{"acme"}, Actions: []registry.Action{registry.Read, registry.Upload}}
	tok := e.mint(t, sc)
	got, err := e.client(tok).Whoami(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got.TokenID == "" || !strings.Contains(tok, got.TokenID) {
		t.Errorf("token ID %q is not part of the token", got.TokenID)
	}
	if diff := cmp.Diff(sc, got.Scope); diff != "" {
		t.Errorf("scope (-want +got):\n%s", diff)
	}
}

func TestRepoPermissions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	read := e.mint(t, registry.Scope{Actions: []registry.Action{registry.Read}})
	localRead := e.mint(t, registry.Scope{Repos: []string{"local"}, Actions: []registry.Action{registry.Read}})
	localAdmin := e.mint(t, registry.Scope{Repos: []string{"local"}, Actions: []registry.Action{registry.Admin}})
	upload := e.mint(t, registry.Scope{Actions: []registry.Action{registry.Upload}})

	for _, tt := range []struct {
		name  string
		token string
		call  func(ctx context.Context, c *adminapi.Client) error
		kind  errs.Kind // errs.Internal: success
		msg   string
	}{
		{"read token lists", read, listOnly, 0, ""},
		{"upload token cannot list", upload, listOnly, errs.PermissionDenied, "does not have the 'read' permission"},
		{"read token cannot create", read, create("new"), errs.PermissionDenied, "does not have the 'admin' permission"},
		{"repo admin cannot create", localAdmin, create("new"), errs.PermissionDenied, "admin token without limits"},
		{"repo read token cannot read other repo", localRead, get("other"), errs.PermissionDenied, "isn't allowed to access repository 'other'"},
		{"repo read token reads its repo", localRead, get("local"), 0, ""},
		{"read token cannot patch", read, patch("local"), errs.PermissionDenied, "'admin' permission"},
		{"repo admin patches its repo", localAdmin, patch("local"), 0, ""},
		{"repo admin cannot delete other", localAdmin, del("other"), errs.PermissionDenied, "repository 'other'"},
		{"admin creates", e.admin, create("new"), 0, ""},
		{"duplicate", e.admin, create("local"), errs.Conflict, "repository 'local' already exists"},
		{"reserved name", e.admin, create("api"), errs.Invalid, "invalid repository name \"api\""},
		{"bad name", e.admin, create("Has Space"), errs.Invalid, "invalid repository name"},
		{"virtual without members", e.admin, func(ctx context.Context, c *adminapi.Client) error {
			_, err := c.CreateRepo(ctx, adminapi.CreateRepoRequest{Name: "all", Kind: "virtual"})
			return err
		}, errs.Invalid, "virtual repository 'all' needs members"},
		{"missing repo", e.admin, get("nope"), errs.NotFound, "repository 'nope' does not exist"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(t.Context(), e.client(tt.token))
			if tt.kind == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if got := errs.KindOf(err); got != tt.kind || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("got %v (%v), want %v containing %q", err, got, tt.kind, tt.msg)
			}
		})
	}

	// A repository-scoped token only sees its repositories.
	repos, err := e.client(localRead).ListRepos(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(repos) != 1 || repos[0].Name != "local" {
		t.Errorf("repository-scoped list = %+v, want only local", repos)
	}
}

func listOnly(ctx context.Context, c *adminapi.Client) error { _, err := c.ListRepos(ctx); return err }

func create(name string) func(context.Context, *adminapi.Client) error {
	return func(ctx context.Context, c *adminapi.Client) error {
		_, err := c.CreateRepo(ctx, adminapi.CreateRepoRequest{Name: name})
		return err
	}
}

func get(name string) func(context.Context, *adminapi.Client) error {
	return func(ctx context.Context, c *adminapi.Client) error { _, err := c.GetRepo(ctx, name); return err }
}

func patch(name string) func(context.Context, *adminapi.Client) error {
	return func(ctx context.Context, c *adminapi.Client) error {
		d := "patched"
		_, err := c.UpdateRepo(ctx, name, adminapi.UpdateRepoRequest{Description: &d})
		return err
	}
}

func del(name string) func(context.Context, *adminapi.Client) error {
	return func(ctx context.Context, c *adminapi.Client) error { return c.DeleteRepo(ctx, name) }
}

func TestRepoRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	c := e.client(e.admin)
	made, err := c.CreateRepo(ctx, adminapi.CreateRepoRequest{Name: "team", Public: true, Description: "team packages"})
	if err != nil {
		t.Fatal(err)
	}
	want := adminapi.Repo{Name: "team", Kind: "hosted", Public: true, Description: "team packages", CreatedAt: epoch}
	if diff := cmp.Diff(want, made); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	got, err := c.GetRepo(ctx, "team")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("get (-want +got):\n%s", diff)
	}
	private := false
	upd, err := c.UpdateRepo(ctx, "team", adminapi.UpdateRepoRequest{Public: &private})
	if err != nil {
		t.Fatal(err)
	}
	want.Public = false
	if diff := cmp.Diff(want, upd); diff != "" {
		t.Errorf("updated (-want +got):\n%s", diff)
	}
	list, err := c.ListRepos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range list {
		names = append(names, r.Name)
	}
	if diff := cmp.Diff([]string{"local", "other", "team"}, names); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
	if err := c.DeleteRepo(ctx, "team"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetRepo(ctx, "team"); !errs.Is(err, errs.NotFound) {
		t.Errorf("get after delete: %v, want not found", err)
	}
	if err := c.DeleteRepo(ctx, "team"); !errs.Is(err, errs.NotFound) {
		t.Errorf("second delete: %v, want not found", err)
	}
	e.mu.Lock()
	changed := slices.Clone(e.changed)
	e.mu.Unlock()
	if diff := cmp.Diff([]string{"team", "team", "team"}, changed); diff != "" {
		t.Errorf("RepoChanged calls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"repo.create ", "repo.delete ", "repo.update "}, e.auditActions(t, store.AuditFilter{Repo: "team"})); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

func TestBadBodies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tt := range []struct{ name, path, body, msg string }{
		{"empty", "/api/v1/repos", "", "needs a JSON body"},
		{"unknown field", "/api/v1/repos", `{"name":"x","publik":true}`, `unknown field "publik"`},
		{"two values", "/api/v1/repos", `{"name":"x"}{}`, "more than one JSON value"},
		{"bad lifetime", "/api/v1/tokens", `{"actions":["read"],"expires_in":"soon"}`, `lifetime "soon" is not valid`},
		{"negative lifetime", "/api/v1/tokens", `{"actions":["read"],"expires_in":-5}`, "out of range"},
		{"no actions", "/api/v1/tokens", `{}`, "a token needs at least one action"},
		{"unknown action", "/api/v1/tokens", `{"actions":["fly"]}`, `unknown action "fly"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, code, msg := raw(t, "POST", e.url+tt.path, "Bearer "+e.admin, tt.body)
			if status != 400 || code != "invalid" || !strings.Contains(msg, tt.msg) {
				t.Errorf("got %d %q %q, want 400 invalid containing %q", status, code, msg, tt.msg)
			}
		})
	}
}
