package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// patchRepo changes a repository through the admin API, as the issue's
// audit did (`PATCH /api/v1/repos/NAME {"public": false}`).
func (s *server) patchRepo(t *testing.T, name, body string) {
	t.Helper()
	req, err := http.NewRequest("PATCH", s.URL+"/api/v1/repos/"+name, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.Admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PATCH %s %s: %s", name, body, resp.Status)
	}
}

// withToken puts a token in an index URL, as pip users configure it.
func withToken(t *testing.T, index, token string) string {
	t.Helper()
	u, err := url.Parse(index)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("__token__", token)
	return u.String()
}

// TestPipThroughVirtualWithPrivateMember: a member made private while in a
// public virtual repository is skipped, for pip and for plain requests, by
// anonymous callers and by a token scoped to the virtual repository alone;
// a token that may read the member installs through the virtual repository
// and gets the member's files first. A public virtual repository over a
// private member cannot be created.
func TestPipThroughVirtualWithPrivateMember(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.admin(t, "repo", "create", "team")
	s.admin(t, "repo", "create", "pub")
	s.admin(t, "repo", "create", "mix", "--kind", "virtual", "--member", "team", "--member", "pub")
	post := func(repo, project, version string) string {
		t.Helper()
		wheel := makeWheel(t, project, version)
		u := upload{project: project, version: version, filetype: "bdist_wheel", repo: repo, token: s.Admin,
			filename: modName(project) + "-" + version + "-py3-none-any.whl"}
		if st, body := u.post(t, s, wheel); st != http.StatusOK {
			t.Fatalf("upload %s %s to %s: %d %s", project, version, repo, st, body)
		}
		return sha256hex(wheel)
	}
	secret := post("team", "team-secret", "1.0")
	post("team", "shared-lib", "1.0")
	post("pub", "shared-lib", "2.0")
	s.patchRepo(t, "team", `{"public": false}`)

	index := s.URL + "/mix/simple/"
	onlyMix := firstLine(s.admin(t, "token", "create", "--repo", "mix", "--actions", "read", "--expires", "1h"))
	both := firstLine(s.admin(t, "token", "create", "--repo", "mix", "--repo", "team", "--actions", "read", "--expires", "1h"))
	secretFile := s.URL + "/mix/files/" + secret + "/team_secret-1.0-py3-none-any.whl"

	for _, who := range []struct{ name, token string }{{"anonymous", ""}, {"token for mix only", onlyMix}} {
		idx := index
		if who.token != "" {
			idx = withToken(t, index, who.token)
		}
		_, r := pipInstall(t, idx, "team-secret")
		r.mustFail(t)
		target, r := pipInstall(t, idx, "shared-lib")
		r.mustSucceed(t)
		if got := installedVersion(t, target, "shared_lib"); got != "2.0" {
			t.Errorf("%s: shared-lib %s through mix, want pub's 2.0", who.name, got)
		}
		for _, u := range []string{index + "team-secret/", secretFile, secretFile + ".metadata"} {
			if got := fetchAs(t, u, pipAccept, who.token); got.status != http.StatusNotFound {
				t.Errorf("%s GET %s: %d, want 404", who.name, u, got.status)
			}
		}
		if got := fetchAs(t, index, pipAccept, who.token); got.status != http.StatusOK || strings.Contains(got.body, "team-secret") {
			t.Errorf("%s root of mix: %d %s, want pub's names only", who.name, got.status, got.body)
		}
	}

	target, r := pipInstall(t, withToken(t, index, both), "team-secret")
	r.mustSucceed(t)
	if got := installedVersion(t, target, "team_secret"); got != "1.0" {
		t.Errorf("token for mix and team: team-secret %s", got)
	}
	target, r = pipInstall(t, withToken(t, index, both), "shared-lib")
	r.mustSucceed(t)
	if got := installedVersion(t, target, "shared_lib"); got != "1.0" {
		t.Errorf("token for mix and team: shared-lib %s, want team's 1.0 (first member)", got)
	}
	// What that reader was served never reaches an anonymous one.
	if got := fetch(t, index+"team-secret/", pipAccept); got.status != http.StatusNotFound {
		t.Errorf("anonymous after a full reader: %d, want 404", got.status)
	}

	r = runCmd(t, cmdSpec{name: s.bin, args: []string{"repo", "create", "mix2", "--kind", "virtual", "--member", "team", "--member", "pub"},
		env: []string{"WHARF_SERVER=" + s.URL, "WHARF_TOKEN=" + s.Admin}})
	r.mustFail(t)
	if !strings.Contains(r.output(), "is public but its member 'team' is private") {
		t.Errorf("public virtual over a private member: %s", r.output())
	}
	s.admin(t, "repo", "create", "mix2", "--private", "--kind", "virtual", "--member", "team", "--member", "pub")
}

// TestProjectScopedToken: twine uploads with a token limited to wharf-*,
// pip installs with it, and every other name (pages, files, metadata, file
// URLs whose name does not parse) answers 404 like an absent project, so
// an installer searching several indexes moves on; pip with that index
// and a second one installs from both.
func TestProjectScopedToken(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.admin(t, "repo", "create", "corp", "--private")
	s.admin(t, "repo", "create", "pub")
	tok := firstLine(s.admin(t, "token", "create", "--repo", "corp", "--project", "wharf-*", "--actions", "read,upload", "--expires", "1h"))

	dir := fixture(t, "wharf-demo", "1.0")
	built := buildDists(t, dir)
	twine := requireTool(t, "twine")
	r := runCmd(t, cmdSpec{name: twine, args: append([]string{"upload", "--non-interactive", "--disable-progress-bar",
		"--repository-url", s.URL + "/corp/legacy/", "-u", "__token__", "-p", tok}, built...)})
	r.mustSucceed(t)

	other := makeWheel(t, "other", "1.0")
	u := upload{project: "other", version: "1.0", filetype: "bdist_wheel", repo: "corp", token: s.Admin, filename: "other-1.0-py3-none-any.whl"}
	if st, body := u.post(t, s, other); st != http.StatusOK {
		t.Fatalf("upload other: %d %s", st, body)
	}
	pubOnly := makeWheel(t, "pub-only", "3.0")
	u = upload{project: "pub-only", version: "3.0", filetype: "bdist_wheel", repo: "pub", token: s.Admin, filename: "pub_only-3.0-py3-none-any.whl"}
	if st, body := u.post(t, s, pubOnly); st != http.StatusOK {
		t.Fatalf("upload pub-only: %d %s", st, body)
	}

	corp := s.URL + "/corp/simple/"
	target, r := pipInstall(t, withToken(t, corp, tok), "wharf-demo")
	r.mustSucceed(t)
	checkInstalled(t, target, "1.0", "original")

	absent := fetchAs(t, corp+"no-such-project/", pipAccept, tok)
	sha := sha256hex(other)
	for _, p := range []string{corp + "other/", s.URL + "/corp/files/" + sha + "/other-1.0-py3-none-any.whl",
		s.URL + "/corp/files/" + sha + "/other-1.0-py3-none-any.whl.metadata",
		s.URL + "/corp/files/" + sha + "/other.egg", s.URL + "/corp/files/" + sha + "/wharf_demo-1.0-py3-none-any.whl"} {
		if got := fetchAs(t, p, pipAccept, tok); got.status != http.StatusNotFound {
			t.Errorf("GET %s with the wharf-* token: %d %s, want 404", p, got.status, got.body)
		}
	}
	if got := fetchAs(t, corp+"other/", pipAccept, tok); got.body != strings.Replace(absent.body, "no-such-project", "other", 1) {
		t.Errorf("out-of-scope answer %q differs from the absent project's %q", got.body, absent.body)
	}
	if got := fetchAs(t, corp, pipAccept, tok); got.status != http.StatusOK || strings.Contains(got.body, `"other"`) || !strings.Contains(got.body, "wharf-demo") {
		t.Errorf("root with the wharf-* token: %d %s", got.status, got.body)
	}

	// pip with the scoped private index first and another one: both resolve.
	py := python(t, "pip")
	target = t.TempDir()
	r = runCmd(t, cmdSpec{name: py, args: []string{"-m", "pip", "install", "--disable-pip-version-check", "--no-cache-dir", "--no-input",
		"--index-url", withToken(t, corp, tok), "--extra-index-url", s.URL + "/pub/simple/", "--no-deps", "--target", target,
		"wharf-demo", "pub-only"}})
	r.mustSucceed(t)
	if got := installedVersion(t, target, "pub_only"); got != "3.0" {
		t.Errorf("pub-only through the second index: %s", got)
	}

	// The index is read-only: uv's "use the upload URL" hint needs 405.
	resp, err := http.Post(corp, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST %s: %s Allow %q, want 405", corp, resp.Status, resp.Header.Get("Allow"))
	}
}
