package httpapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/blob/fsblob"
	"github.com/wharf-dev/wharf/internal/httpapi"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/hosted"
	"github.com/wharf-dev/wharf/internal/registry/virtual"
	"github.com/wharf-dev/wharf/internal/store/sqlstore"
)

// accessEnv is a server with a private hosted repository "team", a public
// hosted one "pub", and a public virtual repository "all" over both (team
// first): the state after "team" was made private while a member of "all".
type accessEnv struct {
	*env
	au    *auth.Service
	admin string // upload+read everywhere
	// sha256 of team's wheel "secret 1.0" and of the wheels of "shared",
	// uploaded to both (team's first).
	secret, sharedTeam, sharedPub string
}

func newAccessEnv(t *testing.T) *accessEnv {
	t.Helper()
	dir := t.TempDir()
	ctx := t.Context()
	st, err := sqlstore.Open(ctx, sqlstore.Config{Driver: "sqlite", DSN: filepath.Join(dir, "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	var all registry.Repository
	for _, r := range []registry.Repository{{Name: "team", Kind: registry.Hosted}, {Name: "pub", Kind: registry.Hosted, Public: true},
		{Name: "all", Kind: registry.Virtual, Public: true}} {
		if err := st.Repos().Create(ctx, &r); err != nil {
			t.Fatal(err)
		}
		all = r
	}
	if err := st.Remote().PutSettings(ctx, all.ID, []byte(`{"virtual":{"members":["team","pub"]}}`)); err != nil {
		t.Fatal(err)
	}
	au := auth.New(auth.Config{Tokens: st.Tokens()})
	h := hosted.New(hosted.Config{Store: st, Blobs: bs, MaxFileSize: 1 << 20})
	var api *httpapi.Server
	vs := virtual.New(virtual.Config{Store: st,
		Repo: func(ctx context.Context, name string) (registry.Repository, error) { return api.Repo(ctx, name) },
		Index: func(kind registry.RepoKind) registry.Index {
			if kind == registry.Hosted {
				return h.Index()
			}
			return nil
		}})
	api = httpapi.New(httpapi.Config{Repos: st.Repos(), Hosted: h, Virtual: vs, Blobs: bs, Auth: au, MaxFileSize: 1 << 20})
	e := &accessEnv{env: &env{api: api, srv: httptest.NewServer(api.Handler())}, au: au}
	t.Cleanup(e.srv.Close)
	e.admin = e.mint(t, registry.Scope{Actions: []registry.Action{registry.Upload, registry.Read}})
	up := func(repo, name string) string {
		fn, content := wheel(t, name, "1.0")
		ct, body := uploadBody(t, name, "1.0", fn, content, nil)
		if resp := e.post(t, repo, e.admin, ct, body); resp.StatusCode != 200 {
			t.Fatalf("upload %s to %s: %s", name, repo, resp.Status)
		}
		sum := sha256.Sum256(content)
		return hex.EncodeToString(sum[:])
	}
	e.secret = up("team", "secret")
	e.sharedTeam = up("team", "shared")
	// "shared" in pub too, with other bytes: who sees team gets team's.
	fn, content := wheel(t, "shared", "2.0")
	ct, body := uploadBody(t, "shared", "2.0", fn, content, nil)
	if resp := e.post(t, "pub", e.admin, ct, body); resp.StatusCode != 200 {
		t.Fatalf("upload shared to pub: %s", resp.Status)
	}
	sum := sha256.Sum256(content)
	e.sharedPub = hex.EncodeToString(sum[:])
	return e
}

func (e *accessEnv) mint(t *testing.T, sc registry.Scope) string {
	t.Helper()
	s, _, err := e.au.Mint(t.Context(), auth.MintRequest{Scope: sc})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *accessEnv) as(t *testing.T, token, path string) (*http.Response, string) {
	t.Helper()
	hdr := map[string]string{"Accept": "application/vnd.pypi.simple.v1+json"}
	if token != "" {
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth("__token__", token)
		hdr["Authorization"] = req.Header.Get("Authorization")
	}
	return e.get(t, path, hdr)
}

// TestVirtualSkipsMembersTheCallerCannotRead: a private member of a public
// virtual repository is skipped for callers who may not read it (anonymous,
// a token scoped to the virtual repository alone) on every route, pages
// cached for a caller who can read it never reach one who cannot, and a bad
// token is refused rather than served the anonymous view.
func TestVirtualSkipsMembersTheCallerCannotRead(t *testing.T) {
	t.Parallel()
	e := newAccessEnv(t)
	read := []registry.Action{registry.Read}
	onlyAll := e.mint(t, registry.Scope{Repos: []string{"all"}, Actions: read})
	both := e.mint(t, registry.Scope{Repos: []string{"all", "team"}, Actions: read})
	secretFile := "/all/files/" + e.secret + "/secret-1.0-py3-none-any.whl"

	// A full reader first, so every cache holds the private member's data.
	for _, p := range []string{"/all/simple/", "/all/simple/secret/", "/all/simple/shared/", secretFile, secretFile + ".metadata", "/all/pypi/secret/json"} {
		if resp, body := e.as(t, e.admin, p); resp.StatusCode != 200 {
			t.Fatalf("full reader %s: %s %s", p, resp.Status, body)
		}
	}
	if _, page := e.as(t, e.admin, "/all/simple/shared/"); !strings.Contains(page, e.sharedTeam) {
		t.Fatalf("full reader gets shared from pub, want team's (first member): %s", page)
	}
	for _, who := range []struct{ name, token string }{{"anonymous", ""}, {"token for all only", onlyAll}} {
		for _, p := range []string{"/all/simple/secret/", secretFile, secretFile + ".metadata", "/all/pypi/secret/json", "/all/pypi/secret/1.0/json"} {
			if resp, body := e.as(t, who.token, p); resp.StatusCode != 404 {
				t.Errorf("%s %s: %s %.200q, want 404", who.name, p, resp.Status, body)
			}
		}
		resp, root := e.as(t, who.token, "/all/simple/")
		if resp.StatusCode != 200 || strings.Contains(root, "secret") || !strings.Contains(root, "shared") {
			t.Errorf("%s root: %s %s, want the public member's names only", who.name, resp.Status, root)
		}
		if resp, page := e.as(t, who.token, "/all/simple/shared/"); resp.StatusCode != 200 || strings.Contains(page, e.sharedTeam) || !strings.Contains(page, e.sharedPub) {
			t.Errorf("%s shared: %s %s, want pub's files only", who.name, resp.Status, page)
		}
		if resp, _ := e.as(t, who.token, "/all/files/"+e.sharedTeam+"/shared-1.0-py3-none-any.whl"); resp.StatusCode != 404 {
			t.Errorf("%s file of team's shared: %s, want 404", who.name, resp.Status)
		}
	}
	resp, page := e.as(t, both, "/all/simple/secret/")
	if resp.StatusCode != 200 || !strings.Contains(page, e.secret) {
		t.Errorf("token for all and team: %s %s", resp.Status, page)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "private") {
		t.Errorf("page of a virtual repository with a private member: Cache-Control %q, want private", cc)
	}
	if resp, _ := e.as(t, both, secretFile); resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Cache-Control"), "private") {
		t.Errorf("private member's file through all: %s Cache-Control %q, want 200 private", resp.Status, resp.Header.Get("Cache-Control"))
	}
	if resp, _ := e.as(t, "wharf_bad_token", "/all/simple/shared/"); resp.StatusCode != 401 {
		t.Errorf("bad token on a public virtual repository: %s, want 401 (not the anonymous view)", resp.Status)
	}
}

// TestOutOfScopeNamesAre404: a project-scoped token gets 404, word for
// word the answer for an absent project, for names outside its patterns,
// on pages and files (uv tries its next index only on 404), and the
// project of a file is the one it is stored under.
func TestOutOfScopeNamesAre404(t *testing.T) {
	t.Parallel()
	e := newAccessEnv(t)
	secretOnly := e.mint(t, registry.Scope{Repos: []string{"team"}, Projects: []string{"shared*"}, Actions: []registry.Action{registry.Read}})
	_, absent := e.as(t, secretOnly, "/team/simple/nothing-here/")
	for _, p := range []string{"/team/simple/secret/", "/team/files/" + e.secret + "/secret-1.0-py3-none-any.whl",
		"/team/files/" + e.secret + "/secret-1.0-py3-none-any.whl.metadata"} {
		resp, body := e.as(t, secretOnly, p)
		if resp.StatusCode != 404 {
			t.Errorf("%s: %s %q, want 404", p, resp.Status, body)
		}
		if strings.Contains(p, "simple") && body != strings.Replace(absent, "nothing-here", "secret", 1) {
			t.Errorf("%s: %q, want the absent project's answer %q", p, body, absent)
		}
	}
	if resp, _ := e.as(t, secretOnly, "/team/simple/shared/"); resp.StatusCode != 200 {
		t.Errorf("in-scope project: %s", resp.Status)
	}
	// A filename naming an in-scope project cannot reach another
	// project's bytes, nor can one that does not parse.
	for _, fn := range []string{"shared-1.0-py3-none-any.whl", "secret.egg", "secret-1.0.tar.bz2"} {
		if resp, _ := e.as(t, secretOnly, "/team/files/"+e.secret+"/"+fn); resp.StatusCode != 404 {
			t.Errorf("secret's bytes as %s: %s, want 404", fn, resp.Status)
		}
	}
}

// TestPostToTheIndexIs405: uv prints its "use the upload URL" hint on 405.
func TestPostToTheIndexIs405(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, p := range []string{"/local/simple/", "/local/simple/demo/"} {
		req, _ := http.NewRequest("POST", e.srv.URL+p, strings.NewReader("x"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST %s: %s Allow %q, want 405 with Allow: GET, HEAD", p, resp.Status, resp.Header.Get("Allow"))
		}
	}
}
