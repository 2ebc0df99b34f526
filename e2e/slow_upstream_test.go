package e2e

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// TestSlowUpstream: pip, with a 2-second read timeout and no retries,
// installs through a remote repository whose upstream is slow. The first
// download of a 3 MiB wheel the upstream trickles out over about 5 s
// reaches pip as it arrives (streamed, not after wharf has the whole
// file); then, with the page past its TTL and the upstream hanging, pip
// gets the stale page after refresh_wait instead of waiting for the
// upstream's timeout.
func TestSlowUpstream(t *testing.T) {
	t.Parallel()
	wharfBinary(t)
	py := python(t, "pip")
	pad := make([]byte, 3<<20)
	rand.Read(pad)
	whl := makeWheelFiles(t, "slow-lib", "1.0", "", [][2]string{{"slow_lib/data.bin", string(pad)}})
	name := "slow_lib-1.0-py3-none-any.whl"
	var hang atomic.Bool
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/simple/slow-lib/":
			if hang.Load() {
				<-r.Context().Done()
				return
			}
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, "<a href=\"../../packages/%s#sha256=%s\">%s</a>\n", name, sha256hex(whl), name)
		case "/packages/" + name:
			w.Header().Set("Content-Length", strconv.Itoa(len(whl)))
			for rest := whl; len(rest) > 0; {
				n := min(64<<10, len(rest))
				if _, err := w.Write(rest[:n]); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				rest = rest[n:]
				time.Sleep(100 * time.Millisecond)
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(up.Close)
	t.Cleanup(up.CloseClientConnections) // runs first: ends the hanging handler

	s := startServer(t)
	s.admin(t, "repo", "create", "slow", "--kind", "remote", "--upstream", up.URL+"/simple/", "--ttl", "1s", "--stale-max-age", "1h")
	install := func() {
		t.Helper()
		target := filepath.Join(t.TempDir(), "target")
		r := runCmd(t, cmdSpec{name: py, args: []string{
			"-m", "pip", "install", "--disable-pip-version-check", "--no-cache-dir", "--no-input",
			"--timeout", "2", "--retries", "0",
			"--index-url", s.URL + "/slow/simple/", "--no-deps", "--target", target, "slow-lib",
		}})
		r.mustSucceed(t)
		if got := installedVersion(t, target, "slow_lib"); got != "1.0" {
			t.Errorf("installed slow-lib %s, want 1.0", got)
		}
	}
	install() // the cold file, trickling
	hang.Store(true)
	time.Sleep(1100 * time.Millisecond) // past the 1s TTL
	install()                           // the stale page, the cached file
}
