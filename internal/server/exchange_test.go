package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/config"
	"github.com/wharf-dev/wharf/internal/devissuer"
	"github.com/wharf-dev/wharf/internal/oidc"
	"github.com/wharf-dev/wharf/internal/oidc/oidctest"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/server"
)

// TestTokenExchangeEndpointAttackSuite runs the attack suite against POST
// /api/v1/token/exchange of a whole server: the same verifier, replay
// store and publishers as mint-token, through the RFC 8693 form.
func TestTokenExchangeEndpointAttackSuite(t *testing.T) {
	t.Parallel()
	oidctest.Run(t, func(t *testing.T, w *oidctest.World) oidctest.Endpoint {
		srv := newWorldServer(t, w)
		hs := httptest.NewServer(srv.Handler())
		t.Cleanup(hs.Close)
		return exchangeHTTP{url: hs.URL + "/api/v1/token/exchange"}
	})
}

// exchangeHTTP adapts the RFC 8693 endpoint to the suite: an RFC 6749
// error body's wharf_code is the refusal code.
type exchangeHTTP struct{ url, scope string }

func (e exchangeHTTP) Exchange(ctx context.Context, raw string) (bool, string, string) {
	status, body := postForm(ctx, e.url, exchangeForm(raw, e.scope))
	var out struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Code        string `json:"wharf_code"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return false, "error", string(body)
	}
	if status == http.StatusOK && out.AccessToken != "" {
		return true, "", ""
	}
	if status != http.StatusBadRequest || out.Error == "" || out.Code == "" {
		return false, "error", string(body)
	}
	return false, out.Code, out.Description
}

func exchangeForm(raw, scope string) string {
	v := url.Values{"grant_type": {oidc.GrantTypeTokenExchange}, "subject_token": {raw}, "subject_token_type": {oidc.TokenTypeIDToken}}
	if scope != "" {
		v.Set("scope", scope)
	}
	return v.Encode()
}

func postForm(ctx context.Context, u, body string) (int, []byte) {
	req, _ := http.NewRequestWithContext(ctx, "POST", u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// policyServer is a whole server with the repositories main and deps, an
// admin token and the policies ps created through the API.
type policyServer struct {
	*server.Server
	url, admin string
	w          *oidctest.World
}

func newPolicyServer(t testing.TB, w *oidctest.World, ps ...oidc.Policy) *policyServer {
	t.Helper()
	srv := newOIDCServer(t, w)
	ctx := context.Background()
	if err := srv.Store.Repos().Create(ctx, &registry.Repository{Name: "deps", Kind: registry.Hosted}); err != nil {
		t.Fatal(err)
	}
	admin, _, err := srv.Auth.Mint(ctx, auth.MintRequest{Scope: registry.Scope{Actions: []registry.Action{registry.Admin}}, Description: "test", Origin: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	s := &policyServer{Server: srv, url: hs.URL, admin: admin, w: w}
	for _, p := range ps {
		if status, body := s.api(t, "POST", "/api/v1/policies", p); status != http.StatusCreated {
			t.Fatalf("creating policy %s: %d %s", p.Name, status, body)
		}
	}
	return s
}

func (s *policyServer) api(t testing.TB, method, path string, in any) (int, []byte) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.url+path, body)
	req.Header.Set("Authorization", "Bearer "+s.admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func str(s string) *string { return &s }

// releasePolicy trusts acme (by ID) on tags: read deps, upload main.
func releasePolicy(w *oidctest.World) oidc.Policy {
	return oidc.Policy{Name: "acme-release", Issuer: "github", Match: []oidc.Matcher{
		{Claim: "repository_owner_id", Equals: str(w.Good.RepositoryOwnerID)},
		{Claim: "ref", Like: str("refs/tags/v*")},
	}, Grant: oidc.Grants{Repositories: []string{"deps", "main"}, Actions: []registry.Action{registry.Read, registry.Upload}, TTL: oidc.Duration(30 * time.Minute)}}
}

func TestTokenExchangeHTTP(t *testing.T) {
	t.Parallel()
	w := oidctest.NewWorld(t, nil)
	s := newPolicyServer(t, w, releasePolicy(w))
	good := func() string { return w.Token(t, w.GitHub, w.Claims(w.GitHub, nil), devissuer.SignOptions{}) }
	branch := func() string {
		return w.Token(t, w.GitHub, w.Claims(w.GitHub, func(m map[string]any) { m["ref"] = "refs/heads/main" }), devissuer.SignOptions{})
	}
	type answer struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		IssuedType  string `json:"issued_token_type"`
		ExpiresIn   int64  `json:"expires_in"`
		Scope       string `json:"scope"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Code        string `json:"wharf_code"`
	}
	u := s.url + "/api/v1/token/exchange"
	for _, tc := range []struct {
		name   string
		body   func() string
		status int
		want   answer // AccessToken: "set" when any token is expected
		desc   string // substring of error_description
	}{
		{name: "everything granted", body: func() string { return exchangeForm(good(), "") }, status: 200,
			want: answer{AccessToken: "set", TokenType: "Bearer", IssuedType: oidc.TokenTypeAccessToken, ExpiresIn: 1800,
				Scope: "repo:deps:read repo:deps:upload repo:main:read repo:main:upload"}},
		{name: "narrowed to read one repository", body: func() string { return exchangeForm(good(), "repo:deps:read") }, status: 200,
			want: answer{AccessToken: "set", TokenType: "Bearer", IssuedType: oidc.TokenTypeAccessToken, ExpiresIn: 1800, Scope: "repo:deps:read"}},
		{name: "narrowed to one project", body: func() string { return exchangeForm(good(), "repo:main/Demo_Pkg:upload") }, status: 200,
			want: answer{AccessToken: "set", TokenType: "Bearer", IssuedType: oidc.TokenTypeAccessToken, ExpiresIn: 1800, Scope: "repo:main/demo-pkg:upload"}},
		{name: "more than granted", body: func() string { return exchangeForm(good(), "repo:main:delete") }, status: 400,
			want: answer{Error: "invalid_scope", Code: oidc.CodeInvalidScope}, desc: "repo:main:delete was requested"},
		{name: "malformed scope", body: func() string { return exchangeForm(good(), "main:read") }, status: 400,
			want: answer{Error: "invalid_scope", Code: oidc.CodeInvalidScope}, desc: "must look like repo:NAME:ACTION"},
		{name: "excluded branch names the claim", body: func() string { return exchangeForm(branch(), "") }, status: 400,
			want: answer{Error: "invalid_grant", Code: oidc.CodeInvalidPublisher}, desc: `claim "ref" is "refs/heads/main" in your token`},
		{name: "wrong grant type", body: func() string {
			return url.Values{"grant_type": {"client_credentials"}, "subject_token": {"x"}, "subject_token_type": {oidc.TokenTypeIDToken}}.Encode()
		}, status: 400, want: answer{Error: "unsupported_grant_type", Code: oidc.CodeInvalidPayload}, desc: "grant_type must be"},
		{name: "wrong subject token type", body: func() string {
			return url.Values{"grant_type": {oidc.GrantTypeTokenExchange}, "subject_token": {"x"}, "subject_token_type": {oidc.TokenTypeAccessToken}}.Encode()
		}, status: 400, want: answer{Error: "invalid_request", Code: oidc.CodeInvalidPayload}, desc: "subject_token_type must be"},
		{name: "no subject token", body: func() string {
			return url.Values{"grant_type": {oidc.GrantTypeTokenExchange}, "subject_token_type": {oidc.TokenTypeIDToken}}.Encode()
		}, status: 400, want: answer{Error: "invalid_request", Code: oidc.CodeInvalidPayload}, desc: "subject_token is required"},
		{name: "not a form", body: func() string { return "%zz" }, status: 400,
			want: answer{Error: "invalid_request", Code: oidc.CodeInvalidPayload}, desc: "application/x-www-form-urlencoded"},
		{name: "oversized body", body: func() string { return exchangeForm(strings.Repeat("a", 40<<10), "") }, status: 400,
			want: answer{Error: "invalid_request", Code: oidc.CodeInvalidPayload}, desc: "under 32 KiB"},
		{name: "garbage token", body: func() string { return exchangeForm("not.a.jwt", "") }, status: 400,
			want: answer{Error: "invalid_request", Code: oidc.CodeInvalidPayload}, desc: "malformed JWT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := postForm(t.Context(), u, tc.body())
			var got answer
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("%d %s: %v", status, body, err)
			}
			if status != tc.status {
				t.Errorf("status %d, want %d: %s", status, tc.status, body)
			}
			if got.AccessToken != "" {
				got.AccessToken = "set"
			}
			if got.ExpiresIn > 1790 && got.ExpiresIn <= 1800 {
				got.ExpiresIn = 1800 // seconds pass between mint and answer
			}
			desc := got.Description
			got.Description = ""
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s\n%s", diff, body)
			}
			if !strings.Contains(desc, tc.desc) {
				t.Errorf("error_description %q lacks %q", desc, tc.desc)
			}
		})
	}

	// The minted token is exactly what was asked for: read of deps, no
	// upload.
	status, body := postForm(t.Context(), u, exchangeForm(good(), "repo:deps:read"))
	var a answer
	if json.Unmarshal(body, &a) != nil || status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	p, err := s.Auth.Authenticate(t.Context(), a.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(registry.Scope{Repos: []string{"deps"}, Actions: []registry.Action{registry.Read}}, p.Scope); diff != "" {
		t.Errorf("minted scope (-want +got):\n%s", diff)
	}
}

func TestPolicyRoutesHTTP(t *testing.T) {
	t.Parallel()
	w := oidctest.NewWorld(t, nil)
	s := newPolicyServer(t, w)
	pol := releasePolicy(w)

	status, body := s.api(t, "POST", "/api/v1/policies", pol)
	if status != http.StatusCreated || !strings.Contains(string(body), `"name":"acme-release"`) {
		t.Fatalf("create: %d %s", status, body)
	}
	if status, body := s.api(t, "POST", "/api/v1/policies", pol); status != http.StatusConflict {
		t.Errorf("second create of one name: %d %s, want 409", status, body)
	}

	broad := oidc.Policy{Name: "everyone", Issuer: "github", Match: []oidc.Matcher{{Claim: "ref", Equals: str("refs/heads/main")}},
		Grant: oidc.Grants{Repositories: []string{"main"}, Actions: []registry.Action{registry.Read}}}
	status, body = s.api(t, "POST", "/api/v1/policies", broad)
	if status != http.StatusBadRequest || !strings.Contains(string(body), "pins no owner") {
		t.Errorf("broad policy: %d %s, want 400 naming the missing owner pin", status, body)
	}
	broad.Force = true
	status, body = s.api(t, "POST", "/api/v1/policies", broad)
	if status != http.StatusCreated || !strings.Contains(string(body), "forced") {
		t.Errorf("forced broad policy: %d %s, want 201 with a warning", status, body)
	}
	badCEL := releasePolicy(w)
	badCEL.Name, badCEL.Condition = "bad-cel", "claims.ref +"
	if status, body := s.api(t, "POST", "/api/v1/policies", badCEL); status != http.StatusBadRequest || !strings.Contains(string(body), "condition") {
		t.Errorf("uncompilable condition: %d %s", status, body)
	}

	status, body = s.api(t, "GET", "/api/v1/policies", nil)
	var list []oidc.Policy
	if status != 200 || json.Unmarshal(body, &list) != nil || len(list) != 2 || list[0].Name != "acme-release" || list[1].Name != "everyone" {
		t.Errorf("list: %d %s", status, body)
	}
	status, body = s.api(t, "GET", "/api/v1/policies/acme-release", nil)
	var got oidc.Policy
	if status != 200 || json.Unmarshal(body, &got) != nil || got.Audience != w.Audience || got.Effect != oidc.EffectAllow {
		t.Errorf("get: %d %s", status, body)
	}

	// test explains with the actual and expected claims.
	claims := w.Claims(w.GitHub, func(m map[string]any) { m["ref"] = "refs/heads/dev" })
	status, body = s.api(t, "POST", "/api/v1/policies/test", map[string]any{"claims": claims, "repo": "main", "action": "upload"})
	var res struct {
		Traces  []oidc.Trace `json:"traces"`
		Allowed *bool        `json:"allowed"`
		Granted string       `json:"granted"`
	}
	if status != 200 || json.Unmarshal(body, &res) != nil || res.Allowed == nil {
		t.Fatalf("test: %d %s", status, body)
	}
	var failed *oidc.Check
	for _, tr := range res.Traces {
		if tr.Policy == "acme-release" {
			failed = tr.Failed()
		}
	}
	if failed == nil || failed.Claim != "ref" || failed.Got != "refs/heads/dev" || failed.Want != "refs/tags/v*" || *res.Allowed {
		t.Errorf("test of a branch token: failed check %+v, allowed %v\n%s", failed, *res.Allowed, body)
	}

	// Only unrestricted admins manage policies.
	limited, _, err := s.Auth.Mint(t.Context(), auth.MintRequest{Scope: registry.Scope{Repos: []string{"main"}, Actions: []registry.Action{registry.Admin}}, Origin: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", s.url+"/api/v1/policies", nil)
	req.Header.Set("Authorization", "Bearer "+limited)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("list with a repository admin token: %v %v, want 403", resp.StatusCode, err)
	}

	if status, body := s.api(t, "DELETE", "/api/v1/policies/everyone", nil); status != http.StatusNoContent {
		t.Errorf("remove: %d %s", status, body)
	}
	if status, _ := s.api(t, "GET", "/api/v1/policies/everyone", nil); status != http.StatusNotFound {
		t.Errorf("get after remove: %d, want 404", status)
	}
}

// TestDeclaredPolicies: oidc.policies are created at start, replaced when
// the file changes, and left alone when it does not.
func TestDeclaredPolicies(t *testing.T) {
	t.Parallel()
	w := oidctest.NewWorld(t, nil)
	cfg := embeddedConfig(t)
	cfg.OIDC.Audience = w.Audience
	cfg.Repositories = []config.Repository{{Name: "main", Kind: registry.Hosted}}
	id := w.Good.RepositoryOwnerID
	cfg.OIDC.Policies = []config.Policy{{Name: "declared", Issuer: "github",
		Match: []config.PolicyMatcher{{Claim: "repository_owner_id", Equals: &id}},
		Grant: config.PolicyGrant{Repositories: []string{"main"}, Actions: []string{"read"}}}}
	start := func() *server.Server {
		srv, err := server.New(t.Context(), cfg, slog.New(slog.DiscardHandler), server.Options{ExtraIssuers: w.Config.Issuers, Now: w.Now, Sleep: w.Config.Sleep})
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	srv := start()
	rec, err := srv.Store.Policies().Get(t.Context(), "declared")
	srv.Close()
	if err != nil || rec.CreatedBy != "config" || !strings.Contains(string(rec.Config), `"ttl":"1h0m0s"`) {
		t.Fatalf("declared policy: %+v %v", rec, err)
	}
	srv = start() // unchanged: kept as is
	again, _ := srv.Store.Policies().Get(t.Context(), "declared")
	srv.Close()
	if again.ID != rec.ID {
		t.Errorf("an unchanged declared policy was recreated: id %d → %d", rec.ID, again.ID)
	}
	cfg.OIDC.Policies[0].Grant.Actions = []string{"read", "upload"}
	srv = start()
	changed, _ := srv.Store.Policies().Get(t.Context(), "declared")
	srv.Close()
	if !strings.Contains(string(changed.Config), `"upload"`) {
		t.Errorf("a changed declared policy was not replaced: %s", changed.Config)
	}
	cfg.OIDC.Policies[0].Match = nil // broad: refused at start
	if _, err := server.New(t.Context(), cfg, slog.New(slog.DiscardHandler), server.Options{ExtraIssuers: w.Config.Issuers, Now: w.Now, Sleep: w.Config.Sleep}); err == nil || !strings.Contains(err.Error(), "oidc.policies[0]") {
		t.Errorf("a declared policy without matchers: err = %v", err)
	}
}

// BenchmarkTokenExchangeHTTP measures whole RFC 8693 exchanges over HTTP
// against a real server on SQLite, next to BenchmarkMintTokenHTTP: verify,
// evaluate the trust policies (and publishers), claim the jti, mint and
// store the token, audit.
func BenchmarkTokenExchangeHTTP(b *testing.B) {
	w := oidctest.NewWorld(b, nil)
	s := newPolicyServer(b, w, releasePolicy(w))
	forms := make([]string, b.N+1)
	for i := range forms {
		tok, err := w.GitHub.Token(w.Audience, w.Good) // a fresh jti each
		if err != nil {
			b.Fatal(err)
		}
		forms[i] = exchangeForm(tok, "repo:main:upload")
	}
	var next atomic.Int64
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(s.url+"/api/v1/token/exchange", "application/x-www-form-urlencoded", strings.NewReader(forms[next.Add(1)-1]))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %s", resp.Status)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "exchanges/s")
}
