package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wharf-dev/wharf/internal/devissuer"
)

// TestCatalog: one project published twice, by twine with an API token and
// by trusted publishing; the JSON API, `wharf ls`, `wharf search` and the
// audit log then say who put each file there.
func TestCatalog(t *testing.T) {
	t.Parallel()
	const project = "wharf-demo"
	claims := devissuer.Example("acme", "1234", "widgets", "5678", "release.yml", "refs/tags/v1.0.0")
	s := startTrustedServer(t, claims)
	s.admin(t, "publisher", "add", "--repo", "local", "--project", project, "--pending", "github", "--issuer", s.Issuer,
		"--owner", "acme", "--owner-id", "1234", "--repository", "widgets", "--workflow", "release.yml")
	twine := requireTool(t, "twine")
	upload := func(token string, dists []string) {
		t.Helper()
		runCmd(t, cmdSpec{name: twine, args: append([]string{"upload", "--non-interactive", "--disable-progress-bar",
			"--repository-url", s.URL + "/local/legacy/", "-u", "__token__", "-p", token}, dists...),
			env: []string{"REQUESTS_CA_BUNDLE=" + s.CA}}).mustSucceed(t)
	}
	// Trusted publishing first (it creates the project), then a token.
	upload(s.mustMint(t, s.idToken(t, s.audience(t))), buildDists(t, fixture(t, project, "1.0.0")))
	tok := firstLine(s.admin(t, "token", "create", "--repo", "local", "--project", project, "--actions", "upload,read",
		"--description", "release laptop", "--expires", "1h"))
	upload(tok, buildDists(t, fixture(t, project, "1.1.0")))

	// The JSON API.
	var doc struct {
		Info struct {
			Name, Version string
		} `json:"info"`
		Releases map[string][]struct {
			Filename string            `json:"filename"`
			URL      string            `json:"url"`
			Digests  map[string]string `json:"digests"`
			Prov     map[string]string `json:"wharf:provenance"`
		} `json:"releases"`
	}
	s.getJSON(t, s.URL+"/local/pypi/"+project+"/json", "", &doc)
	if doc.Info.Version != "1.1.0" || len(doc.Releases["1.0.0"]) == 0 || len(doc.Releases["1.1.0"]) == 0 {
		t.Fatalf("JSON API: %+v", doc)
	}
	for _, f := range doc.Releases["1.0.0"] {
		p := f.Prov
		if p["kind"] != "trusted-publishing" || p["repository"] != "acme/widgets" || p["ref"] != "refs/tags/v1.0.0" ||
			p["sha"] == "" || p["run_id"] == "" || !strings.Contains(p["workflow_ref"], "release.yml") ||
			!strings.Contains(p["publisher"], "github publisher") || !strings.HasPrefix(p["user_agent"], "twine/") {
			t.Errorf("%s: provenance %v", f.Filename, p)
		}
		for _, d := range []string{"md5", "sha256", "blake2b_256"} {
			if f.Digests[d] == "" {
				t.Errorf("%s: no %s digest", f.Filename, d)
			}
		}
	}
	for _, f := range doc.Releases["1.1.0"] {
		if p := f.Prov; p["kind"] != "token" || p["token_description"] != "release laptop" {
			t.Errorf("%s: provenance %v", f.Filename, p)
		}
	}

	// wharf ls and search.
	if out := s.admin(t, "ls", "local"); !strings.Contains(out, project) {
		t.Errorf("wharf ls local:\n%s", out)
	}
	if out := s.admin(t, "ls", "local/"+project); !strings.Contains(out, "1.0.0") || !strings.Contains(out, "1.1.0") {
		t.Errorf("wharf ls local/%s:\n%s", project, out)
	}
	if out := s.admin(t, "ls", "local/"+project+"/1.0.0"); !strings.Contains(out, "trusted publishing") || !strings.Contains(out, "repository=acme/widgets") {
		t.Errorf("wharf ls of the trusted release:\n%s", out)
	}
	if out := s.admin(t, "ls", "local/"+project+"/1.1.0"); !strings.Contains(out, `"release laptop"`) {
		t.Errorf("wharf ls of the token release:\n%s", out)
	}
	if out := s.admin(t, "search", "wharf demo"); !strings.Contains(out, project) {
		t.Errorf("wharf search:\n%s", out)
	}

	// The audit log has both uploads with their actors.
	var ups []struct {
		Action, Outcome, Target string
		Detail                  map[string]string
	}
	for _, line := range strings.Split(strings.TrimSpace(s.admin(t, "audit", "--project", project, "--action", "file.upload", "--jsonl")), "\n") {
		var e struct {
			Action, Outcome, Target string
			Detail                  map[string]string
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("audit --jsonl line %q: %v", line, err)
		}
		ups = append(ups, e)
	}
	actors := map[string]bool{}
	for _, e := range ups {
		actors[e.Detail["actor"]] = true
	}
	if len(ups) < 4 || !actors["release laptop"] || len(actors) != 2 {
		t.Errorf("upload audit events: %+v", ups)
	}

	// pip downloads are counted (flushed every few seconds).
	py := python(t, "pip")
	runCmd(t, cmdSpec{name: py, args: []string{"-m", "pip", "download", "--disable-pip-version-check", "--no-cache-dir", "--no-input",
		"--cert", s.CA, "--index-url", s.URL + "/local/simple/", "--no-deps", "--only-binary", ":all:", "-d", t.TempDir(), project + "==1.1.0"}}).mustSucceed(t)
	var counted struct {
		Info struct {
			Downloads struct {
				LastDay int64 `json:"last_day"`
			} `json:"downloads"`
		} `json:"info"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for counted.Info.Downloads.LastDay == 0 && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		s.getJSON(t, s.URL+"/local/pypi/"+project+"/json", "", &counted)
	}
	if counted.Info.Downloads.LastDay != 1 {
		t.Errorf("downloads after one pip download: %+v", counted.Info.Downloads)
	}
	if out := s.admin(t, "ls", "local/"+project); !strings.Contains(out, "1 last day") {
		t.Errorf("wharf ls does not show the download:\n%s", out)
	}

	// The project-limited token sees its project only; anonymous callers
	// see the public local repository.
	r := runCmd(t, cmdSpec{name: s.bin, args: []string{"search", "wharf"}, env: []string{"WHARF_SERVER=" + s.URL, "SSL_CERT_FILE=" + s.CA}})
	r.mustSucceed(t)
	req, _ := http.NewRequest("GET", s.URL+"/local/pypi/"+project+"/1.0.0/json", nil)
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("anonymous release JSON of a public repository: %d", resp.StatusCode)
	}
}
