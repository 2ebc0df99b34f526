package e2e

import (
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// expiredToken mints a token for project and moves its expiry into the
// past in the database: the API refuses lifetimes under a minute, and a
// test should not wait one out.
func (s *server) expiredToken(t *testing.T, project, actions string) string {
	t.Helper()
	tok := createToken(t, s, "--repo", "local", "--project", project, "--actions", actions, "--expires", "1h")
	db, err := sql.Open("sqlite", filepath.Join(s.data, "wharf.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	past := time.Now().Add(-time.Minute).UnixMicro()
	if _, err := db.ExecContext(t.Context(), `UPDATE tokens SET expires_at = ? WHERE id = ?`, past, tok.ID); err != nil {
		t.Fatal(err)
	}
	return tok.Token
}

// TestUploadRules: PyPI's upload rules that wharf was looser about, with
// twine as the client: the same bytes under another filename of the
// release, a Requires-Python that is no specifier set, and (through the
// CLI) token lifetimes that are zero or under a minute.
func TestUploadRules(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	const project = "rules-demo"
	token := s.scopedToken(t, project, "upload,read", "1h")
	wheel := makeWheel(t, project, "1.0")
	put := func(name string, b []byte) string {
		dir := t.TempDir()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	twineUpload(t, s, token, []string{put("rules_demo-1.0-py3-none-any.whl", wheel)}).mustSucceed(t)

	for _, name := range []string{"RULES_DEMO-1.0-py3-none-any.whl", "rules_demo-01.0-py3-none-any.whl", "rules_demo-1.0-1-py3-none-any.whl"} {
		r := twineUpload(t, s, token, []string{put(name, wheel)})
		r.mustFail(t)
		if !strings.Contains(r.output(), "File already exists") || !strings.Contains(r.output(), "rules_demo-1.0-py3-none-any.whl") {
			t.Errorf("%s: twine does not show that the file exists as rules_demo-1.0-py3-none-any.whl:\n%s", name, r)
		}
	}
	if got := s.indexFilenames(t, project); len(got) != 1 {
		t.Errorf("index lists %v, want the one wheel", got)
	}

	bad := makeWheelMeta(t, project, "2.0", "Requires-Python: not a specifier !!\n")
	r := twineUpload(t, s, token, []string{put("rules_demo-2.0-py3-none-any.whl", bad)})
	r.mustFail(t)
	if !strings.Contains(r.output(), "invalid value for Requires-Python") {
		t.Errorf("twine does not show the Requires-Python refusal:\n%s", r)
	}

	for _, expires := range []string{"0s", "0", "30s", "-1h"} {
		r := runCmd(t, cmdSpec{name: s.bin, args: []string{"token", "create", "--repo", "local", "--actions", "read", "--expires", expires},
			env: []string{"WHARF_SERVER=" + s.URL, "WHARF_TOKEN=" + s.Admin}})
		r.mustFail(t)
		if !strings.Contains(r.stderr, "--expires") || !strings.Contains(r.stderr, "lifetime") {
			t.Errorf("--expires %s: the refusal does not explain the lifetime:\n%s", expires, r)
		}
	}
}

// TestTwineShowsRefusals: twine prints only the status line unless
// --verbose, so every refusal on the upload route carries its message in
// the reason phrase (issue 15), as PyPI's do.
func TestTwineShowsRefusals(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	twine := requireTool(t, "twine")
	dir := t.TempDir()
	p := filepath.Join(dir, "shown-1.0-py3-none-any.whl")
	if err := os.WriteFile(p, makeWheel(t, "shown", "1.0"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := s.scopedToken(t, "someone-else", "upload", "1h")
	for _, tt := range []struct{ name, url, token, want string }{
		{"token for another project", s.uploadURL(), other, "shown"},
		{"no such repository", s.URL + "/nosuch/legacy/", s.Admin, "repository 'nosuch' does not exist"},
		{"invalid token", s.uploadURL(), "wharf_nosuchtoken_x", "invalid or expired token"},
	} {
		r := runCmd(t, cmdSpec{name: twine, args: []string{"upload", "--non-interactive", "--disable-progress-bar",
			"--repository-url", tt.url, "-u", "__token__", "-p", tt.token, p}})
		r.mustFail(t)
		out := r.output()
		// twine prints the standard phrase, then the reason phrase on
		// the next line: the server's message.
		if !strings.Contains(out, tt.want) {
			t.Errorf("%s: twine does not show the server's message (%q):\n%s", tt.name, tt.want, r)
		}
	}
}

// TestUploadDiskFull: the blob store on a real 4 MiB filesystem (tmpfs,
// so root only) and a 6 MiB upload with twine. The disk fills mid-upload:
// twine shows 507 "out of space" (not "truncated … upload again"), no
// server path, nothing is stored, and the space is given back.
func TestUploadDiskFull(t *testing.T) {
	t.Parallel()
	wharfBinary(t)
	s := startServerWith(t, func(data string) {
		blobs := filepath.Join(data, "blobs")
		if err := os.MkdirAll(blobs, 0o700); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", blobs).CombinedOutput(); err != nil {
			t.Skipf("cannot mount a small tmpfs (needs root): %v %s", err, out)
		}
		t.Cleanup(func() { exec.Command("umount", "-l", blobs).Run() })
	})
	const project = "wharf-full"
	token := s.scopedToken(t, project, "upload,read", "1h")
	p := filepath.Join(t.TempDir(), "wharf_full-1.0.tar.gz")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeSdist(f, project, "1.0", newRandomData(), 6<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	twine := requireTool(t, "twine")
	r := runCmd(t, cmdSpec{name: twine, args: []string{"upload", "--non-interactive", "--disable-progress-bar",
		"--repository-url", s.uploadURL(), "-u", "__token__", "-p", token, p}})
	r.mustFail(t)
	out := r.output()
	if !strings.Contains(out, "507") || !strings.Contains(out, "out of space") {
		t.Errorf("twine does not show 507 out of space:\n%s", r)
	}
	if strings.Contains(out, "again") && strings.Contains(out, "truncated") || strings.Contains(out, s.data) || strings.Contains(out, "/tmp") {
		t.Errorf("the refusal blames the client or shows a server path:\n%s", r)
	}
	if got := s.indexFilenames(t, project); len(got) != 0 {
		t.Errorf("index lists %v after a full disk", got)
	}
	if got := tempFiles(t, s.data); len(got) != 0 {
		t.Errorf("the failed upload's temporary was not removed: %v", got)
	}
}
