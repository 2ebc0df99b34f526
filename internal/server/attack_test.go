package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharf-dev/wharf/internal/config"
	"github.com/wharf-dev/wharf/internal/devissuer"
	"github.com/wharf-dev/wharf/internal/oidc"
	"github.com/wharf-dev/wharf/internal/oidc/oidctest"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/server"
	"github.com/wharf-dev/wharf/internal/store"
)

// TestMintTokenEndpointAttackSuite runs the trusted-publishing attack suite
// against the real HTTP endpoint of a whole server: SQLite store, stored
// publishers, the database replay store, the auth service minting tokens.
func TestMintTokenEndpointAttackSuite(t *testing.T) {
	t.Parallel()
	oidctest.Run(t, func(t *testing.T, w *oidctest.World) oidctest.Endpoint {
		srv := newWorldServer(t, w)
		hs := httptest.NewServer(srv.Handler())
		t.Cleanup(hs.Close)
		return httpEndpoint{url: hs.URL + "/_/oidc/mint-token"}
	})
}

// newOIDCServer builds a whole server on SQLite in a temporary directory
// that trusts the world's issuers, with the hosted repository "main".
func newOIDCServer(tb testing.TB, w *oidctest.World) *server.Server {
	tb.Helper()
	cfg := embeddedConfig(tb)
	cfg.OIDC.Audience = w.Audience
	cfg.Repositories = []config.Repository{{Name: "main", Kind: registry.Hosted}}
	srv, err := server.New(tb.Context(), cfg, slog.New(slog.DiscardHandler), server.Options{ExtraIssuers: w.Config.Issuers, Now: w.Now, Sleep: w.Config.Sleep})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	return srv
}

// embeddedConfig is the default configuration on a temporary data
// directory: SQLite and local files.
func embeddedConfig(tb testing.TB) *config.Config {
	tb.Helper()
	cfg, err := config.Default(func(string) string { return "" })
	if err != nil {
		tb.Fatal(err)
	}
	cfg.DataDir = tb.TempDir()
	cfg.Database.DSN = config.Secret(filepath.Join(cfg.DataDir, "wharf.db"))
	cfg.Blobs.Dir = filepath.Join(cfg.DataDir, "blobs")
	return cfg
}

// newWorldServer is newOIDCServer with the world's existing projects and
// publishers stored.
func newWorldServer(t testing.TB, w *oidctest.World) *server.Server {
	t.Helper()
	srv := newOIDCServer(t, w)
	storeWorld(t, srv, w)
	return srv
}

// storeWorld stores the world's existing projects and publishers.
func storeWorld(t testing.TB, srv *server.Server, w *oidctest.World) {
	t.Helper()
	ctx := t.Context()
	repo, err := srv.Store.Repos().Get(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range w.ExistingProjects {
		if _, _, err := srv.Store.Projects().Ensure(ctx, registry.Project{RepoID: repo.ID, Name: p.Project, DisplayName: p.Project}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range w.Publishers {
		rec, err := p.Record()
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Store.Publishers().Create(ctx, &rec); err != nil {
			t.Fatal(err)
		}
	}
}

// Issue 19: on every HTTP way to a wharf token (mint-token, its GitHub
// alias, the RFC 8693 exchange, which `wharf publish` and `wharf login`
// use), a deny policy beats a matching publisher, and a deny that cannot
// be evaluated denies. A token neither deny catches gets through, so the
// refusals are the denies' doing.
func TestDenyBindsEveryPath(t *testing.T) {
	t.Parallel()
	k := oidctest.NewKeys(5)
	paths := []struct {
		name string
		ep   func(base string) oidctest.Endpoint
	}{
		{"mint-token", func(base string) oidctest.Endpoint { return httpEndpoint{url: base + "/_/oidc/mint-token"} }},
		{"github mint-token", func(base string) oidctest.Endpoint { return httpEndpoint{url: base + "/_/oidc/github/mint-token"} }},
		{"token exchange", func(base string) oidctest.Endpoint { return exchangeHTTP{url: base + "/api/v1/token/exchange"} }},
	}
	denies := []oidc.Policy{
		{Name: "no-prs", Issuer: "github", Effect: oidc.EffectDeny, Match: []oidc.Matcher{{Claim: "event_name", In: []string{"pull_request"}}}},
		{Name: "hosted-only", Issuer: "github", Effect: oidc.EffectDeny, Condition: `claims.runner_environment != "github-hosted"`},
	}
	hosted := func(m map[string]any) { m["runner_environment"] = "github-hosted" }
	for _, p := range paths {
		for _, tc := range []struct {
			name string
			mut  func(map[string]any)
			want oidctest.Want
		}{
			{"deny beats a matching publisher", func(m map[string]any) { hosted(m); m["event_name"] = "pull_request" },
				oidctest.Want{Code: oidc.CodeInvalidPublisher, Contains: []string{`deny policy "no-prs" matches`}}},
			{"a deny that errors denies", func(m map[string]any) { delete(m, "runner_environment") },
				oidctest.Want{Code: oidc.CodeInvalidPublisher, Contains: []string{`deny policy "hosted-only" cannot be evaluated`}}},
			{"no deny applies", hosted, oidctest.Want{OK: true}},
		} {
			t.Run(p.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				w := oidctest.NewWorld(t, k)
				s := newPolicyServer(t, w, denies...)
				storeWorld(t, s.Server, w)
				tok := w.Token(t, w.GitHub, w.Claims(w.GitHub, tc.mut), devissuer.SignOptions{})
				oidctest.Expect(t, p.ep(s.url), tok, tc.want)
			})
		}
	}
}

type httpEndpoint struct{ url string }

func (e httpEndpoint) Exchange(ctx context.Context, raw string) (bool, string, string) {
	body, _ := json.Marshal(map[string]string{"token": raw})
	req, _ := http.NewRequestWithContext(ctx, "POST", e.url, bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, "error", err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct {
		Success bool   `json:"success"`
		Token   string `json:"token"`
		Errors  []struct {
			Code        string `json:"code"`
			Description string `json:"description"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return false, "error", string(b)
	}
	if resp.StatusCode == http.StatusOK && out.Success && out.Token != "" {
		return true, "", ""
	}
	if resp.StatusCode != http.StatusUnprocessableEntity || len(out.Errors) == 0 {
		return false, "error", resp.Status + " " + string(b)
	}
	return false, out.Errors[0].Code, out.Errors[0].Description
}

// A stored deny policy that no longer decodes (edited in the database, or
// written by another version) cannot be evaluated, so it denies.
func TestUnreadableStoredDenyPolicyDenies(t *testing.T) {
	t.Parallel()
	w := oidctest.NewWorld(t, nil)
	srv := newWorldServer(t, w)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	ep := httpEndpoint{url: hs.URL + "/_/oidc/mint-token"}
	rec := store.PolicyRecord{Name: "broken", Issuer: w.GitHub.URL(), Config: []byte(`{"effect":"deny","match":[{"claim":42}]}`), CreatedBy: "test"}
	if err := srv.Store.Policies().Create(t.Context(), &rec); err != nil {
		t.Fatal(err)
	}
	tok := w.Token(t, w.GitHub, w.Claims(w.GitHub, nil), devissuer.SignOptions{})
	oidctest.Expect(t, ep, tok, oidctest.Want{Code: oidc.CodeInvalidPublisher, Contains: []string{`deny policy "broken" cannot be evaluated`, "does not decode"}})
}

// Issue 11 item 3: over HTTP, a policy without an event_name matcher gives
// a workflow_run job read only; the upload it asks for is refused, and an
// explicit privileged_events opt-in gives it back.
func TestPolicyEventGuardHTTP(t *testing.T) {
	t.Parallel()
	w := oidctest.NewWorld(t, nil)
	pol := releasePolicy(w)
	s := newPolicyServer(t, w, pol)
	u := s.url + "/api/v1/token/exchange"
	workflowRun := func() string {
		return w.Token(t, w.GitHub, w.Claims(w.GitHub, func(m map[string]any) { m["event_name"] = "workflow_run" }), devissuer.SignOptions{})
	}
	if status, body := postForm(t.Context(), u, exchangeForm(workflowRun(), "repo:main:upload")); status != http.StatusBadRequest ||
		!strings.Contains(string(body), "repo:main:upload was requested") {
		t.Errorf("upload for a workflow_run job: %d %s", status, body)
	}
	if status, body := postForm(t.Context(), u, exchangeForm(workflowRun(), "repo:main:read")); status != http.StatusOK {
		t.Errorf("read for a workflow_run job: %d %s", status, body)
	}
	if status, body := s.api(t, "DELETE", "/api/v1/policies/"+pol.Name, nil); status != http.StatusNoContent {
		t.Fatalf("%d %s", status, body)
	}
	pol.PrivilegedEvents = []string{"workflow_run"}
	status, body := s.api(t, "POST", "/api/v1/policies", pol)
	if status != http.StatusCreated || !strings.Contains(string(body), "privileged_events workflow_run") {
		t.Fatalf("opt-in policy: %d %s", status, body)
	}
	if status, body := postForm(t.Context(), u, exchangeForm(workflowRun(), "repo:main:upload")); status != http.StatusOK {
		t.Errorf("upload for a workflow_run job with the opt-in: %d %s", status, body)
	}
}

// Issue 11 item 11: a flood of garbage at mint-token writes a bounded
// number of audit rows; an accepted exchange is still audited.
func TestRefusalFloodAuditIsBoundedHTTP(t *testing.T) {
	t.Parallel()
	w := oidctest.NewWorld(t, nil)
	srv := newWorldServer(t, w)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	ep := httpEndpoint{url: hs.URL + "/_/oidc/mint-token"}
	for range 3 * oidc.AuditRefusalsPerMinute {
		oidctest.Expect(t, ep, "not.a.jwt", oidctest.Want{Code: oidc.CodeInvalidPayload})
	}
	oidctest.Expect(t, ep, w.Token(t, w.GitHub, w.Claims(w.GitHub, nil), devissuer.SignOptions{}), oidctest.Want{OK: true})
	evs, err := srv.Store.Audit().List(t.Context(), store.AuditFilter{Action: "oidc.mint", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]int{}
	for _, e := range evs {
		outcomes[e.Outcome]++
	}
	if outcomes["refused"] != oidc.AuditRefusalsPerMinute || outcomes["ok"] != 1 {
		t.Errorf("audit rows by outcome %v; want %d refused and 1 ok", outcomes, oidc.AuditRefusalsPerMinute)
	}
}
