package adminapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/adminapi"
	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/secrets"
	"github.com/wharf-dev/wharf/internal/store/sqlstore"
)

// recorder keeps every response body and log line the API produced.
type recorder struct {
	mu     sync.Mutex
	bodies bytes.Buffer
	logs   bytes.Buffer
}

func (r *recorder) Write(p []byte) (int, error) { // the log
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logs.Write(p)
}

type teeWriter struct {
	http.ResponseWriter
	rec *recorder
}

func (w teeWriter) Write(p []byte) (int, error) {
	w.rec.mu.Lock()
	w.rec.bodies.Write(p)
	w.rec.mu.Unlock()
	return w.ResponseWriter.Write(p)
}

func TestSecretsAPI(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, err := sqlstore.Open(ctx, sqlstore.Config{DSN: filepath.Join(t.TempDir(), "wharf.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rec := &recorder{}
	log := slog.New(slog.NewJSONHandler(rec, &slog.HandlerOptions{Level: slog.LevelDebug}))
	az := auth.New(auth.Config{Tokens: st.Tokens()})
	svc, err := secrets.New(secrets.Config{Store: st, KEK: bytes.Repeat([]byte{7}, 32), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	api := adminapi.New(adminapi.Config{Store: st, Auth: az, Logger: log})
	api.MountSecrets(svc)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.Handler().ServeHTTP(teeWriter{w, rec}, r)
	}))
	t.Cleanup(srv.Close)
	mint := func(sc registry.Scope) string {
		s, _, err := az.Mint(ctx, auth.MintRequest{Scope: sc, Origin: "test"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	admin := mint(registry.Scope{Actions: []registry.Action{registry.Admin}})
	repoAdmin := mint(registry.Scope{Repos: []string{"pypi"}, Actions: []registry.Action{registry.Admin}})
	reader := mint(registry.Scope{Actions: []registry.Action{registry.Read}})
	if err := st.Repos().Create(ctx, &registry.Repository{Name: "pypi", Kind: registry.Remote}); err != nil {
		t.Fatal(err)
	}

	const plain1, plain2 = "pypi-PLAINTEXT-api-one-93b1", "PLAINTEXT-api-two-\u00e9\u00e8"
	c := adminapi.NewClient(srv.URL, admin, nil)
	info, err := c.CreateSecret(ctx, "pypi-token")
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "pypi-token" || len(info.Versions) != 0 {
		t.Errorf("CreateSecret = %+v", info)
	}
	if n, err := c.AddSecretVersion(ctx, "pypi-token", []byte(plain1)); err != nil || n != 1 {
		t.Fatalf("AddSecretVersion = %d, %v", n, err)
	}
	// The value as a plain JSON string works too.
	do := func(token, method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	vbody, _ := json.Marshal(adminapi.AddSecretVersionRequest{Value: plain2})
	if code, body := do(admin, "POST", "/api/v1/secrets/pypi-token/versions", string(vbody)); code != http.StatusCreated || !strings.Contains(body, `"version":2`) {
		t.Fatalf("add version as a string: %d %s", code, body)
	}
	if err := c.GrantSecret(ctx, "pypi-token", "pypi"); err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{"disable", "enable", "destroy"} {
		if err := c.SetSecretVersionState(ctx, "pypi-token", 1, action); err != nil {
			t.Fatalf("%s: %v", action, err)
		}
	}
	if v, n, err := svc.Access(ctx, "pypi", "pypi-token", "latest"); err != nil || string(v) != plain2 || n != 2 {
		t.Fatalf("Access after the API calls = %q, %d, %v", v, n, err)
	}
	list, err := c.ListSecrets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetSecret(ctx, "pypi-token")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(list, []secrets.Info{got}); diff != "" {
		t.Errorf("ListSecrets and GetSecret differ:\n%s", diff)
	}
	var states []string
	for _, v := range got.Versions {
		states = append(states, string(v.State))
	}
	if diff := cmp.Diff([]string{"destroyed", "enabled"}, states); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"pypi"}, got.Grants); diff != "" {
		t.Errorf("grants (-want +got):\n%s", diff)
	}
	if err := c.RevokeSecret(ctx, "pypi-token", "pypi"); err != nil {
		t.Fatal(err)
	}

	// Refusals: no token, a repository-limited admin, a reader, bad input.
	for _, tt := range []struct {
		name, token, method, path, body string
		status                          int
	}{
		{"anonymous list", "", "GET", "/api/v1/secrets", "", 401},
		{"repo admin list", repoAdmin, "GET", "/api/v1/secrets", "", 403},
		{"reader create", reader, "POST", "/api/v1/secrets", `{"name":"x"}`, 403},
		{"reader add version", reader, "POST", "/api/v1/secrets/pypi-token/versions", string(vbody), 403},
		{"repo admin grant", repoAdmin, "PUT", "/api/v1/secrets/pypi-token/grants/pypi", "", 403},
		{"both value fields", admin, "POST", "/api/v1/secrets/pypi-token/versions", `{"value":"a","value_base64":"YQ=="}`, 400},
		{"bad base64", admin, "POST", "/api/v1/secrets/pypi-token/versions", `{"value_base64":"` + plain1 + `"}`, 400},
		{"empty value", admin, "POST", "/api/v1/secrets/pypi-token/versions", `{}`, 400},
		{"unknown field", admin, "POST", "/api/v1/secrets/pypi-token/versions", `{"secret":"` + plain1 + `"}`, 400},
		{"missing secret", admin, "POST", "/api/v1/secrets/nope/versions", string(vbody), 404},
		{"duplicate", admin, "POST", "/api/v1/secrets", `{"name":"pypi-token"}`, 409},
		{"bad name", admin, "POST", "/api/v1/secrets", `{"name":"a b"}`, 400},
		{"bad action", admin, "POST", "/api/v1/secrets/pypi-token/versions/2/reveal", "", 404},
		{"bad version", admin, "POST", "/api/v1/secrets/pypi-token/versions/x/disable", "", 400},
		{"enable destroyed", admin, "POST", "/api/v1/secrets/pypi-token/versions/1/enable", "", 409},
		{"grant missing repo", admin, "PUT", "/api/v1/secrets/pypi-token/grants/nope", "", 404},
		{"revoke twice", admin, "DELETE", "/api/v1/secrets/pypi-token/grants/pypi", "", 404},
	} {
		if code, body := do(tt.token, tt.method, tt.path, tt.body); code != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.name, code, body, tt.status)
		}
	}
	_, err = adminapi.NewClient(srv.URL, reader, nil).ListSecrets(ctx)
	if errs.KindOf(err) != errs.PermissionDenied {
		t.Errorf("reader ListSecrets: %v", err)
	}

	// No response and no log line carries a value, in any encoding the
	// API accepted it in.
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.bodies.Len() == 0 || rec.logs.Len() == 0 {
		t.Fatalf("recorded %d bytes of bodies and %d of logs", rec.bodies.Len(), rec.logs.Len())
	}
	for _, p := range []string{plain1, plain2, base64.StdEncoding.EncodeToString([]byte(plain1)), base64.StdEncoding.EncodeToString([]byte(plain2)), "PLAINTEXT"} {
		if strings.Contains(rec.bodies.String(), p) {
			t.Errorf("a response carries %q", p)
		}
		if strings.Contains(rec.logs.String(), p) {
			t.Errorf("a log line carries %q", p)
		}
	}
}
