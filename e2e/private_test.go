package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestPrivateRepo: a private repository hides its index from anonymous
// readers, pip reads it with the token in the index URL (as users configure
// it), delete removes a release, and the audit log records what happened.
func TestPrivateRepo(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	const repo, project, version = "team", "team-lib", "1.0"
	s.admin(t, "repo", "create", repo, "--private")
	token := firstLine(s.admin(t, "token", "create", "--repo", repo, "--project", project,
		"--actions", "upload,read", "--expires", "1h"))

	wheel := makeWheel(t, project, version)
	u := upload{project: project, version: version, filetype: "bdist_wheel",
		filename: modName(project) + "-" + version + "-py3-none-any.whl", token: token, repo: repo}
	if st, body := u.post(t, s, wheel); st != http.StatusOK {
		t.Fatalf("upload to private repo: %d %s", st, body)
	}

	index := s.URL + "/" + repo + "/simple/"
	if got := fetch(t, index+project+"/", pipAccept); got.status == http.StatusOK {
		t.Errorf("anonymous read of a private index: 200\n%s", got.body)
	}
	_, r := pipInstall(t, index, project)
	r.mustFail(t)

	authed, err := url.Parse(index)
	if err != nil {
		t.Fatal(err)
	}
	authed.User = url.UserPassword("__token__", token)
	target, r := pipInstall(t, authed.String(), project)
	r.mustSucceed(t)
	if got := installedVersion(t, target, modName(project)); got != version {
		t.Errorf("installed %s, want %s", got, version)
	}

	s.admin(t, "delete", "--repo", repo, project, version, "--yes")
	// net/http sends URL userinfo as Basic auth, as pip does.
	got := fetch(t, authed.String()+project+"/", pipAccept)
	switch got.status {
	case http.StatusNotFound: // project gone with its last release
	case http.StatusOK:
		var page projectPage
		if err := json.Unmarshal([]byte(got.body), &page); err != nil {
			t.Fatalf("decoding %s: %v", got.body, err)
		}
		if len(page.Files) != 0 {
			t.Errorf("files after delete: %v", page.filenames())
		}
	default:
		t.Errorf("index with token after delete: %d %s", got.status, got.body)
	}

	// A deleted filename is never reused, not even with the same bytes.
	if st, body := u.post(t, s, wheel); st != http.StatusBadRequest {
		t.Errorf("re-upload of a deleted file: %d %s, want 400", st, body)
	}

	audit := s.admin(t, "audit", "--repo", repo)
	for _, want := range []string{project} {
		if !strings.Contains(audit, want) {
			t.Errorf("wharf audit --repo %s does not mention %q:\n%s", repo, want, audit)
		}
	}
	if lines := strings.Count(strings.TrimSpace(audit), "\n") + 1; lines < 2 {
		t.Errorf("audit log has %d line(s), want the upload and the delete at least:\n%s", lines, audit)
	}
}
