package cli

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/config"
	"github.com/wharf-dev/wharf/internal/devissuer"
	"github.com/wharf-dev/wharf/internal/oidc"
	"github.com/wharf-dev/wharf/internal/server"
)

// tpServer is a real wharf over TLS trusting a development issuer, with one
// GitHub publisher: octo-org/octo-repo's release.yml may publish "demo" in
// repository local.
type tpServer struct {
	url, caFile string
	dev         *devIssuer
	srv         *server.Server
	ts          *httptest.Server
}

func newTPServer(t *testing.T) *tpServer { t.Helper(); return newTPServerWith(t, nil) }

// newTPServerWith is newTPServer with the configuration changed by edit
// (nil: unchanged).
func newTPServerWith(t *testing.T, edit func(*config.Config)) *tpServer {
	t.Helper()
	dev, err := startDevIssuer("127.0.0.1:0", defaultClaims(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	dir := t.TempDir()
	sf := serveFlags{data: dir}
	cfg, err := sf.load(Env{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	cfg.OIDC.Publishers = []config.Publisher{{Repo: "local", Project: "demo", GitHub: &config.GitHubPublisher{
		Issuer: dev.iss.URL(), Owner: "octo-org", OwnerID: "10", Repository: "octo-repo", Workflow: "release.yml",
	}}}
	if edit != nil {
		edit(cfg)
	}
	srv, err := server.New(t.Context(), cfg, slog.New(slog.DiscardHandler), server.Options{ExtraIssuers: []oidc.IssuerConfig{dev.IssuerConfig()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ts := httptest.NewTLSServer(srv.Handler())
	t.Cleanup(ts.Close)
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return &tpServer{url: ts.URL, caFile: ca, dev: dev, srv: srv, ts: ts}
}

// githubEnv is what a GitHub runner with id-token: write exports.
func (s *tpServer) githubEnv() map[string]string {
	return map[string]string{
		"GITHUB_ACTIONS":                 "true",
		"ACTIONS_ID_TOKEN_REQUEST_URL":   s.dev.iss.RequestURL(),
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": s.dev.iss.RequestToken(),
	}
}

func (s *tpServer) publishArgs(files ...string) []string {
	return append([]string{"publish", "--repository-url", s.url + "/local/legacy/", "--ca-file", s.caFile}, files...)
}

// indexFiles lists the filenames of project in repository local.
func (s *tpServer) indexFiles(t *testing.T, project string) []string {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url+"/local/simple/"+project+"/", nil)
	req.Header.Set("Accept", "application/vnd.pypi.simple.v1+json")
	resp, err := s.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil
	}
	var page struct {
		Files []struct {
			Filename string `json:"filename"`
		} `json:"files"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range page.Files {
		out = append(out, f.Filename)
	}
	return out
}

// writeDists writes a wheel and an sdist of project/version into a new
// dist directory; marker changes the bytes but not the names.
func writeDists(t *testing.T, project, version, marker string) (dir string, files []string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "dist")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	mod := strings.ReplaceAll(project, "-", "_")
	meta := fmt.Sprintf("Metadata-Version: 2.4\nName: %s\nVersion: %s\nSummary: demo\nRequires-Python: >=3.8\n"+
		"Classifier: Programming Language :: Python :: 3\nClassifier: License :: OSI Approved :: MIT License\n"+
		"Requires-Dist: requests>=2\nLicense-File: LICENSE\nProject-URL: Source, https://example.com/src\n\nThe long description.\n", project, version)

	var wb bytes.Buffer
	zw := zip.NewWriter(&wb)
	info := mod + "-" + version + ".dist-info/"
	for _, f := range [][2]string{
		{mod + "/__init__.py", "MARKER = " + fmt.Sprintf("%q", marker) + "\n"},
		{info + "METADATA", meta},
		{info + "WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
		{info + "licenses/LICENSE", "MIT\n"},
		{info + "RECORD", ""},
	} {
		w, err := zw.Create(f[0])
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, f[1])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	whl := filepath.Join(dir, mod+"-"+version+"-py3-none-any.whl")

	var sb bytes.Buffer
	gz := gzip.NewWriter(&sb)
	tw := tar.NewWriter(gz)
	root := mod + "-" + version + "/"
	for _, f := range [][2]string{
		{root + "PKG-INFO", meta},
		{root + "LICENSE", "MIT\n"},
		{root + mod + "/__init__.py", "MARKER = " + fmt.Sprintf("%q", marker) + "\n"},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f[0], Mode: 0o644, Size: int64(len(f[1]))}); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, f[1])
	}
	tw.Close()
	gz.Close()
	sdist := filepath.Join(dir, mod+"-"+version+".tar.gz")
	for p, b := range map[string][]byte{whl: wb.Bytes(), sdist: sb.Bytes()} {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, []string{whl, sdist}
}

func TestPublishGitHubActions(t *testing.T) {
	t.Parallel()
	s := newTPServer(t)
	dir, files := writeDists(t, "demo", "1.0.0", "one")

	// The default argument is dist/* in the working directory; pass the
	// glob unexpanded, as a shell would when quoting it.
	r := run(t, s.githubEnv(), "", s.publishArgs(filepath.Join(dir, "*"))...)
	if r.code != 0 {
		t.Fatalf("publish: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	first, rest, _ := strings.Cut(r.stdout, "\n")
	token, ok := strings.CutPrefix(first, "::add-mask::")
	if !ok || len(token) < 20 {
		t.Fatalf("stdout does not start with ::add-mask::<token>:\n%s", r.stdout)
	}
	if strings.Contains(rest, token) || strings.Contains(r.stderr, token) {
		t.Errorf("the upload token is printed outside the mask command:\nstdout: %s\nstderr: %s", r.stdout, r.stderr)
	}
	want := "uploaded       demo-1.0.0-py3-none-any.whl\nuploaded       demo-1.0.0.tar.gz\n"
	if diff := cmp.Diff(want, rest); diff != "" {
		t.Errorf("result lines (-want +got):\n%s", diff)
	}
	for _, sub := range []string{"audience \"wharf\"", "the GitHub Actions runtime", "uploading demo-1.0.0.tar.gz", "2 uploaded, 0 already there, 0 refused"} {
		if !strings.Contains(r.stderr, sub) {
			t.Errorf("stderr lacks %q:\n%s", sub, r.stderr)
		}
	}
	if diff := cmp.Diff(basenamesOf(files), s.indexFiles(t, "demo")); diff != "" {
		t.Errorf("index (-want +got):\n%s", diff)
	}

	// Same names, other bytes: refused, unless --skip-existing.
	_, changed := writeDists(t, "demo", "1.0.0", "two")
	r = run(t, s.githubEnv(), "", s.publishArgs(changed...)...)
	if r.code == 0 || !strings.Contains(r.stdout, "refused        demo-1.0.0.tar.gz: 400: File already exists") ||
		!strings.Contains(r.stderr, "2 of 2 files were not uploaded") {
		t.Errorf("re-upload of other bytes: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, s.githubEnv(), "", append(s.publishArgs(changed...), "--skip-existing")...)
	if r.code != 0 || !strings.Contains(r.stdout, "already there  demo-1.0.0-py3-none-any.whl (File already exists") {
		t.Errorf("--skip-existing: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}

func basenamesOf(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}

func TestPublishRefusals(t *testing.T) {
	t.Parallel()
	s := newTPServer(t)
	_, files := writeDists(t, "demo", "1.0.0", "one")
	tokenFile := func(c devissuer.GitHubClaims) string {
		jwt, err := s.dev.iss.Token("wharf", c)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "id-token")
		if err := os.WriteFile(p, []byte(jwt+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	wrongWorkflow := defaultClaims()
	wrongWorkflow.WorkflowRef = "octo-org/octo-repo/.github/workflows/ci.yml@refs/tags/v1.0.0"
	used := tokenFile(defaultClaims())
	mustRun(t, nil, append(s.publishArgs(files...), "--id-token-file", used)...)

	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string // in stderr
	}{
		{
			name: "missing id-token permission",
			env:  map[string]string{"GITHUB_ACTIONS": "true"},
			want: []string{"missing the id-token: write permission", "permissions:\n      id-token: write"},
		},
		{
			name: "no ID token anywhere",
			want: []string{"no ID token: run in GitHub Actions"},
		},
		{
			name: "GitLab without id_tokens",
			env:  map[string]string{"GITLAB_CI": "true"},
			want: []string{"id_tokens:\n      WHARF_ID_TOKEN:\n        aud: wharf"},
		},
		{
			name: "empty --id-token-env",
			args: []string{"--id-token-env", "WHARF_ID_TOKEN"},
			want: []string{"$WHARF_ID_TOKEN is empty or unset"},
		},
		{
			name: "workflow does not match",
			args: []string{"--id-token-file", tokenFile(wrongWorkflow)},
			want: []string{"trusted publishing exchange failed (422 Token request failed):", "* invalid-publisher:", `claim "workflow_ref"`,
				"your ID token's claims:", "  workflow_ref: octo-org/octo-repo/.github/workflows/ci.yml@refs/tags/v1.0.0"},
		},
		{
			name: "ID token used twice",
			args: []string{"--id-token-file", used},
			want: []string{"* invalid-reuse-token:"},
		},
		{
			name: "http to a remote host",
			args: []string{"--repository-url", "http://wharf.example.com/local/legacy/"},
			want: []string{"uses http: trusted publishing sends credentials"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append(s.publishArgs(files...), tc.args...)
			r := run(t, tc.env, "", args...)
			if r.code == 0 {
				t.Fatalf("publish succeeded, want a refusal\nstdout: %s\nstderr: %s", r.stdout, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if strings.Contains(r.stdout, "::add-mask::") {
				t.Errorf("a mask command without GITHUB_ACTIONS or without a token:\n%s", r.stdout)
			}
		})
	}
}

// A token minted for demo uploads nothing of another project.
func TestPublishScopedTokenRefusedForOtherProject(t *testing.T) {
	t.Parallel()
	s := newTPServer(t)
	_, other := writeDists(t, "other", "1.0.0", "one")
	r := run(t, s.githubEnv(), "", s.publishArgs(other...)...)
	if r.code == 0 || !strings.Contains(r.stdout, "refused        other-1.0.0.tar.gz: 403:") {
		t.Fatalf("upload of another project: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if got := s.indexFiles(t, "other"); got != nil {
		t.Errorf("other has files: %v", got)
	}
}

func TestPublishChecksFilesBeforeTheExchange(t *testing.T) {
	t.Parallel()
	s := newTPServer(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "demo-1.0.0-py3-none-any.whl")
	if err := os.WriteFile(bad, []byte("not a zip"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, s.githubEnv(), "", s.publishArgs(bad)...)
	if r.code == 0 || !strings.Contains(r.stderr, "not uploading: 1 file(s) are not valid distributions") {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
	}
	if h := s.dev.iss.Hits(); h.Token != 0 {
		t.Errorf("an ID token was requested (%d times) for a run that could not succeed", h.Token)
	}
	r = run(t, s.githubEnv(), "", s.publishArgs(filepath.Join(dir, "nothing-*"))...)
	if r.code == 0 || !strings.Contains(r.stderr, "no distributions found") {
		t.Errorf("empty glob: exit %d\nstderr: %s", r.code, r.stderr)
	}
}

func TestPublishTrustedPublishingDisabled(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t) // no issuer configured
	_, files := writeDists(t, "demo", "1.0.0", "one")
	r := run(t, map[string]string{"WHARF_SERVER": ts.url}, "", append([]string{"publish", "--id-token", "x.y.z"}, files...)...)
	if r.code == 0 || !strings.Contains(r.stderr, "has trusted publishing disabled") {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
	}
}

func TestUploadFields(t *testing.T) {
	t.Parallel()
	_, files := writeDists(t, "demo", "1.0.0", "one")
	tests := []struct {
		file string
		want [][2]string
	}{
		{files[0], [][2]string{{"filetype", "bdist_wheel"}, {"pyversion", "py3"}}},
		{files[1], [][2]string{{"filetype", "sdist"}, {"pyversion", "source"}}},
	}
	for _, tc := range tests {
		d, err := inspectDist(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]string{}
		for _, kv := range d.fields() {
			got[kv[0]] = append(got[kv[0]], kv[1])
		}
		for _, kv := range tc.want {
			if diff := cmp.Diff([]string{kv[1]}, got[kv[0]]); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s", d.name, kv[0], diff)
			}
		}
		common := map[string][]string{
			":action": {"file_upload"}, "protocol_version": {"1"}, "metadata_version": {"2.4"},
			"name": {"demo"}, "version": {"1.0.0"}, "summary": {"demo"}, "requires_python": {">=3.8"},
			"classifiers":   {"Programming Language :: Python :: 3", "License :: OSI Approved :: MIT License"},
			"requires_dist": {"requests>=2"}, "license_file": {"LICENSE"}, "project_urls": {"Source, https://example.com/src"},
			"description": {"The long description.\n"},
		}
		for k, want := range common {
			if diff := cmp.Diff(want, got[k]); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s", d.name, k, diff)
			}
		}
		if len(got["sha256_digest"][0]) != 64 || len(got["blake2_256_digest"][0]) != 64 {
			t.Errorf("%s digests: %v %v", d.name, got["sha256_digest"], got["blake2_256_digest"])
		}
		if _, ok := got["md5_digest"]; ok {
			t.Errorf("%s sends md5_digest (twine 7 does not)", d.name)
		}
	}
}

func TestFrameParsesAsMultipart(t *testing.T) {
	t.Parallel()
	_, files := writeDists(t, "demo", "1.0.0", "one")
	d, err := inspectDist(files[0])
	if err != nil {
		t.Fatal(err)
	}
	prefix, suffix, ctype := d.frame()
	content, _ := os.ReadFile(files[0])
	body := append(append(append([]byte{}, prefix...), content...), suffix...)
	req := httptest.NewRequest("POST", "/local/legacy/", bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	if err := req.ParseMultipartForm(1 << 20); err != nil {
		t.Fatal(err)
	}
	fh := req.MultipartForm.File["content"]
	if len(fh) != 1 || fh[0].Filename != d.name || fh[0].Size != d.size {
		t.Fatalf("content part: %+v", fh)
	}
	if got := req.FormValue("sha256_digest"); got != d.sha256 {
		t.Errorf("sha256_digest = %q, want %q", got, d.sha256)
	}
}

func TestAudienceEnvName(t *testing.T) {
	t.Parallel()
	for aud, want := range map[string]string{
		"pypi":                    "PYPI_ID_TOKEN",
		"wharf:wharf.example.com": "WHARF_WHARF_EXAMPLE_COM_ID_TOKEN",
		"http://test.audience":    "HTTP___TEST_AUDIENCE_ID_TOKEN",
	} {
		if got := audienceEnvName(aud); got != want {
			t.Errorf("audienceEnvName(%q) = %q, want %q", aud, got, want)
		}
	}
}

func TestAtLeast(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v    string
		want bool
	}{{"2.4", true}, {"2.5", true}, {"3.0", true}, {"2.3", false}, {"1.2", false}, {"x", false}, {"2", false}} {
		if got := atLeast(tc.v, 2, 4); got != tc.want {
			t.Errorf("atLeast(%q, 2, 4) = %v", tc.v, got)
		}
	}
}

func TestPublishRepositoryURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		f          publishFlags
		env        map[string]string
		upload     string
		root, fail string
	}{
		{name: "explicit", f: publishFlags{repositoryURL: "https://w.example.com/team/legacy/"}, upload: "https://w.example.com/team/legacy/", root: "https://w.example.com"},
		{name: "behind a path prefix", f: publishFlags{repositoryURL: "https://w.example.com:8443/pypi/local/legacy/"}, upload: "https://w.example.com:8443/pypi/local/legacy/", root: "https://w.example.com:8443"},
		{name: "from env", f: publishFlags{repo: "local"}, env: map[string]string{"WHARF_REPOSITORY_URL": "https://a.example/local/legacy/"}, upload: "https://a.example/local/legacy/", root: "https://a.example"},
		{name: "server and repo", f: publishFlags{repo: "team"}, env: map[string]string{"WHARF_SERVER": "https://b.example/"}, upload: "https://b.example/team/legacy/", root: "https://b.example"},
		{name: "loopback http", f: publishFlags{repo: "local"}, upload: "http://127.0.0.1:8080/local/legacy/", root: "http://127.0.0.1:8080"},
		{name: "remote http", f: publishFlags{repositoryURL: "http://w.example.com/local/legacy/"}, fail: "uses http"},
		{name: "credentials", f: publishFlags{repositoryURL: "https://u:p@w.example.com/local/legacy/"}, fail: "must not carry a user name"},
		{name: "bad repo", f: publishFlags{repo: "Bad Repo"}, fail: "is not a repository name"},
		{name: "relative", f: publishFlags{repositoryURL: "/local/legacy/"}, fail: "must be an absolute https URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.f.prepare(Env{Getenv: func(k string) string { return tc.env[k] }})
			if tc.fail != "" {
				if err == nil || !strings.Contains(err.Error(), tc.fail) {
					t.Fatalf("err = %v, want %q", err, tc.fail)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.uploadURL != tc.upload || p.root != tc.root {
				t.Errorf("upload %q root %q, want %q %q", p.uploadURL, p.root, tc.upload, tc.root)
			}
		})
	}
}

func TestTokenClaims(t *testing.T) {
	t.Parallel()
	iss, err := devissuer.New(devissuer.Config{Issuer: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	c := defaultClaims()
	c.Environment = "pypi"
	jwt, err := iss.Token("wharf", c)
	if err != nil {
		t.Fatal(err)
	}
	got := tokenClaims(jwt)
	for _, want := range []string{"  iss: http://127.0.0.1:1\n", "  aud: wharf\n", "  repository_owner_id: 10\n", "  environment: pypi\n",
		"  workflow_ref: octo-org/octo-repo/.github/workflows/release.yml@refs/tags/v1.0.0\n"} {
		if !strings.Contains(got+"\n", want) {
			t.Errorf("tokenClaims lacks %q:\n%s", want, got)
		}
	}
	if tokenClaims("not-a-jwt") != "" {
		t.Error("tokenClaims of garbage is not empty")
	}
}

// Issue 19: `wharf publish` (mint-token) and `wharf login` (RFC 8693)
// against a real server: a deny policy beats the matching publisher, and a
// deny that cannot be evaluated denies.
func TestPublishAndLoginObeyDenyPolicies(t *testing.T) {
	t.Parallel()
	s := newTPServerWith(t, func(cfg *config.Config) {
		cfg.OIDC.Policies = []config.Policy{
			{Name: "no-prs", Issuer: devIssuerName, Effect: "deny", Match: []config.PolicyMatcher{{Claim: "event_name", In: []string{"pull_request"}}}},
			{Name: "hosted-only", Issuer: devIssuerName, Effect: "deny", Condition: `claims.runner_environment != "github-hosted"`},
		}
	})
	_, files := writeDists(t, "demo", "1.0.0", "one")
	tokenFile := func(mut func(*devissuer.GitHubClaims)) string {
		c := defaultClaims()
		c.Extra = map[string]any{"runner_environment": "github-hosted"}
		mut(&c)
		jwt, err := s.dev.iss.Token("wharf", c)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "id-token")
		if err := os.WriteFile(p, []byte(jwt), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pr := func(c *devissuer.GitHubClaims) { c.EventName = "pull_request" }
	selfHosted := func(c *devissuer.GitHubClaims) { c.Extra = nil }
	for _, tc := range []struct {
		name string
		mut  func(*devissuer.GitHubClaims)
		want string
	}{
		{"deny beats a matching publisher", pr, `deny policy "no-prs" matches`},
		{"a deny that errors denies", selfHosted, `deny policy "hosted-only" cannot be evaluated`},
	} {
		r := run(t, nil, "", append(s.publishArgs(files...), "--id-token-file", tokenFile(tc.mut))...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: wharf publish exit %d\nstderr: %s", tc.name, r.code, r.stderr)
		}
		_, stderr, err := runLogin(t, nil, "--server", s.url, "--ca-file", s.caFile, "--id-token-file", tokenFile(tc.mut))
		if err == nil || !strings.Contains(err.Error()+stderr, tc.want) {
			t.Errorf("%s: wharf login: %v\nstderr: %s", tc.name, err, stderr)
		}
	}
	if got := s.indexFiles(t, "demo"); len(got) != 0 {
		t.Errorf("denied publishes uploaded %v", got)
	}
	// The same publisher publishes when no deny applies.
	mustRun(t, nil, append(s.publishArgs(files...), "--id-token-file", tokenFile(func(*devissuer.GitHubClaims) {}))...)
}
