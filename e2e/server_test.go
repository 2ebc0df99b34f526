package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// server is one real `wharf serve` process with its own data directory.
type server struct {
	bin   string
	data  string
	addr  string // 127.0.0.1:PORT
	URL   string // http://127.0.0.1:PORT
	Admin string // admin token, created with `wharf token create --data --admin`

	log  *logBuffer
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// startServer starts wharf on a free port with a fresh data directory,
// waits for /healthz, creates an admin token, and stops the server when the
// test ends. The server's log is printed if the test failed.
func startServer(t *testing.T) *server {
	t.Helper()
	return startServerWith(t, nil)
}

// startServerWith is startServer with prepare run on the data directory's
// path before the first start (to mount a small filesystem there, say).
func startServerWith(t *testing.T, prepare func(data string)) *server {
	t.Helper()
	s := &server{
		bin:  wharfBinary(t),
		data: filepath.Join(t.TempDir(), "data"),
		log:  &logBuffer{},
	}
	t.Cleanup(func() {
		select {
		case <-s.done:
			// Not stopped by the test: a crash. Say so even if the
			// test passed, and fail it.
			t.Errorf("wharf serve exited during the test: %v", s.cmd.ProcessState)
		default:
		}
		s.stop()
		if t.Failed() {
			t.Logf("wharf serve log (%s):\n%s", s.data, s.log.tail(64<<10))
		}
	})
	if prepare != nil {
		prepare(s.data)
	}
	s.addr = freeAddr(t)
	s.URL = "http://" + s.addr
	s.start(t)
	s.Admin = firstLine(s.wharf(t, "token", "create", "--data", s.data, "--admin"))
	if s.Admin == "" {
		t.Fatal("wharf token create --admin printed no token")
	}
	return s
}

// freeAddr finds a port nobody listens on. Another process could take it
// before wharf binds; start then fails loudly rather than flakily passing.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start launches the process on s.data and s.addr and waits until it is
// ready. It is used again after kill9 to restart on the same data.
func (s *server) start(t *testing.T) {
	t.Helper()
	fmt.Fprintf(s.log, "=== e2e: starting wharf serve on %s\n", s.addr)
	s.cmd = exec.Command(s.bin, "serve", "--data", s.data, "--listen", s.addr)
	s.cmd.Stdout = s.log
	s.cmd.Stderr = s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting wharf serve: %v", err)
	}
	done := make(chan struct{})
	s.done = done
	cmd := s.cmd
	go func() {
		cmd.Wait()
		close(done)
	}()

	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-done:
			t.Fatalf("wharf serve exited before it was ready: %v\n%s", s.cmd.ProcessState, s.log.tail(16<<10))
		default:
		}
		resp, err := client.Get(s.URL + "/healthz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("wharf serve not healthy after 30s (last: %v)", errOrStatus(resp, err))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func errOrStatus(resp *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return resp.Status
}

// stop asks the server to shut down and kills it if it does not.
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// kill9 kills the server the hard way, as a crash or OOM kill would.
func (s *server) kill9(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9: %v", err)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("wharf serve still running 10s after SIGKILL")
	}
	fmt.Fprintf(s.log, "=== e2e: killed with SIGKILL\n")
	// start follows; a kill the test asked for is no crash.
	s.cmd, s.done = nil, nil
}

// wharf runs the CLI and returns its stdout, failing the test on a non-zero
// exit.
func (s *server) wharf(t *testing.T, args ...string) string {
	t.Helper()
	r := runCmd(t, cmdSpec{name: s.bin, args: args})
	r.mustSucceed(t)
	return r.stdout
}

// admin runs a CLI command against the running server as the admin. The
// token goes in the environment, as the CLI recommends (command lines are
// visible to other users).
func (s *server) admin(t *testing.T, args ...string) string {
	t.Helper()
	r := runCmd(t, cmdSpec{name: s.bin, args: args, env: []string{"WHARF_SERVER=" + s.URL, "WHARF_TOKEN=" + s.Admin}})
	r.mustSucceed(t)
	return r.stdout
}

// scopedToken mints a token for one project in repository local.
func (s *server) scopedToken(t *testing.T, project, actions, expires string) string {
	t.Helper()
	tok := firstLine(s.admin(t, "token", "create", "--repo", "local", "--project", project,
		"--actions", actions, "--expires", expires))
	if tok == "" {
		t.Fatal("wharf token create printed no token")
	}
	return tok
}

func (s *server) uploadURL() string { return s.URL + "/local/legacy/" }
func (s *server) indexURL() string  { return s.URL + "/local/simple/" }

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// logBuffer collects a process's output; the process writes from its own
// goroutines while the test may read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > n {
		s = "...\n" + s[len(s)-n:]
	}
	return s
}

// cmdSpec is one client run.
type cmdSpec struct {
	name    string
	args    []string
	dir     string
	env     []string // added to a minimal, isolated environment
	timeout time.Duration
}

type cmdResult struct {
	spec   cmdSpec
	stdout string
	stderr string
	code   int // -1 when the process did not exit normally
	err    error
}

func (r cmdResult) String() string {
	return fmt.Sprintf("$ %s %s\nexit: %d (%v)\n--- stdout\n%s\n--- stderr\n%s",
		filepath.Base(r.spec.name), strings.Join(redact(r.spec.args), " "), r.code, r.err, r.stdout, r.stderr)
}

func (r cmdResult) mustSucceed(t *testing.T) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("command failed:\n%s", r)
	}
}

func (r cmdResult) mustFail(t *testing.T) {
	t.Helper()
	if r.code == 0 {
		t.Fatalf("command succeeded, want failure:\n%s", r)
	}
	if r.code < 0 {
		t.Fatalf("command did not exit normally:\n%s", r)
	}
}

// output is stdout and stderr together: clients disagree on where errors go.
func (r cmdResult) output() string { return r.stdout + "\n" + r.stderr }

// runCmd runs a program with a timeout in an environment that cannot reach
// a user's configuration or the internet's package index: HOME is a fresh
// directory and pip, poetry, pdm and keyring are told not to look around.
func runCmd(t *testing.T, c cmdSpec) cmdResult {
	t.Helper()
	if c.timeout == 0 {
		c.timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.name, c.args...)
	cmd.Dir = c.dir
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(isolatedEnv(t), c.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	r := cmdResult{spec: c, stdout: stdout.String(), stderr: stderr.String(), err: err}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		r.code = -1
	}
	if ctx.Err() != nil {
		r.code = -1
		r.err = fmt.Errorf("timed out after %s: %w", c.timeout, err)
	}
	t.Logf("ran %s %s: exit %d in %s", filepath.Base(c.name), strings.Join(redact(c.args), " "), r.code, time.Since(start).Round(time.Millisecond))
	return r
}

// redact keeps tokens out of the (verbose) test log line.
func redact(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if j, k := strings.Index(a, "__token__:"), strings.LastIndexByte(a, '@'); j >= 0 && k > j {
			out[i] = a[:j] + "__token__:REDACTED" + a[k:]
		}
		if i > 0 && (args[i-1] == "--token" || args[i-1] == "-p" || args[i-1] == "-P" || args[i-1] == "--password") {
			out[i] = "REDACTED"
		}
	}
	return out
}

func isolatedEnv(t *testing.T) []string {
	home := t.TempDir()
	return []string{
		"PATH=" + envOr("PATH", "/usr/local/bin:/usr/bin:/bin"),
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".local/share"),
		"LANG=C.UTF-8",
		"TMPDIR=" + envOr("TMPDIR", "/tmp"),
		"PYTHONNOUSERSITE=1",
		"PYTHONDONTWRITEBYTECODE=1",
		"PIP_CONFIG_FILE=/dev/null",
		"PIP_NO_INPUT=1",
		"PIP_DISABLE_PIP_VERSION_CHECK=1",
		"PIP_NO_CACHE_DIR=1",
		// Keyring backends may block on a D-Bus secret service; the
		// clients get credentials from flags and env instead.
		"PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring",
		"POETRY_VIRTUALENVS_CREATE=false",
		"POETRY_NO_INTERACTION=1",
		"PDM_CHECK_UPDATE=false",
		"NO_COLOR=1",
		"TERM=dumb",
	}
}
