package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wharf-dev/wharf/internal/devissuer"
)

// TestLogin is the CodeArtifact-style flow of seed 001 end to end: a trust
// policy created with `wharf policy create`, then in a tag-triggered job
// `wharf login --tool pip` and a real pip install of a private package
// from a read-only repository, `wharf login --tool twine --github-env`
// and a real twine upload, and a branch the policy excludes refused with
// a message naming the claim.
func TestLogin(t *testing.T) {
	t.Parallel()
	const private, project = "private-lib", "login-demo"
	claims := devissuer.Example("acme", "1234", "widgets", "5678", "release.yml", "refs/tags/v2.0.0")
	s := startTrustedServer(t, claims)
	s.admin(t, "repo", "create", "deps", "--private")

	// A private dependency, uploaded by an administrator.
	wheel := makeWheel(t, private, "1.0")
	u := upload{project: private, version: "1.0", filetype: "bdist_wheel", filename: modName(private) + "-1.0-py3-none-any.whl", token: s.Admin, repo: "deps"}
	resp, err := s.client.Do(u.request(t, s.server, bytes.NewReader(wheel), int64(len(wheel)), sha256hex(wheel)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("admin upload to deps: %s %s", resp.Status, body)
	}

	// Tags of acme (pinned by ID) may read deps and upload to local.
	policy := filepath.Join(t.TempDir(), "release.yaml")
	os.WriteFile(policy, []byte(`name: acme-release
issuer: dev
match:
  - claim: repository_owner_id
    equals: "1234"
  - claim: repository
    equals: acme/widgets
  - claim: ref
    like: refs/tags/v*
grant:
  repositories: [deps, local]
  actions: [read, upload]
  ttl: 30m
`), 0o600)
	out := s.admin(t, "policy", "create", "-f", policy)
	if !strings.Contains(out, "created policy acme-release (allow on dev): read,upload deps,local for 30m") {
		t.Errorf("policy create printed:\n%s", out)
	}
	if out := s.admin(t, "policy", "list"); !strings.Contains(out, "ref like refs/tags/v*") {
		t.Errorf("policy list:\n%s", out)
	}

	runner := []string{"ACTIONS_ID_TOKEN_REQUEST_URL=" + s.RequestURL, "ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + s.RequestToken}
	login := func(t *testing.T, env []string, args ...string) cmdResult {
		return runCmd(t, cmdSpec{name: s.bin, args: append([]string{"login", "--server", s.URL, "--ca-file", s.CA}, args...), env: append(env, runner...)})
	}

	t.Run("pip install from a read-only repository", func(t *testing.T) {
		r := login(t, []string{"TMPDIR=" + t.TempDir()}, "--tool", "pip", "--repo", "deps")
		r.mustSucceed(t)
		m := regexp.MustCompile(`(?m)^export PIP_CONFIG_FILE='([^']+)'$`).FindStringSubmatch(r.stdout)
		if m == nil {
			t.Fatalf("no PIP_CONFIG_FILE export:\n%s", r)
		}
		if st, err := os.Stat(m[1]); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("pip.conf %s: %v %v, want mode 0600", m[1], st.Mode(), err)
		}
		if !strings.Contains(r.stderr, "repo:deps:read") || !strings.Contains(r.stderr, "expires at") {
			t.Errorf("login does not say what it got and until when:\n%s", r)
		}
		py := python(t, "pip")
		target := filepath.Join(t.TempDir(), "target")
		runCmd(t, cmdSpec{name: py, args: []string{"-m", "pip", "install", "--disable-pip-version-check", "--no-cache-dir", "--no-input",
			"--no-deps", "--target", target, private + "==1.0"}, env: []string{"PIP_CONFIG_FILE=" + m[1]}}).mustSucceed(t)
		if v := installedVersion(t, target, modName(private)); v != "1.0" {
			t.Errorf("pip installed %s, want 1.0", v)
		}
		// The token reads deps and nothing else: no upload.
		tok := regexp.MustCompile(`__token__:([^@]+)@`).FindStringSubmatch(readFile(t, m[1]))
		if tok == nil {
			t.Fatalf("no token in %s", m[1])
		}
		if status, msg := s.uploadWith(t, tok[1], project, "0.1"); status != http.StatusForbidden {
			t.Errorf("upload with the pip token: %d %s, want 403", status, msg)
		}
	})

	t.Run("twine upload in GitHub Actions", func(t *testing.T) {
		tmp := t.TempDir()
		ghEnv := filepath.Join(tmp, "github_env")
		r := login(t, []string{"GITHUB_ACTIONS=true", "GITHUB_ENV=" + ghEnv, "RUNNER_TEMP=" + tmp}, "--tool", "twine", "--github-env")
		r.mustSucceed(t)
		tok, ok := strings.CutPrefix(strings.TrimSpace(r.stdout), "::add-mask::")
		if !ok || tok == "" || strings.Contains(tok, "\n") {
			t.Fatalf("stdout is not exactly ::add-mask::<token>:\n%s", r)
		}
		if strings.Contains(r.stderr, tok) {
			t.Errorf("the token is on stderr:\n%s", r)
		}
		var env []string
		for _, line := range strings.Split(strings.TrimSpace(readFile(t, ghEnv)), "\n") {
			env = append(env, line)
		}
		if !slices.Contains(env, "TWINE_PASSWORD="+tok) || !slices.Contains(env, "TWINE_USERNAME=__token__") {
			t.Fatalf("$GITHUB_ENV:\n%s", strings.Join(env, "\n"))
		}
		dir := t.TempDir()
		files := map[string][]byte{
			modName(project) + "-2.0.0-py3-none-any.whl": makeWheel(t, project, "2.0.0"),
			modName(project) + "-2.0.0.tar.gz":           makeSdist(t, project, "2.0.0"),
		}
		var paths []string
		for name, b := range files {
			p := filepath.Join(dir, name)
			os.WriteFile(p, b, 0o644)
			paths = append(paths, p)
		}
		twine := requireTool(t, "twine")
		runCmd(t, cmdSpec{name: twine, args: append([]string{"upload", "--non-interactive", "--disable-progress-bar"}, paths...), env: env}).mustSucceed(t)
		got := s.indexFiles(t, project)
		for name := range files {
			if !slices.Contains(got, name) {
				t.Errorf("%s not in the index after twine upload: %v", name, got)
			}
		}
	})

	t.Run("a branch the policy excludes", func(t *testing.T) {
		branch := claims
		branch.Ref, branch.RefType = "refs/heads/main", "branch"
		branch.WorkflowRef = "acme/widgets/.github/workflows/release.yml@refs/heads/main"
		s.setClaims(t, branch)
		defer s.setClaims(t, claims)
		r := login(t, []string{"TMPDIR=" + t.TempDir()}, "--tool", "pip", "--repo", "deps")
		r.mustFail(t)
		for _, want := range []string{`claim "ref" is "refs/heads/main" in your token`, "wrong branch or tag", "ref: refs/heads/main"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("refusal lacks %q:\n%s", want, r)
			}
		}
		// The administrator's view: which matcher failed, expected and actual.
		cf := filepath.Join(t.TempDir(), "claims.json")
		b, _ := json.Marshal(map[string]any{"iss": s.Issuer, "repository_owner_id": "1234", "repository": "acme/widgets", "ref": "refs/heads/main"})
		os.WriteFile(cf, b, 0o600)
		out := s.admin(t, "policy", "test", "--claims", cf, "--repo", "deps")
		for _, want := range []string{`FAIL ref like "refs/tags/v*": actual "refs/heads/main"`, "would be granted: nothing", "repo:deps:read: NOT granted"} {
			if !strings.Contains(out, want) {
				t.Errorf("policy test lacks %q:\n%s", want, out)
			}
		}
	})
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
