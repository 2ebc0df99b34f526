package devissuer_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/devissuer"
)

func TestTokenEndpointAndDiscovery(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	claims := devissuer.Example("acme", "1001", "widgets", "2002", "release.yml", "refs/heads/main")
	iss, err := devissuer.New(devissuer.Config{Now: func() time.Time { return now }, Claims: claims, RequestToken: "rt"})
	if err != nil {
		t.Fatal(err)
	}
	u, stop, err := iss.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	get := func(url, auth string, v any) int {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if v != nil {
			_ = json.NewDecoder(resp.Body).Decode(v)
		}
		return resp.StatusCode
	}
	var disc map[string]any
	if code := get(u+"/.well-known/openid-configuration", "", &disc); code != 200 || disc["issuer"] != u || disc["jwks_uri"] != u+"/.well-known/jwks" {
		t.Fatalf("discovery %d %v", code, disc)
	}
	var jwks struct{ Keys []map[string]any }
	if code := get(u+"/.well-known/jwks", "", &jwks); code != 200 || len(jwks.Keys) != 2 {
		t.Fatalf("jwks %d %v", code, jwks)
	}
	if code := get(iss.RequestURL()+"&audience=wharf", "bearer wrong", nil); code != http.StatusUnauthorized {
		t.Errorf("token with a wrong request token: status %d, want 401", code)
	}
	var out struct{ Value string }
	if code := get(iss.RequestURL()+"&audience=wharf", "Bearer rt", &out); code != 200 {
		t.Fatalf("token: status %d", code)
	}
	parts := strings.Split(out.Value, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a compact JWS", out.Value)
	}
	var h, c map[string]any
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	_ = json.Unmarshal(hb, &h)
	_ = json.Unmarshal(cb, &c)
	if h["alg"] != "RS256" || h["kid"] != iss.RSAKeyID() {
		t.Errorf("header %v", h)
	}
	got := map[string]any{"iss": c["iss"], "aud": c["aud"], "sub": c["sub"], "job_workflow_ref": c["job_workflow_ref"], "life": c["exp"].(float64) - c["iat"].(float64), "owner_id": c["repository_owner_id"]}
	want := map[string]any{"iss": u, "aud": "wharf", "sub": "repo:acme/widgets:ref:refs/heads/main", "job_workflow_ref": claims.WorkflowRef, "life": 300.0, "owner_id": "1001"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	if c["jti"] == "" || c["jti"] == nil {
		t.Error("no jti")
	}
	if _, err := iss.RotateKey(); err != nil {
		t.Fatal(err)
	}
	if code := get(u+"/.well-known/jwks", "", &jwks); code != 200 || len(jwks.Keys) != 3 {
		t.Errorf("after rotation jwks has %d keys, want 3 (old key kept)", len(jwks.Keys))
	}
	if hits := iss.Hits(); hits != (devissuer.Hits{Discovery: 1, JWKS: 2, Token: 2}) {
		t.Errorf("hits %+v", hits)
	}
	if _, _, err := iss.Start("0.0.0.0:0"); err == nil {
		t.Error("Start on a non-loopback address: want an error")
	}
}

func TestSubject(t *testing.T) {
	t.Parallel()
	base := devissuer.Example("o", "1", "r", "2", "w.yml", "refs/tags/v1")
	env := base
	env.Environment = "a:b"
	pr := base
	pr.EventName = "pull_request"
	for _, tc := range []struct {
		c    devissuer.GitHubClaims
		want string
	}{
		{base, "repo:o/r:ref:refs/tags/v1"},
		{env, "repo:o/r:environment:a%3Ab"},
		{pr, "repo:o/r:pull_request"},
	} {
		if got := tc.c.Subject(); got != tc.want {
			t.Errorf("Subject() = %q, want %q", got, tc.want)
		}
	}
}
