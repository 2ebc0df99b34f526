package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the test holds the SQLite write lock itself

	"github.com/wharf-dev/wharf/internal/devissuer"
	"github.com/wharf-dev/wharf/internal/testenv"
)

// hangBound is how long any answer may take while a backend is paused. It
// is a hang detector, not a measurement: the configured deadlines are 1 s,
// and without them these requests never end.
const hangBound = 45 * time.Second

// boundedGet GETs u and returns the status, the Retry-After and the body,
// failing the test when no answer comes within hangBound.
func boundedGet(t *testing.T, what, u string) (int, string, string) {
	t.Helper()
	c := &http.Client{Timeout: hangBound}
	resp, err := c.Get(u)
	if err != nil {
		t.Errorf("%s: no answer within %s while the backend is paused: %v", what, hangBound, err)
		return 0, "", ""
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		// A download whose store stalls after the headers ends early:
		// bounded, and the client sees a truncated body, not a hang.
		return resp.StatusCode, resp.Header.Get("Retry-After"), "(body cut: " + err.Error() + ")"
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
}

// pausedBackend describes one backend under test: the configuration of a
// wharf using it, and how to pause and resume it.
type pausedBackend struct {
	config           func(t *testing.T, dir string) string
	pause, resume    func(t *testing.T)
	readyWhilePaused bool // /readyz may stay 200 (SQLite: reads still work)
	leaks            []string
}

// TestPausedBackends: a backend that stops answering (rather than refusing
// connections) costs each request a bounded wait: pages, downloads, twine
// uploads, token exchanges and /readyz all answer, failures as 503 with
// Retry-After and without internal addresses; nothing half-written shows;
// when the backend answers again the same process serves and takes uploads
// without a restart. PostgreSQL and S3 are paused with a TCP proxy; SQLite
// with a write lock held by another connection.
func TestPausedBackends(t *testing.T) {
	t.Parallel()
	iss, err := devissuer.New(devissuer.Config{})
	if err != nil {
		t.Fatal(err)
	}
	issURL, stopIss, err := iss.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopIss) // the subtests run after this function returns

	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		pg, s3 := clusterEnv(t)
		schema := "e2e_paused_" + randName(t)
		createSchema(t, pg, schema)
		u, err := url.Parse(pg)
		if err != nil {
			t.Fatal(err)
		}
		proxy := testenv.NewPauseProxy(t, u.Host)
		u.Host = proxy.Addr()
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		runPaused(t, iss, issURL, pausedBackend{
			config: func(t *testing.T, dir string) string {
				c := backendsConfig(dir, u.String(), schema, s3, sharedKEK(t, dir))
				return strings.Replace(c, "database:\n", "database:\n  timeout: 1s\n  lock_wait: 2s\n", 1)
			},
			pause:  func(*testing.T) { proxy.Pause() },
			resume: func(*testing.T) { proxy.Resume() },
			leaks:  []string{proxy.Addr(), schema},
		})
	})

	t.Run("s3", func(t *testing.T) {
		t.Parallel()
		pg, s3 := clusterEnv(t)
		schema := "e2e_paused_" + randName(t)
		createSchema(t, pg, schema)
		u, err := url.Parse(s3["ENDPOINT"])
		if err != nil {
			t.Fatal(err)
		}
		proxy := testenv.NewPauseProxy(t, u.Host)
		paused := map[string]string{}
		for k, v := range s3 {
			paused[k] = v
		}
		paused["ENDPOINT"] = "http://" + proxy.Addr()
		dsn := pg + "&search_path=" + schema
		if !strings.Contains(pg, "?") {
			dsn = pg + "?search_path=" + schema
		}
		runPaused(t, iss, issURL, pausedBackend{
			config: func(t *testing.T, dir string) string {
				c := backendsConfig(dir, dsn, schema, paused, sharedKEK(t, dir))
				return strings.Replace(c, "  s3:\n", "  s3:\n    timeout: 1s\n", 1)
			},
			pause:  func(*testing.T) { proxy.Pause() },
			resume: func(*testing.T) { proxy.Resume() },
			leaks:  []string{proxy.Addr(), s3["BUCKET"], "e2e-" + schema},
		})
	})

	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		wharfBinary(t)
		var db *sql.DB
		var lock *sql.Conn
		var dbPath string
		runPaused(t, iss, issURL, pausedBackend{
			config: func(t *testing.T, dir string) string {
				dbPath = filepath.Join(dir, "data", "wharf.db")
				return fmt.Sprintf("data_dir: %s\ndatabase:\n  timeout: 1s\n", filepath.Join(dir, "data"))
			},
			// Another process's write transaction: SQLite's lock, held
			// until released (a backup tool, a stuck sqlite3 shell).
			pause: func(t *testing.T) {
				var err error
				if db, err = sql.Open("sqlite", dbPath); err != nil {
					t.Fatal(err)
				}
				if lock, err = db.Conn(t.Context()); err != nil {
					t.Fatal(err)
				}
				if _, err := lock.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
					t.Fatalf("taking the write lock: %v", err)
				}
			},
			resume: func(t *testing.T) {
				if _, err := lock.ExecContext(context.Background(), "ROLLBACK"); err != nil {
					t.Errorf("releasing the write lock: %v", err)
				}
				lock.Close()
				db.Close()
			},
			readyWhilePaused: true,
			leaks:            []string{"wharf.db"},
		})
	})
}

func createSchema(t *testing.T, pg, schema string) {
	t.Helper()
	db, err := sql.Open("pgx", pg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
}

func runPaused(t *testing.T, iss *devissuer.Issuer, issURL string, b pausedBackend) {
	oidcConfig := fmt.Sprintf("oidc:\n  audience: wharf-e2e\n  issuers:\n    - name: dev\n      url: %s\n      kind: github\n", issURL)
	dir := t.TempDir()
	config := filepath.Join(dir, "wharf.yaml")
	if err := os.WriteFile(config, []byte(b.config(t, dir)+oidcConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &server{bin: wharfBinary(t), addr: freeAddr(t), log: &logBuffer{}}
	s.URL = "http://" + s.addr
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("wharf log:\n%s", s.log.tail(32<<10))
		}
	})
	startReplica(t, s, config)
	if t.Failed() {
		t.FailNow()
	}
	s.Admin = firstLine(s.wharf(t, "token", "create", "--config", config, "--admin"))
	const project, minted = "wharf-demo", "wharf-minted"
	token := s.scopedToken(t, project, "upload,read", "1h")
	s.admin(t, "publisher", "add", "--repo", "local", "--project", minted, "--pending", "github", "--issuer", issURL,
		"--owner", "acme", "--owner-id", "1234", "--repository", "widgets", "--workflow", "release.yml")
	claims := devissuer.Example("acme", "1234", "widgets", "5678", "release.yml", "refs/tags/v1.0.0")
	exchange := func(jwt string) (int, string, string) {
		c := &http.Client{Timeout: hangBound}
		body, _ := json.Marshal(map[string]string{"token": jwt})
		resp, err := c.Post(s.URL+"/_/oidc/mint-token", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Errorf("token exchange: no answer within %s: %v", hangBound, err)
			return 0, "", ""
		}
		defer resp.Body.Close()
		rb, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Retry-After"), string(rb)
	}
	idToken := func() string {
		jwt, err := iss.Token("wharf-e2e", claims)
		if err != nil {
			t.Fatal(err)
		}
		return jwt
	}
	dist := t.TempDir()
	wheel := func(version string) string {
		p := filepath.Join(dist, modName(project)+"-"+version+"-py3-none-any.whl")
		if err := os.WriteFile(p, makeWheel(t, project, version), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	twine := func(file string) cmdResult {
		return runCmd(t, cmdSpec{name: requireTool(t, "twine"), timeout: hangBound + 15*time.Second, args: []string{
			"upload", "--non-interactive", "--verbose", "--disable-progress-bar",
			"--repository-url", s.uploadURL(), "-u", "__token__", "-p", token, file}})
	}
	twine(wheel("1.0.0")).mustSucceed(t)
	pageURL := s.URL + "/local/simple/" + project + "/"
	whl1, _ := os.ReadFile(filepath.Join(dist, modName(project)+"-1.0.0-py3-none-any.whl"))
	fileURL := s.URL + "/local/files/" + sha256hex(whl1) + "/" + modName(project) + "-1.0.0-py3-none-any.whl"

	b.pause(t)
	// Each request below would hang without deadlines; each must answer.
	// A failure is a 503 with Retry-After that names nothing internal.
	check := func(what string, code int, retry, body string, ok ...int) {
		t.Helper()
		if code == 0 {
			return // already reported
		}
		for _, c := range ok {
			if code == c {
				return
			}
		}
		if code != http.StatusServiceUnavailable {
			t.Errorf("%s while paused: %d %.300s; want 503 or one of %v", what, code, body, ok)
			return
		}
		if retry == "" {
			t.Errorf("%s while paused: 503 without Retry-After", what)
		}
		for _, l := range b.leaks {
			if strings.Contains(body, l) {
				t.Errorf("%s while paused: the answer names %q: %.300s", what, l, body)
			}
		}
	}
	code, retry, body := boundedGet(t, "/readyz", s.URL+"/readyz")
	if b.readyWhilePaused {
		check("/readyz", code, retry, body, http.StatusOK)
	} else {
		check("/readyz", code, retry, body)
	}
	code, retry, body = boundedGet(t, "page", pageURL)
	check("page", code, retry, body, http.StatusOK)
	code, retry, body = boundedGet(t, "page of another project", s.URL+"/local/simple/other-project/")
	check("page of another project", code, retry, body, http.StatusOK, http.StatusNotFound)
	code, retry, body = boundedGet(t, "download", fileURL)
	check("download", code, retry, body, http.StatusOK)
	code, retry, body = exchange(idToken())
	check("token exchange", code, retry, body, http.StatusOK)
	r := twine(wheel("2.0.0"))
	if r.code == -1 {
		t.Errorf("twine upload while paused did not end within %s: %v", hangBound, r)
	} else if r.code == 0 {
		t.Logf("twine upload while paused succeeded (the backend was not needed)")
	} else if !strings.Contains(r.stdout+r.stderr, "503") {
		t.Errorf("twine upload while paused: want a 503, got %v", r)
	}

	b.resume(t)
	deadline := time.Now().Add(hangBound)
	for !ready(s.URL) {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not back %s after the backend resumed", hangBound)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The same process, no restart: the upload that failed now succeeds,
	// and what it left behind while paused was nothing visible.
	twine(wheel("2.0.0")).mustSucceed(t)
	if code, b := getBody(t, fileURL); code != 200 || !bytes.Equal(b, whl1) {
		t.Errorf("download after resume: %d", code)
	}
	if code, _, body := exchange(idToken()); code != 200 {
		t.Errorf("token exchange after resume: %d %s", code, body)
	}
	if code, page := getBody(t, pageURL); code != 200 || !strings.Contains(string(page), "2.0.0") {
		t.Errorf("page after resume: %d\n%s", code, page)
	}
}
