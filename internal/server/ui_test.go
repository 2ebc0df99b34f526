package server_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/config"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/server"
)

// uiWorld is a server with a public repository "pub" and a private one
// "priv" holding projects "alpha" and "beta", behind a real listener.
type uiWorld struct {
	srv *server.Server
	hs  *httptest.Server
}

func newUIWorld(t *testing.T) *uiWorld {
	t.Helper()
	cfg := embeddedConfig(t)
	// Trusted (never contacted here): publishers must name a known issuer.
	cfg.OIDC.Issuers = []config.Issuer{{Name: "github", URL: "https://token.actions.githubusercontent.com", Kind: "github"}}
	cfg.Repositories = []config.Repository{
		{Name: "pub", Kind: registry.Hosted, Public: new(true), Description: "open to all"},
		{Name: "priv", Kind: registry.Hosted, Public: new(false), Description: "secret stuff"},
	}
	srv, err := server.New(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	priv, err := srv.Store.Repos().Get(t.Context(), "priv")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"alpha", "beta"} {
		if _, _, err := srv.Store.Projects().Ensure(t.Context(), registry.Project{RepoID: priv.ID, Name: p, DisplayName: p}); err != nil {
			t.Fatal(err)
		}
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &uiWorld{srv: srv, hs: hs}
}

func (w *uiWorld) mint(t *testing.T, scope registry.Scope) string {
	t.Helper()
	secret, _, err := w.srv.Auth.Mint(t.Context(), auth.MintRequest{Scope: scope, Description: "ui test", Origin: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// browser is a client with cookies that does not follow redirects.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string, accept string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func post(t *testing.T, c *http.Client, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn signs c in with token through the form, as a person would.
func (w *uiWorld) signIn(t *testing.T, c *http.Client, token string) *http.Response {
	t.Helper()
	_, body := get(t, c, w.hs.URL+"/ui/signin", "")
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("sign-in page has no CSRF token:\n%s", body)
	}
	resp, _ := post(t, c, w.hs.URL+"/ui/signin", url.Values{"csrf": {m[1]}, "token": {token}, "next": {"/ui/"}})
	return resp
}

func TestUIRootRedirectsBrowsersOnly(t *testing.T) {
	t.Parallel()
	w := newUIWorld(t)
	c := browser(t)
	resp, _ := get(t, c, w.hs.URL+"/", "text/html,application/xhtml+xml,*/*;q=0.8")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("browser at /: %d %q, want 302 to /ui/", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, accept := range []string{"", "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"} {
		resp, _ := get(t, c, w.hs.URL+"/", accept)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("client (Accept %q) at /: %d, want the API's 404", accept, resp.StatusCode)
		}
	}
	resp, body := get(t, c, w.hs.URL+"/pub/simple/", "text/html")
	if resp.StatusCode != http.StatusOK || strings.Contains(body, "/ui/static/") {
		t.Errorf("/pub/simple/ for a browser: %d, want the simple index unchanged", resp.StatusCode)
	}
}

func TestUISecurityHeaders(t *testing.T) {
	t.Parallel()
	w := newUIWorld(t)
	for _, path := range []string{"/ui/", "/ui/signin", "/ui/r/pub/", "/ui/no/such/page", "/ui/static/style.css"} {
		resp, _ := get(t, browser(t), w.hs.URL+path, "")
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows inline code: %q", path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" {
			t.Errorf("%s: headers %v", path, h)
		}
	}
}

func TestUIAnonymousNeverSeesPrivate(t *testing.T) {
	t.Parallel()
	w := newUIWorld(t)
	c := browser(t)
	_, home := get(t, c, w.hs.URL+"/ui/", "")
	if !strings.Contains(home, "/ui/r/pub/") {
		t.Errorf("home does not list the public repository:\n%s", home)
	}
	_, search := get(t, c, w.hs.URL+"/ui/search?q=alpha", "")
	for page, body := range map[string]string{"home": home, "search": search} {
		if strings.Contains(body, "priv") || strings.Contains(body, "secret stuff") || strings.Contains(body, "alpha") && page == "home" {
			t.Errorf("%s shows the private repository to an anonymous visitor:\n%s", page, body)
		}
	}
	if strings.Contains(search, "/ui/r/priv/") {
		t.Error("search finds a private project for an anonymous visitor")
	}
	for _, path := range []string{"/ui/r/priv/", "/ui/r/priv/alpha/", "/ui/r/nosuch/"} {
		resp, body := get(t, c, w.hs.URL+path, "")
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "does not exist") {
			t.Errorf("%s: %d, want the same 404 as a missing repository", path, resp.StatusCode)
		}
	}
}

func TestUISignInSessionAndScopes(t *testing.T) {
	t.Parallel()
	w := newUIWorld(t)
	admin := w.mint(t, registry.Scope{Actions: []registry.Action{registry.Admin}})
	c := browser(t)
	resp := w.signIn(t, c, admin)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "wharf_session" {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Value == "" || strings.Contains(cookie.Value, admin) {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, not the token", cookie)
	}
	_, home := get(t, c, w.hs.URL+"/ui/", "")
	if !strings.Contains(home, "/ui/r/priv/") {
		t.Errorf("signed-in admin does not see the private repository:\n%s", home)
	}
	_, repo := get(t, c, w.hs.URL+"/ui/r/priv/", "")
	if !strings.Contains(repo, "/ui/r/priv/alpha/") || !strings.Contains(repo, "/ui/r/priv/beta/") {
		t.Errorf("admin repository page lacks projects:\n%s", repo)
	}

	// A form sent without its CSRF token is refused, and changes nothing.
	resp, _ = post(t, c, w.hs.URL+"/ui/signout", url.Values{})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-out without CSRF token: %d, want 403", resp.StatusCode)
	}
	_, home = get(t, c, w.hs.URL+"/ui/", "")
	m := csrfRe.FindStringSubmatch(home)
	if m == nil || !strings.Contains(home, "Sign out") {
		t.Fatal("still signed in after a refused sign-out: no sign-out form")
	}
	resp, _ = post(t, c, w.hs.URL+"/ui/signout", url.Values{"csrf": {m[1]}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("sign-out: %d", resp.StatusCode)
	}
	// The old cookie no longer works even if a browser kept it.
	c2 := browser(t)
	u, _ := url.Parse(w.hs.URL + "/ui/")
	c2.Jar.SetCookies(u, []*http.Cookie{{Name: "wharf_session", Value: cookie.Value, Path: "/ui/"}})
	_, home = get(t, c2, w.hs.URL+"/ui/", "")
	if strings.Contains(home, "/ui/r/priv/") {
		t.Error("a signed-out session still sees the private repository")
	}

	// A token limited to one project sees that project only.
	scoped := w.mint(t, registry.Scope{Repos: []string{"priv"}, Projects: []string{"alpha"}, Actions: []registry.Action{registry.Read}})
	c3 := browser(t)
	w.signIn(t, c3, scoped)
	_, repo = get(t, c3, w.hs.URL+"/ui/r/priv/", "")
	if !strings.Contains(repo, "/ui/r/priv/alpha/") || strings.Contains(repo, "beta") {
		t.Errorf("project-scoped token's repository page:\n%s", repo)
	}
	_, search := get(t, c3, w.hs.URL+"/ui/search?q=a", "")
	if strings.Contains(search, "beta") {
		t.Error("search shows a project the token may not read")
	}
	if resp, _ := get(t, c3, w.hs.URL+"/ui/r/priv/beta/", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("project-scoped token reading another project: %d, want 404", resp.StatusCode)
	}

	// A revoked token's session ends at its next request.
	if err := w.srv.Auth.Revoke(t.Context(), strings.Split(scoped, "_")[1]); err != nil {
		t.Fatal(err)
	}
	_, repo = get(t, c3, w.hs.URL+"/ui/r/priv/", "")
	if strings.Contains(repo, "alpha") {
		t.Error("a revoked token's session still reads the private repository")
	}
}

func TestUISignInRefusals(t *testing.T) {
	t.Parallel()
	w := newUIWorld(t)
	c := browser(t)
	// No CSRF token (no pre-session cookie either): refused.
	resp, _ := post(t, c, w.hs.URL+"/ui/signin", url.Values{"token": {"x"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in without CSRF token: %d, want 403", resp.StatusCode)
	}
	// A cross-site POST is refused before anything else.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, w.hs.URL+"/ui/signin", strings.NewReader("token=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, err := c.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site sign-in: %v %v, want 403", resp, err)
	}
	// A wrong token: 401 and a plain explanation.
	resp = w.signIn(t, c, "wharf_aaaaaaaaaaaaaaaa_bogus")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("sign-in with a bad token: %d, want 401", resp.StatusCode)
	}
}

func TestUIPublishersAddRemove(t *testing.T) {
	t.Parallel()
	w := newUIWorld(t)
	c := browser(t)
	w.signIn(t, c, w.mint(t, registry.Scope{Actions: []registry.Action{registry.Admin}}))
	_, page := get(t, c, w.hs.URL+"/ui/publishers", "")
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("publishers page has no form:\n%s", page)
	}
	form := url.Values{"csrf": {m[1]}, "kind": {"github"}, "repo": {"priv"}, "project": {"alpha"},
		"owner": {"octo"}, "owner_id": {"42"}, "repository": {"demo"}, "workflow": {"release.yml"}}
	// Without the workflow the admin API refuses it, and the form says why.
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Del("workflow")
	resp, body := post(t, c, w.hs.URL+"/ui/publishers", bad)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `role="alert"`) {
		t.Errorf("publisher without workflow: %d, want 400 with the reason", resp.StatusCode)
	}
	resp, _ = post(t, c, w.hs.URL+"/ui/publishers", form)
	if resp.StatusCode != http.StatusSeeOther {
		_, body := post(t, c, w.hs.URL+"/ui/publishers", form)
		t.Fatalf("adding a publisher: %d\n%s", resp.StatusCode, regexp.MustCompile(`role="alert">[^<]*`).FindString(body))
	}
	pubs, err := w.srv.Store.Publishers().List(t.Context(), "priv", "alpha")
	if err != nil || len(pubs) != 1 {
		t.Fatalf("stored publishers: %v %v", pubs, err)
	}
	_, page = get(t, c, w.hs.URL+"/ui/publishers", "")
	if !strings.Contains(page, "octo/demo, workflow release.yml") {
		t.Errorf("publisher not listed:\n%s", page)
	}
	resp, _ = post(t, c, w.hs.URL+"/ui/publishers/"+strconv.FormatInt(pubs[0].ID, 10)+"/remove", url.Values{"csrf": {m[1]}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("removing: %d", resp.StatusCode)
	}
	if pubs, _ := w.srv.Store.Publishers().List(t.Context(), "priv", "alpha"); len(pubs) != 0 {
		t.Errorf("publisher still stored after removal: %v", pubs)
	}
}
