package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/devissuer"
)

// TestTrustedPublishing is trusted publishing end to end: a real wharf over
// TLS with its development issuer, the exact exchange
// pypa/gh-action-pypi-publish performs followed by a real twine upload and
// pip install, `wharf publish` as a GitHub job runs it, and the refusals a
// user meets, each visible in `wharf audit`.
func TestTrustedPublishing(t *testing.T) {
	t.Parallel()
	const project = "wharf-demo"
	claims := devissuer.Example("acme", "1234", "widgets", "5678", "release.yml", "refs/tags/v1.0.0")
	s := startTrustedServer(t, claims)
	// Pending: the project does not exist yet; the first exchange creates it.
	s.admin(t, "publisher", "add", "--repo", "local", "--project", project, "--pending", "github", "--issuer", s.Issuer,
		"--owner", "acme", "--owner-id", "1234", "--repository", "widgets", "--workflow", "release.yml")

	t.Run("gh-action exchange, twine upload, pip install", func(t *testing.T) {
		dists := buildDists(t, fixture(t, project, "1.0.0"))
		// research/pypi-protocols.md §2.2, step by step.
		aud := s.audience(t)
		if aud != "wharf" {
			t.Errorf("audience = %q, want the default \"wharf\" (no public_url)", aud)
		}
		token := s.mustMint(t, s.idToken(t, aud))

		twine := requireTool(t, "twine")
		r := runCmd(t, cmdSpec{name: twine, args: append([]string{"upload", "--non-interactive", "--verbose", "--disable-progress-bar",
			"--repository-url", s.URL + "/local/legacy/", "-u", "__token__", "-p", token}, dists...),
			env: []string{"REQUESTS_CA_BUNDLE=" + s.CA}})
		r.mustSucceed(t)
		if diff := cmp.Diff(basenames(dists), s.indexFiles(t, project)); diff != "" {
			t.Fatalf("index after twine upload (-want +got):\n%s", diff)
		}

		py := python(t, "pip")
		target := filepath.Join(t.TempDir(), "target")
		runCmd(t, cmdSpec{name: py, args: []string{"-m", "pip", "install", "--disable-pip-version-check", "--no-cache-dir", "--no-input",
			"--cert", s.CA, "--index-url", s.URL + "/local/simple/", "--no-deps", "--target", target, project + "==1.0.0"}}).mustSucceed(t)
		if v := installedVersion(t, target, "wharf_demo"); v != "1.0.0" {
			t.Errorf("pip installed %s, want 1.0.0", v)
		}
	})

	t.Run("wharf publish in GitHub Actions", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "dist")
		os.MkdirAll(dir, 0o755)
		files := map[string][]byte{
			"wharf_demo-1.1.0-py3-none-any.whl": makeWheel(t, project, "1.1.0"),
			"wharf_demo-1.1.0.tar.gz":           makeSdist(t, project, "1.1.0"),
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		r := runCmd(t, cmdSpec{name: s.bin, args: []string{"publish", "--repository-url", s.URL + "/local/legacy/", filepath.Join(dir, "*")},
			env: []string{
				"GITHUB_ACTIONS=true",
				"ACTIONS_ID_TOKEN_REQUEST_URL=" + s.RequestURL,
				"ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + s.RequestToken,
				"REQUESTS_CA_BUNDLE=" + s.CA,
			}})
		r.mustSucceed(t)
		first, rest, _ := strings.Cut(r.stdout, "\n")
		tok, ok := strings.CutPrefix(first, "::add-mask::")
		if !ok || tok == "" {
			t.Fatalf("stdout does not start with ::add-mask::<token>:\n%s", r)
		}
		if strings.Contains(rest, tok) || strings.Contains(r.stderr, tok) {
			t.Errorf("the token is printed outside ::add-mask:::\n%s", r)
		}
		for name := range files {
			if !strings.Contains(rest, "uploaded       "+name+"\n") {
				t.Errorf("no result line for %s:\n%s", name, r)
			}
		}
		got := s.indexFiles(t, project)
		for name := range files {
			if !slices.Contains(got, name) {
				t.Errorf("%s not in the index: %v", name, got)
			}
		}
	})

	t.Run("refusals", func(t *testing.T) {
		aud := s.audience(t)

		// A workflow the publisher does not name.
		other := claims
		other.WorkflowRef = "acme/widgets/.github/workflows/ci.yml@refs/tags/v1.0.0"
		s.setClaims(t, other)
		jwt := s.idToken(t, aud)
		s.setClaims(t, claims)
		code, desc := s.mintRefused(t, jwt)
		if code != "invalid-publisher" || !strings.Contains(desc, `claim "workflow_ref"`) {
			t.Errorf("other workflow: %s: %s; want invalid-publisher naming workflow_ref", code, desc)
		}

		// One ID token, one exchange.
		jwt = s.idToken(t, aud)
		token := s.mustMint(t, jwt)
		if code, desc := s.mintRefused(t, jwt); code != "invalid-reuse-token" {
			t.Errorf("second exchange of one ID token: %s: %s; want invalid-reuse-token", code, desc)
		}

		// The minted token is for wharf-demo only.
		status, msg := s.uploadWith(t, token, "other-thing", "1.0.0")
		if status != http.StatusForbidden || !strings.Contains(msg, "isn't allowed to upload to project 'other-thing'") {
			t.Errorf("upload of another project with a wharf-demo token: %d %q", status, msg)
		}

		var evs []struct {
			Outcome string            `json:"outcome"`
			Project string            `json:"project"`
			Detail  map[string]string `json:"detail"`
		}
		if err := json.Unmarshal([]byte(s.admin(t, "audit", "--action", "oidc.mint", "--json")), &evs); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, e := range evs {
			seen[e.Outcome+" "+e.Detail["code"]] = true
			if e.Detail["repository"] != "acme/widgets" {
				t.Errorf("audit event without the token's repository claim: %+v", e)
			}
		}
		for _, want := range []string{"ok ", "refused invalid-publisher", "refused invalid-reuse-token"} {
			if !seen[want] {
				t.Errorf("wharf audit lacks an oidc.mint event %q; has %v", want, seen)
			}
		}
		// The table form shows them too.
		if out := s.admin(t, "audit", "--action", "oidc.mint"); !strings.Contains(out, "refused") || !strings.Contains(out, "oidc:dev") {
			t.Errorf("wharf audit table:\n%s", out)
		}
	})
}

// audience is step 1 of the publish action: GET /_/oidc/audience.
func (s *trustedServer) audience(t *testing.T) string {
	t.Helper()
	var res struct {
		Audience string `json:"audience"`
	}
	s.getJSON(t, s.URL+"/_/oidc/audience", "", &res)
	return res.Audience
}

// idToken is what the `id` library does on a runner: GET
// $ACTIONS_ID_TOKEN_REQUEST_URL&audience=AUD with the request token.
func (s *trustedServer) idToken(t *testing.T, aud string) string {
	t.Helper()
	var res struct {
		Value string `json:"value"`
	}
	s.getJSON(t, s.RequestURL+"&audience="+url.QueryEscape(aud), "bearer "+s.RequestToken, &res)
	if res.Value == "" {
		t.Fatal("the development issuer returned no ID token")
	}
	return res.Value
}

func (s *trustedServer) getJSON(t *testing.T, u, authz string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", u, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v\n%s", u, err, body)
	}
}

// mint POSTs the ID token to /_/oidc/mint-token as the action does.
func (s *trustedServer) mint(t *testing.T, jwt string) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"token": jwt})
	resp, err := s.client.Post(s.URL+"/_/oidc/mint-token", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func (s *trustedServer) mustMint(t *testing.T, jwt string) string {
	t.Helper()
	status, body := s.mint(t, jwt)
	var res struct {
		Success bool   `json:"success"`
		Token   string `json:"token"`
		Expires int64  `json:"expires"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &res) != nil || !res.Success || res.Token == "" || res.Expires == 0 {
		t.Fatalf("mint-token: %d\n%s", status, body)
	}
	return res.Token
}

// mintRefused expects PyPI's 422 body and returns its first error.
func (s *trustedServer) mintRefused(t *testing.T, jwt string) (code, description string) {
	t.Helper()
	status, body := s.mint(t, jwt)
	var res struct {
		Message string `json:"message"`
		Errors  []struct {
			Code        string `json:"code"`
			Description string `json:"description"`
		} `json:"errors"`
	}
	if status != http.StatusUnprocessableEntity || json.Unmarshal(body, &res) != nil || res.Message != "Token request failed" || len(res.Errors) == 0 {
		t.Fatalf("mint-token: %d, want 422 with PyPI's error body\n%s", status, body)
	}
	return res.Errors[0].Code, res.Errors[0].Description
}

// uploadWith sends a crafted wheel with token and returns status and body.
func (s *trustedServer) uploadWith(t *testing.T, token, project, version string) (int, string) {
	t.Helper()
	u := upload{project: project, version: version, filename: modName(project) + "-" + version + "-py3-none-any.whl", filetype: "bdist_wheel", token: token}
	content := makeWheel(t, project, version)
	req := u.request(t, s.server, bytes.NewReader(content), int64(len(content)), sha256hex(content))
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// indexFiles lists a project's files over https.
func (s *trustedServer) indexFiles(t *testing.T, project string) []string {
	t.Helper()
	var page projectPage
	s.getJSONAccept(t, s.URL+"/local/simple/"+project+"/", &page)
	return page.filenames()
}

func (s *trustedServer) getJSONAccept(t *testing.T, u string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Accept", pipAccept)
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", u, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}
