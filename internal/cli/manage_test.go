package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/adminapi"
	"github.com/wharf-dev/wharf/internal/config"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/server"
)

// testServer is a real wharf (server.New on a fresh data directory) behind
// httptest.
type testServer struct {
	url, admin, dir string
	srv             *server.Server
}

func newTestServer(t *testing.T) *testServer { t.Helper(); return newTestServerWith(t, nil) }

// withIssuers configures the issuers the publisher tests name (never
// contacted: no token is exchanged).
func withIssuers(cfg *config.Config) {
	cfg.OIDC.Issuers = []config.Issuer{
		{Name: "github", URL: "https://token.actions.githubusercontent.com", Kind: "github"},
		{Name: "github-acme", URL: "https://token.actions.githubusercontent.com/acme-corp", Kind: "github"},
		{Name: "gitlab", URL: "https://gitlab.com", Kind: "gitlab"},
		{Name: "ci", URL: "https://ci.example.com", Kind: "generic"},
	}
}

// newTestServerWith is newTestServer with the configuration changed by
// edit (nil: unchanged).
func newTestServerWith(t *testing.T, edit func(*config.Config)) *testServer {
	t.Helper()
	dir := t.TempDir()
	sf := serveFlags{data: dir}
	cfg, err := sf.load(Env{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(cfg)
	}
	srv, err := server.New(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	if srv.FirstToken == "" {
		t.Fatal("a new installation made no first admin token")
	}
	return &testServer{url: ts.URL, admin: srv.FirstToken, dir: dir, srv: srv}
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs the command line with WHARF_SERVER and WHARF_TOKEN set from
// vars and stdin a non-terminal reader.
func run(t *testing.T, vars map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(context.Background(), args, Env{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string { return vars[k] },
	})
	return result{code, out.String(), errOut.String()}
}

func (s *testServer) env(token string) map[string]string {
	return map[string]string{"WHARF_SERVER": s.url, "WHARF_TOKEN": token}
}

// mustRun runs a command that must succeed.
func mustRun(t *testing.T, vars map[string]string, args ...string) result {
	t.Helper()
	r := run(t, vars, "", args...)
	if r.code != 0 {
		t.Fatalf("wharf %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// mustFail runs a command that must fail with msg on stderr.
func mustFail(t *testing.T, vars map[string]string, stdin, msg string, args ...string) result {
	t.Helper()
	r := run(t, vars, stdin, args...)
	if r.code == 0 || !strings.Contains(r.stderr, msg) {
		t.Fatalf("wharf %s: exit %d, stderr %q; want failure containing %q", strings.Join(args, " "), r.code, r.stderr, msg)
	}
	return r
}

func TestRepoCommands(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	env := s.env(s.admin)
	r := mustRun(t, env, "repo", "create", "team", "--description", "team packages")
	if r.stdout != "created public repository team\n" {
		t.Errorf("stdout = %q", r.stdout)
	}
	mustRun(t, env, "repo", "create", "vault", "--private")
	mustFail(t, env, "", "wharf: repository 'team' already exists", "repo", "create", "team")
	mustFail(t, env, "", "invalid repository name", "repo", "create", "Bad_Name")

	r = mustRun(t, env, "repo", "list")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	var got []string
	for _, l := range lines {
		f := strings.Fields(l)
		got = append(got, strings.Join(f[:3], " "))
	}
	// all, local and pypi are the embedded default's repositories.
	want := []string{"NAME KIND ACCESS", "all virtual public", "local hosted public", "pypi remote public", "team hosted public", "vault hosted private"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("repo list (-want +got):\n%s\n%s", diff, r.stdout)
	}

	r = mustRun(t, env, "repo", "list", "--json")
	var repos []adminapi.Repo
	if err := json.Unmarshal([]byte(r.stdout), &repos); err != nil || len(repos) != 5 || repos[3].Description != "team packages" || repos[2].Remote == nil || repos[0].Virtual == nil {
		t.Errorf("repo list --json: %v %+v", err, repos)
	}

	mustFail(t, env, "", "refusing to delete repository team and every file in it without --yes", "repo", "delete", "team")
	mustRun(t, env, "repo", "delete", "team", "--yes")
	mustFail(t, env, "", "repository 'team' does not exist", "repo", "delete", "team", "--yes")
}

func TestTokenCommands(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	env := s.env(s.admin)
	r := mustRun(t, env, "token", "create", "--repo", "local", "--project", "Acme", "--actions", "upload,read",
		"--expires", "24h", "--description", "acme CI")
	if !regexp.MustCompile(`^wharf_[a-z2-7]{16}_[A-Za-z0-9_-]{43}\n$`).MatchString(r.stdout) {
		t.Fatalf("stdout is not just the token: %q", r.stdout)
	}
	tok := strings.TrimSpace(r.stdout)
	id := tok[len("wharf_") : len("wharf_")+16]
	if !strings.Contains(r.stderr, "created token "+id+" (read,upload repos=local projects=acme)") {
		t.Errorf("stderr = %q", r.stderr)
	}

	// The new token works for what it may do, and not for more.
	mustRun(t, s.env(tok), "repo", "list")
	mustFail(t, s.env(tok), "", "does not have the 'admin' permission", "repo", "create", "x")

	r = mustRun(t, env, "token", "list")
	row := lineWith(r.stdout, id)
	for _, want := range []string{"acme CI", "read,upload repos=local projects=acme"} {
		if !strings.Contains(row, want) {
			t.Errorf("token list row %q lacks %q", row, want)
		}
	}
	if strings.Contains(r.stdout, tok) {
		t.Error("token list prints a secret")
	}

	mustFail(t, env, "", "--admin already grants every action", "token", "create", "--admin", "--actions", "read")
	mustFail(t, env, "", "say what the token may do", "token", "create")
	mustFail(t, env, "", "--expires: lifetime \"soon\" is not valid", "token", "create", "--actions", "read", "--expires", "soon")

	r = mustRun(t, env, "token", "revoke", id)
	if r.stdout != "revoked token "+id+"\n" {
		t.Errorf("revoke stdout = %q", r.stdout)
	}
	r = mustRun(t, env, "token", "list", "--json")
	var toks []adminapi.TokenInfo
	if err := json.Unmarshal([]byte(r.stdout), &toks); err != nil {
		t.Fatal(err)
	}
	for _, ti := range toks {
		if ti.ID == id && ti.RevokedAt.IsZero() {
			t.Error("token list --json: the revoked token has no revoked_at")
		}
	}
	r = mustFail(t, s.env(tok), "", "invalid or expired token", "repo", "list")
	if strings.Contains(r.stderr+r.stdout, tok) {
		t.Error("the token is echoed in the output")
	}
	mustFail(t, env, "", "token 'nope' does not exist", "token", "revoke", "nope")
}

func TestTokenCreateOnDataDirectory(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	// While the server has the database open, as a real bootstrap would.
	r := mustRun(t, nil, "token", "create", "--admin", "--data", s.dir, "--description", "second admin")
	tok := strings.TrimSpace(r.stdout)
	if !strings.HasPrefix(tok, "wharf_") || strings.Contains(tok, "\n") {
		t.Fatalf("stdout = %q", r.stdout)
	}
	mustRun(t, s.env(tok), "repo", "create", "made-with-local-token")

	r = mustRun(t, nil, "token", "list", "--data", s.dir)
	if !strings.Contains(r.stdout, "second admin") {
		t.Errorf("local token list:\n%s", r.stdout)
	}
	mustFail(t, map[string]string{"WHARF_TOKEN": s.admin}, "", "--server cannot be combined with --data",
		"token", "create", "--admin", "--data", s.dir, "--server", s.url)

	r = mustRun(t, s.env(s.admin), "audit", "--action", "token.create", "--json")
	var evs []adminapi.AuditEvent
	if err := json.Unmarshal([]byte(r.stdout), &evs); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Actor != "cli" || evs[0].Detail["via"] != "data directory" {
		t.Errorf("audit of the local token creation: %+v", evs)
	}
}

// A mistyped --data must not create an empty installation and a token for
// it; --init asks for exactly that.
func TestDataDirectoryMustHoldAnInstallation(t *testing.T) {
	t.Parallel()
	typo := filepath.Join(t.TempDir(), "wharf-dta")
	mustFail(t, nil, "", "holds no wharf installation", "token", "create", "--admin", "--data", typo)
	mustFail(t, nil, "", "holds no wharf installation", "secret", "list", "--data", typo)
	if _, err := os.Stat(typo); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the refused command created %s: %v", typo, err)
	}
	r := mustRun(t, nil, "token", "create", "--admin", "--data", typo, "--init")
	if !strings.HasPrefix(strings.TrimSpace(r.stdout), "wharf_") {
		t.Errorf("token create --init printed %q", r.stdout)
	}
	mustRun(t, nil, "token", "list", "--data", typo)
}

// Revoking by the whole token string works and never prints the secret.
func TestTokenRevokeByTokenString(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	env := s.env(s.admin)
	tok := strings.TrimSpace(mustRun(t, env, "token", "create", "--repo", "local", "--actions", "read").stdout)
	r := mustRun(t, env, "token", "revoke", tok)
	if strings.Contains(r.stdout+r.stderr, tok) {
		t.Errorf("revoke echoed the token: %q", r.stdout+r.stderr)
	}
	mustFail(t, s.env(tok), "", "invalid or expired token", "repo", "list")
	mustFail(t, env, "", "not a well-formed one", "token", "revoke", "wharf_short")
}

func TestYankDeleteAndAudit(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	env := s.env(s.admin)
	addRelease(t, s.srv, "local", "acme", "1.0", "acme-1.0-py3-none-any.whl", "acme-1.0.tar.gz")

	r := mustRun(t, env, "yank", "--repo", "local", "acme", "1.0", "--reason", "broken on 3.13")
	if r.stdout != "yanked acme 1.0 in local (2 files)\n" {
		t.Errorf("yank stdout = %q", r.stdout)
	}
	r = mustRun(t, env, "unyank", "--repo", "local", "acme", "1.0")
	if r.stdout != "unyanked acme 1.0 in local (2 files)\n" {
		t.Errorf("unyank stdout = %q", r.stdout)
	}
	mustFail(t, env, "", "project 'acme' has no release '9.0'", "yank", "--repo", "local", "acme", "9.0")
	mustFail(t, env, "", `required flag(s) "repo" not set`, "yank", "acme", "1.0")

	mustFail(t, env, "", "refusing to delete file acme-1.0.tar.gz of acme 1.0 from local without --yes",
		"delete", "--repo", "local", "acme", "1.0", "acme-1.0.tar.gz")
	r = mustRun(t, env, "delete", "--repo", "local", "acme", "1.0", "acme-1.0.tar.gz", "--yes")
	if r.stdout != "deleted file acme-1.0.tar.gz of acme 1.0 from local (1 file)\n" {
		t.Errorf("delete stdout = %q", r.stdout)
	}
	mustRun(t, env, "delete", "--repo", "local", "acme", "--yes")

	r = mustRun(t, env, "audit", "--repo", "local")
	var actions []string
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n")[1:] {
		actions = append(actions, strings.Fields(l)[3])
	}
	// The first start created local as the admin API would: audited.
	want := []string{"project.delete", "file.delete", "release.unyank", "release.yank", "repo.create"}
	if diff := cmp.Diff(want, actions); diff != "" {
		t.Errorf("audit actions (-want +got):\n%s\n%s", diff, r.stdout)
	}
	if !strings.Contains(lineWith(r.stdout, "release.yank"), "reason=broken on 3.13") {
		t.Errorf("the yank reason is not in the audit table:\n%s", r.stdout)
	}

	r = mustRun(t, env, "audit", "--action", "release.", "--limit", "1", "--json")
	var evs []adminapi.AuditEvent
	if err := json.Unmarshal([]byte(r.stdout), &evs); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Action != "release.unyank" || evs[0].Project != "acme" {
		t.Errorf("audit --json: %+v", evs)
	}
}

func TestConnectionErrors(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	mustFail(t, map[string]string{"WHARF_SERVER": s.url}, "", "no API token: set WHARF_TOKEN", "repo", "list")
	mustFail(t, nil, "", "cannot reach the wharf server", "repo", "list", "--server", "http://127.0.0.1:1", "--token", "wharf_x")
	// --token wins over WHARF_TOKEN; a bad token is never printed back.
	bad := "wharf_aaaaaaaaaaaaaaaa_" + strings.Repeat("b", 43)
	r := mustFail(t, s.env(s.admin), "", "invalid or expired token", "audit", "--token", bad)
	if strings.Contains(r.stderr+r.stdout, bad) {
		t.Error("the token is echoed")
	}
	mustFail(t, s.env(s.admin), "", "holds no PEM certificate", "repo", "list", "--ca-file", "manage_test.go")
}

func TestConfirm(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		terminal bool
		yes      bool
		input    string
		err      string
	}{
		{"--yes", false, true, "", ""},
		{"not a terminal", false, false, "yes\n", "refusing to delete x without --yes"},
		{"answered yes", true, false, "yes\n", ""},
		{"answered y", true, false, "Y\n", ""},
		{"answered no", true, false, "no\n", "cancelled"},
		{"no answer", true, false, "", "cancelled"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			err := confirm(strings.NewReader(tt.input), &out, tt.terminal, tt.yes, "delete x")
			if (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
				t.Errorf("err = %v, want %q", err, tt.err)
			}
			if asked := strings.Contains(out.String(), "Delete x?"); asked != (tt.terminal && !tt.yes) {
				t.Errorf("prompt %q", out.String())
			}
		})
	}
}

func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// addRelease stores files directly, as an upload would have.
func addRelease(t *testing.T, srv *server.Server, repo, project, version string, filenames ...string) {
	t.Helper()
	ctx := t.Context()
	r, err := srv.Store.Repos().Get(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := srv.Store.Projects().Ensure(ctx, registry.Project{RepoID: r.ID, Name: pypi.Normalize(project), DisplayName: project})
	if err != nil {
		t.Fatal(err)
	}
	v, err := pypi.ParseVersion(version)
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range filenames {
		f := registry.File{RepoID: r.ID, ProjectID: p.ID, Filename: fn, Version: version, Release: v.Canonical(),
			Filetype: registry.Wheel, Size: 1, SHA256: fmt.Sprintf("%x", sha256.Sum256([]byte(repo+"/"+fn)))} // one content per file, as uploads require
		if err := srv.Store.Files().Add(ctx, &f); err != nil {
			t.Fatal(err)
		}
	}
}

func TestIsTerminal(t *testing.T) {
	t.Parallel()
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	// /dev/null is a character device but no terminal: a script with
	// </dev/null must get the refusal, not a prompt.
	for name, r := range map[string]io.Reader{"dev null": devNull, "reader": strings.NewReader("yes\n")} {
		if isTerminal(r) {
			t.Errorf("%s: isTerminal = true", name)
		}
	}
}
