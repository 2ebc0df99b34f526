package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wharf-dev/wharf/internal/devissuer"
)

func TestClaimFlags(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "claims.json")
	if err := os.WriteFile(file, []byte(`{"repository": "acme/widgets", "repository_owner_id": "7", "repository_id": "8",
		"workflow_ref": "acme/widgets/.github/workflows/publish.yml@refs/heads/main", "ref": "refs/heads/main", "event_name": "push"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    claimFlags
		want devissuer.GitHubClaims
		fail string
	}{
		{name: "defaults", want: defaultClaims()},
		{
			name: "flags",
			f:    claimFlags{repository: "acme/widgets", ownerID: "1234", repositoryID: "5678", workflow: "release.yml", ref: "refs/heads/main", environment: "pypi", event: "workflow_dispatch"},
			want: devissuer.GitHubClaims{
				Repository: "acme/widgets", RepositoryOwner: "acme", RepositoryOwnerID: "1234", RepositoryID: "5678",
				WorkflowRef: "acme/widgets/.github/workflows/release.yml@refs/heads/main", Ref: "refs/heads/main", RefType: "branch",
				Environment: "pypi", EventName: "workflow_dispatch", Actor: "acme",
				SHA: defaultClaims().SHA, RunID: "4242", RunAttempt: "1",
			},
		},
		{
			name: "file",
			f:    claimFlags{file: file},
			want: devissuer.GitHubClaims{
				Repository: "acme/widgets", RepositoryOwner: "acme", RepositoryOwnerID: "7", RepositoryID: "8",
				WorkflowRef: "acme/widgets/.github/workflows/publish.yml@refs/heads/main", Ref: "refs/heads/main", RefType: "branch", EventName: "push",
			},
		},
		{
			name: "file, then a flag rebuilds workflow_ref with the file's workflow",
			f:    claimFlags{file: file, ref: "refs/tags/v2"},
			want: devissuer.GitHubClaims{
				Repository: "acme/widgets", RepositoryOwner: "acme", RepositoryOwnerID: "7", RepositoryID: "8",
				WorkflowRef: "acme/widgets/.github/workflows/publish.yml@refs/tags/v2", Ref: "refs/tags/v2", RefType: "tag", EventName: "push",
			},
		},
		{name: "bad repository", f: claimFlags{repository: "widgets"}, fail: "must be OWNER/NAME"},
		{name: "bad workflow", f: claimFlags{workflow: "a/b.yml"}, fail: "must be a file name"},
		{name: "missing file", f: claimFlags{file: filepath.Join(t.TempDir(), "nope.json")}, fail: "reading claims"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.f.claims()
			if tc.fail != "" {
				if err == nil || !strings.Contains(err.Error(), tc.fail) {
					t.Fatalf("err = %v, want %q", err, tc.fail)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(devissuer.GitHubClaims{}, "Extra")); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseClaimsRefusesUnknownKeys(t *testing.T) {
	t.Parallel()
	_, err := parseClaims([]byte(`{"repository": "a/b", "owner_id": "1"}`), "c.json")
	if err == nil || !strings.Contains(err.Error(), `unknown field "owner_id"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestStartDevIssuerLoopbackOnly(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:0", ":0", "example.com:0"} {
		if d, err := startDevIssuer(addr, defaultClaims(), nil); err == nil {
			d.Close()
			t.Errorf("startDevIssuer(%q) succeeded; want loopback only", addr)
		}
	}
}

// syncBuffer is written by a running command while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestDevIssuerCommand runs `wharf dev-issuer`, follows what it prints the
// way a runner's client would, and checks the token's claims and that a
// claims file is read again at every request.
func TestDevIssuerCommand(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "claims.json")
	writeClaims := func(workflow string) {
		c := devissuer.Example("acme", "1234", "widgets", "5678", workflow, "refs/tags/v1.0.0")
		b, _ := json.Marshal(c)
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeClaims("release.yml")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	exited := make(chan int, 1)
	go func() {
		exited <- Main(ctx, []string{"dev-issuer", "--claims", file, "--environment", "pypi"}, Env{
			Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" },
		})
	}()
	exportRE := regexp.MustCompile(`export (ACTIONS_ID_TOKEN_REQUEST_\w+)='([^']+)'`)
	var vars map[string]string
	for deadline := time.Now().Add(10 * time.Second); ; {
		if m := exportRE.FindAllStringSubmatch(out.String(), -1); len(m) == 2 {
			vars = map[string]string{m[0][1]: m[0][2], m[1][1]: m[1][2]}
			break
		}
		select {
		case code := <-exited:
			t.Fatalf("dev-issuer exited %d\nstdout: %s\nstderr: %s", code, out.String(), errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("dev-issuer printed no variables:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	claimsOf := func() map[string]any {
		req, _ := http.NewRequest("GET", vars["ACTIONS_ID_TOKEN_REQUEST_URL"]+"&audience=wharf:test", nil)
		req.Header.Set("Authorization", "bearer "+vars["ACTIONS_ID_TOKEN_REQUEST_TOKEN"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var res struct{ Value string }
		if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != 200 {
			t.Fatalf("token endpoint: %d %v", resp.StatusCode, err)
		}
		parts := strings.Split(res.Value, ".")
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.Unmarshal(payload, &m)
		return m
	}
	c := claimsOf()
	for k, want := range map[string]string{
		"aud": "wharf:test", "repository": "acme/widgets", "repository_owner_id": "1234", "environment": "pypi",
		"workflow_ref": "acme/widgets/.github/workflows/release.yml@refs/tags/v1.0.0",
	} {
		if c[k] != want {
			t.Errorf("claim %s = %v, want %q", k, c[k], want)
		}
	}
	// The file is read again at each request, the flags applied on top.
	writeClaims("other.yml")
	if c := claimsOf(); c["workflow_ref"] != "acme/widgets/.github/workflows/other.yml@refs/tags/v1.0.0" || c["environment"] != "pypi" {
		t.Errorf("after editing the claims file: workflow_ref = %v, environment = %v", c["workflow_ref"], c["environment"])
	}
	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("dev-issuer exited %d after cancel: %s", code, errOut.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("dev-issuer still running 5s after its context ended")
	}
}

func TestServeDevFlagsNeedDevIssuer(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--dev-claims", "c.json"}, {"--dev-issuer-listen", "127.0.0.1:0"}} {
		r := run(t, nil, "", append([]string{"serve", "--data", t.TempDir()}, args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, "needs --dev-issuer") {
			t.Errorf("serve %v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}
