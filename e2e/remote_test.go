package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestRemoteRepositories drives remote and virtual repositories against two
// real upstreams on loopback: Debian's nginx serving a static PEP 503 tree
// behind basic auth, and a second wharf whose private repository wants a
// __token__ token. Credentials live in the downstream wharf's secret store.
func TestRemoteRepositories(t *testing.T) {
	t.Parallel()
	wharfBinary(t)                // skips unless the end-to-end suite was asked for
	nginxBin := "/usr/sbin/nginx" // Debian's, outside a non-root user's PATH
	if _, err := os.Stat(nginxBin); err != nil {
		nginxBin = requireTool(t, "nginx")
	}

	// The static tree: every project a wheel pip can install; "tampered"
	// advertises a sha256 its file does not have.
	tree := filepath.Join(t.TempDir(), "tree")
	versions := map[string]string{"nginx-lib": "1.0", "cold-lib": "1.0", "tampered": "1.0", "rotated": "1.0", "stale-lib": "1.0", "shadowed": "9.0"}
	wheels := map[string][]byte{}
	for p, v := range versions {
		wheels[p] = makeWheel(t, p, v)
	}
	writeSimpleTree(t, tree, versions, wheels, map[string]string{"tampered": sha256hex([]byte("other bytes"))})
	ngx := startNginx(t, nginxBin, tree, "wharf", "pw-1")

	// The token upstream: a second wharf with a private repository.
	up := startServer(t)
	up.admin(t, "repo", "create", "private", "--private")
	uploader := firstLine(up.admin(t, "token", "create", "--repo", "private", "--actions", "upload,read", "--expires", "1h"))
	for _, p := range []string{"wharf-lib", "token-rotated"} {
		u := upload{project: p, version: "1.0", filetype: "bdist_wheel", filename: modName(p) + "-1.0-py3-none-any.whl", token: uploader, repo: "private"}
		if st, body := u.post(t, up, makeWheel(t, p, "1.0")); st != http.StatusOK {
			t.Fatalf("upload %s upstream: %d %s", p, st, body)
		}
	}
	reader1 := createToken(t, up, "--repo", "private", "--actions", "read", "--expires", "1h")

	// The wharf under test.
	s := startServer(t)
	s.setSecret(t, "nginx-pw", "pw-1", true)
	s.setSecret(t, "up-token", reader1.Token, true)
	s.admin(t, "repo", "create", "nginx", "--kind", "remote", "--upstream", ngx.URL+"/simple/",
		"--auth", "basic", "--username", "wharf", "--secret", "nginx-pw")
	s.admin(t, "repo", "create", "nginx-stale", "--kind", "remote", "--upstream", ngx.URL+"/simple/",
		"--auth", "basic", "--username", "wharf", "--secret", "nginx-pw", "--ttl", "1s", "--stale-max-age", "1h")
	s.admin(t, "repo", "create", "upwharf", "--kind", "remote", "--upstream", up.URL+"/private/simple/",
		"--auth", "token", "--secret", "up-token")
	s.admin(t, "repo", "create", "cool", "--kind", "remote", "--upstream", up.URL+"/private/simple/",
		"--auth", "token", "--secret", "up-token", "--min-release-age", "72h")
	s.admin(t, "repo", "create", "mix", "--kind", "virtual", "--member", "local", "--member", "upwharf",
		"--member", "nginx", "--upload-to", "local")
	for _, g := range [][2]string{{"nginx-pw", "nginx"}, {"nginx-pw", "nginx-stale"}, {"up-token", "upwharf"}, {"up-token", "cool"}} {
		s.admin(t, "secret", "grant", g[0], "--repo", g[1])
	}
	list := s.admin(t, "repo", "list")
	for _, want := range []string{"members=local,upwharf,nginx upload-to=local", "auth=basic user=wharf secret=nginx-pw@latest", "min-release-age=3d"} {
		if !strings.Contains(list, want) {
			t.Errorf("repo list lacks %q:\n%s", want, list)
		}
	}
	mix := s.URL + "/mix/simple/"

	t.Run("pip install through the virtual repository", func(t *testing.T) {
		for _, p := range []string{"nginx-lib", "wharf-lib"} {
			target, r := pipInstall(t, mix, p)
			r.mustSucceed(t)
			if got := installedVersion(t, target, modName(p)); got != "1.0" {
				t.Errorf("%s: installed %s, want 1.0", p, got)
			}
		}
	})

	t.Run("a hosted project hides the upstream one of the same name", func(t *testing.T) {
		u := upload{project: "shadowed", version: "1.0", filetype: "bdist_wheel", filename: "shadowed-1.0-py3-none-any.whl", token: s.Admin}
		if st, body := u.post(t, s, makeWheel(t, "shadowed", "1.0")); st != http.StatusOK {
			t.Fatalf("hosted upload: %d %s", st, body)
		}
		if got := pageFiles(t, s.URL+"/nginx/simple/shadowed/"); !strings.Contains(strings.Join(got, " "), "shadowed-9.0") {
			t.Fatalf("the upstream should offer shadowed 9.0, offers %v", got)
		}
		if diff := strings.Join(pageFiles(t, mix+"shadowed/"), " "); diff != "shadowed-1.0-py3-none-any.whl" {
			t.Errorf("mix offers %q, want only the hosted shadowed-1.0 wheel", diff)
		}
		target, r := pipInstall(t, mix, "shadowed")
		r.mustSucceed(t)
		if got := installedVersion(t, target, "shadowed"); got != "1.0" {
			t.Errorf("installed shadowed %s, want the hosted 1.0", got)
		}
	})

	t.Run("a file that does not match the upstream hash is refused", func(t *testing.T) {
		page := projectPageAt(t, s.URL+"/nginx/simple/tampered/")
		if len(page.Files) != 1 {
			t.Fatalf("tampered page: %+v", page)
		}
		fileURL := resolve(t, s.URL+"/nginx/simple/tampered/", page.Files[0].URL)
		// The first client streams the file as it arrives and is cut off
		// before its last byte when the hash check fails; nothing is
		// cached, and the next client is refused with the reason.
		resp, err := http.Get(fileURL)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && !(resp.StatusCode == http.StatusBadGateway && strings.Contains(string(b), "does not match the sha256")) {
			t.Errorf("first GET %s = %d, %d bytes read completely; want a cut connection or a 502", fileURL, resp.StatusCode, len(b))
		}
		got := fetch(t, fileURL, "*/*")
		if got.status != http.StatusBadGateway || !strings.Contains(got.body, "does not match the sha256") {
			t.Errorf("second GET %s = %d %s, want 502 naming the hash mismatch", fileURL, got.status, got.body)
		}
		_, r := pipInstall(t, s.URL+"/nginx/simple/", "tampered")
		r.mustFail(t)
	})

	t.Run("100 concurrent requests for a cold project cause one upstream fetch", func(t *testing.T) {
		const n = 100
		var wg sync.WaitGroup
		statuses := make([]int, n)
		for i := range n {
			wg.Go(func() {
				req, _ := http.NewRequest("GET", s.URL+"/nginx/simple/cold-lib/", nil)
				req.Header.Set("Accept", pipAccept)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Errorf("request %d: %v", i, err)
					return
				}
				resp.Body.Close()
				statuses[i] = resp.StatusCode
			})
		}
		wg.Wait()
		for i, st := range statuses {
			if st != http.StatusOK {
				t.Errorf("request %d: status %d", i, st)
			}
		}
		if got := ngx.requests(t, "GET /simple/cold-lib/ "); got != 1 {
			t.Errorf("nginx saw %d requests for /simple/cold-lib/, want 1", got)
		}
	})

	t.Run("cooldown hides a fresh file", func(t *testing.T) {
		fresh := projectPageAt(t, s.URL+"/upwharf/simple/wharf-lib/")
		if len(fresh.Files) != 1 {
			t.Fatalf("upwharf offers %v, want the wheel", fresh.filenames())
		}
		cool := projectPageAt(t, s.URL+"/cool/simple/wharf-lib/")
		if len(cool.Files) != 0 {
			t.Errorf("cool offers %v, want nothing during the 72h cooldown", cool.filenames())
		}
		f := fresh.Files[0]
		got := fetch(t, s.URL+"/cool/files/"+f.Hashes["sha256"]+"/"+f.Filename, "*/*")
		if got.status != http.StatusNotFound || !strings.Contains(got.body, "cooldown") {
			t.Errorf("download during cooldown: %d %s, want 404 naming the cooldown", got.status, got.body)
		}
		_, r := pipInstall(t, s.URL+"/cool/simple/", "wharf-lib")
		r.mustFail(t)
	})

	t.Run("a new secret version is used on the next request", func(t *testing.T) {
		// Basic auth: the password changes upstream, then in wharf.
		ngx.setPassword(t, "wharf", "pw-2")
		// Anonymous callers learn that the credentials were refused, not
		// which secret holds them; the server admin sees which version.
		got := fetch(t, s.URL+"/nginx/simple/rotated/", pipAccept)
		if got.status != http.StatusBadGateway || !strings.Contains(got.body, "refused wharf's credentials") || strings.Contains(got.body, "nginx-pw") {
			t.Errorf("old password, anonymously: %d %s, want 502 saying the credentials were refused, naming no secret", got.status, got.body)
		}
		got = fetchAs(t, s.URL+"/nginx/simple/rotated/", pipAccept, s.Admin)
		if got.status != http.StatusBadGateway || !strings.Contains(got.body, "secret 'nginx-pw' version 1") || strings.Contains(got.body, "pw-1") {
			t.Errorf("old password, as the admin: %d %s, want 502 naming secret nginx-pw version 1 (and never the value)", got.status, got.body)
		}
		s.setSecret(t, "nginx-pw", "pw-2", false)
		if got := pageFiles(t, s.URL+"/nginx/simple/rotated/"); len(got) != 1 {
			t.Errorf("after add-version: files %v", got)
		}

		// __token__: a new token upstream, the old one revoked.
		reader2 := createToken(t, up, "--repo", "private", "--actions", "read", "--expires", "1h")
		up.admin(t, "token", "revoke", reader1.ID)
		got = fetchAs(t, s.URL+"/upwharf/simple/token-rotated/", pipAccept, s.Admin)
		if got.status != http.StatusBadGateway || !strings.Contains(got.body, "secret 'up-token' version 1") {
			t.Errorf("revoked token: %d %s, want 502 naming secret up-token version 1", got.status, got.body)
		}
		s.setSecret(t, "up-token", reader2.Token, false)
		target, r := pipInstall(t, mix, "token-rotated")
		r.mustSucceed(t)
		if got := installedVersion(t, target, "token_rotated"); got != "1.0" {
			t.Errorf("installed token-rotated %s, want 1.0", got)
		}
	})

	t.Run("stale pages and cached files outlive the upstream", func(t *testing.T) {
		page := s.URL + "/nginx-stale/simple/stale-lib/"
		p := projectPageAt(t, page)
		if len(p.Files) != 1 {
			t.Fatalf("stale-lib: %v", p.filenames())
		}
		fileURL := resolve(t, page, p.Files[0].URL)
		if got := fetch(t, fileURL, "*/*"); got.status != http.StatusOK || got.body != string(wheels["stale-lib"]) {
			t.Fatalf("download through the cache: %d (%d bytes)", got.status, len(got.body))
		}
		ngx.stop(t)
		time.Sleep(1100 * time.Millisecond) // past the 1s TTL
		got := fetch(t, page, pipAccept)
		if got.status != http.StatusOK || !strings.Contains(got.Header.Get("Warning"), "110") {
			t.Errorf("page with the upstream down: %d, Warning %q; want 200 with a 110 warning\n%s", got.status, got.Header.Get("Warning"), got.body)
		}
		if got := fetch(t, fileURL, "*/*"); got.status != http.StatusOK || got.body != string(wheels["stale-lib"]) {
			t.Errorf("cached file with the upstream down: %d (%d bytes)", got.status, len(got.body))
		}
		got = fetch(t, s.URL+"/nginx-stale/simple/nginx-lib/", pipAccept)
		if got.status != http.StatusBadGateway || !strings.Contains(got.body, "could not be reached") {
			t.Errorf("never-cached page with the upstream down: %d %s, want 502 saying the upstream could not be reached", got.status, got.body)
		}
		// The address and the dial error are for the log and the admin.
		if host := strings.TrimPrefix(ngx.URL, "http://"); strings.Contains(got.body, host) || strings.Contains(got.body, "dial") {
			t.Errorf("anonymous 502 shows the upstream address or the dial error: %s", got.body)
		}
		if got := fetchAs(t, s.URL+"/nginx-stale/simple/nginx-lib/", pipAccept, s.Admin); !strings.Contains(got.body, "connection refused") {
			t.Errorf("the admin's 502 lacks the dial error: %s", got.body)
		}
		target, r := pipInstall(t, s.URL+"/nginx-stale/simple/", "stale-lib")
		r.mustSucceed(t)
		if got := installedVersion(t, target, "stale_lib"); got != "1.0" {
			t.Errorf("installed stale-lib %s, want 1.0", got)
		}
	})
}

// setSecret creates a secret (create) or adds a version, the value going
// through a file as an operator's would (never the command line).
func (s *server) setSecret(t *testing.T, name, value string, create bool) {
	t.Helper()
	if create {
		s.admin(t, "secret", "create", name)
	}
	f := filepath.Join(t.TempDir(), "value")
	if err := os.WriteFile(f, []byte(value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.admin(t, "secret", "add-version", name, "--from-file", f)
}

type createdToken struct {
	Token string `json:"token"`
	ID    string `json:"id"`
}

func createToken(t *testing.T, s *server, args ...string) createdToken {
	t.Helper()
	var tok createdToken
	out := s.admin(t, append([]string{"token", "create", "--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &tok); err != nil || tok.Token == "" || tok.ID == "" {
		t.Fatalf("token create --json: %v %q", err, out)
	}
	return tok
}

func projectPageAt(t *testing.T, u string) projectPage {
	t.Helper()
	got := fetch(t, u, pipAccept)
	if got.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, got.status, got.body)
	}
	var p projectPage
	if err := json.Unmarshal([]byte(got.body), &p); err != nil {
		t.Fatalf("GET %s: %v\n%s", u, err, got.body)
	}
	return p
}

func pageFiles(t *testing.T, u string) []string {
	t.Helper()
	return projectPageAt(t, u).filenames()
}

func resolve(t *testing.T, base, ref string) string {
	t.Helper()
	b, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	r.Fragment = ""
	return r.String()
}

// writeSimpleTree writes a static PEP 503 index: simple/index.html,
// simple/<project>/index.html linking ../../packages/<file>#sha256=..., and
// the files. advertise overrides the sha256 a project's page claims.
func writeSimpleTree(t *testing.T, root string, versions map[string]string, wheels map[string][]byte, advertise map[string]string) {
	t.Helper()
	var idx strings.Builder
	idx.WriteString("<!DOCTYPE html>\n<html><body>\n")
	for project, whl := range wheels {
		name := modName(project) + "-" + versions[project] + "-py3-none-any.whl"
		sum := sha256hex(whl)
		if a := advertise[project]; a != "" {
			sum = a
		}
		page := fmt.Sprintf("<!DOCTYPE html>\n<html><body>\n<a href=\"../../packages/%s#sha256=%s\">%s</a>\n</body></html>\n", name, sum, name)
		mustWrite(t, filepath.Join(root, "simple", project, "index.html"), []byte(page))
		mustWrite(t, filepath.Join(root, "packages", name), whl)
		fmt.Fprintf(&idx, "<a href=\"%s/\">%s</a>\n", project, project)
	}
	idx.WriteString("</body></html>\n")
	mustWrite(t, filepath.Join(root, "simple", "index.html"), []byte(idx.String()))
}

func mustWrite(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// nginxServer is Debian's nginx serving a directory behind basic auth, with
// an access log the test reads.
type nginxServer struct {
	URL  string
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

func startNginx(t *testing.T, bin, root, user, password string) *nginxServer {
	t.Helper()
	dir := t.TempDir()
	addr := freeAddr(t)
	n := &nginxServer{URL: "http://" + addr, dir: dir}
	n.setPassword(t, user, password)
	userLine := nginxUserLine()
	conf := fmt.Sprintf(`%s
worker_processes 1;
daemon off;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log;
events { worker_connections 512; }
http {
	access_log %[2]s/access.log;
	client_body_temp_path %[2]s/tmp-body;
	proxy_temp_path %[2]s/tmp-proxy;
	fastcgi_temp_path %[2]s/tmp-fastcgi;
	uwsgi_temp_path %[2]s/tmp-uwsgi;
	scgi_temp_path %[2]s/tmp-scgi;
	types { text/html html; }
	default_type application/octet-stream;
	server {
		listen %[3]s;
		root %[4]s;
		index index.html;
		auth_basic "wharf e2e";
		auth_basic_user_file %[2]s/htpasswd;
	}
}
`, userLine, dir, addr, root)
	n.run(t, bin, conf, n.URL+"/simple/", http.StatusUnauthorized)
	return n
}

// nginxUserLine is the user directive a test nginx needs: as root, workers
// would switch to nobody, who cannot read test temp dirs.
func nginxUserLine() string {
	if os.Geteuid() == 0 {
		return "user root root;"
	}
	return ""
}

// run starts nginx on conf (written to n.dir) and waits until probe
// answers want.
func (n *nginxServer) run(t *testing.T, bin, conf, probe string, want int) {
	t.Helper()
	dir := n.dir
	mustWrite(t, filepath.Join(dir, "nginx.conf"), []byte(conf))
	n.cmd = exec.Command(bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", filepath.Join(dir, "nginx.conf"))
	out := &logBuffer{}
	n.cmd.Stdout, n.cmd.Stderr = out, out
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("starting nginx: %v", err)
	}
	n.done = make(chan struct{})
	go func() { n.cmd.Wait(); close(n.done) }()
	t.Cleanup(func() {
		n.stop(t)
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx output:\n%s\nerror.log:\n%s", out.tail(8<<10), b)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(probe)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
		}
		select {
		case <-n.done:
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %v\n%s\n%s", n.cmd.ProcessState, out.tail(8<<10), b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx not answering %d on %s after 10s (last: %v)", want, probe, errOrStatus(resp, err))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// setPassword replaces the htpasswd file; nginx reads it on every request.
// {PLAIN} is nginx's own scheme for a clear-text password, fine for a test.
func (n *nginxServer) setPassword(t *testing.T, user, password string) {
	t.Helper()
	tmp := filepath.Join(n.dir, "htpasswd.tmp")
	mustWrite(t, tmp, []byte(user+":{PLAIN}"+password+"\n"))
	if err := os.Rename(tmp, filepath.Join(n.dir, "htpasswd")); err != nil {
		t.Fatal(err)
	}
}

// requests counts access log lines containing s (such as "GET /x/ ").
func (n *nginxServer) requests(t *testing.T, s string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(n.dir, "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), s)
}

func (n *nginxServer) stop(t *testing.T) {
	t.Helper()
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	select {
	case <-n.done:
		return
	default:
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
	}
}
