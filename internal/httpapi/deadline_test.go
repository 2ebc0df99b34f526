package httpapi_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wharf-dev/wharf/internal/httpapi"
)

// rawRequest opens a connection to e and writes the head of a POST that
// declares a body of length bytes, and then the first sent bytes of body.
func rawRequest(t *testing.T, e *env, path, token, ctype string, length int, body []byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	req, _ := http.NewRequest("POST", e.srv.URL+path, nil)
	if token != "" {
		req.SetBasicAuth("__token__", token)
	}
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n", path, ctype, length)
	if a := req.Header.Get("Authorization"); a != "" {
		fmt.Fprintf(c, "Authorization: %s\r\n", a)
	}
	io.WriteString(c, "\r\n")
	c.Write(body)
	return c
}

// answer reads the response on c and then waits for the server to close
// the connection, within limit (far above the deadlines under test, so
// only a missing deadline fails it).
func answer(t *testing.T, c net.Conn, limit time.Duration) (status int, msg string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(limit))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no response within %v: %v", limit, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if _, err := io.Copy(io.Discard, br); err != nil {
		t.Fatalf("the server still holds the connection %v after it answered %s: %v", limit, resp.Status, err)
	}
	return resp.StatusCode, resp.Status + " " + string(b)
}

func fastDeadlines(rate int64) envOptions {
	return envOptions{config: func(c *httpapi.Config) { c.BodyTimeout = 300 * time.Millisecond; c.UploadMinRate = rate }}
}

// TestBodyNeverSent: a client that declares a body and never sends it
// held the connection for ever (issue 11 item 6); now the body deadline
// releases it, on the small JSON routes and on uploads.
func TestBodyNeverSent(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, fastDeadlines(64<<10))
	fn, content := wheel(t, "demo", "1.0")
	ct, body := uploadBody(t, "demo", "1.0", fn, content, nil)
	for _, tt := range []struct{ name, path, token string }{
		{"mint-token", "/_/oidc/mint-token", ""},
		{"legacy mint-token", "/_/oidc/github/mint-token", ""},
		{"anonymous upload", "/local/legacy/", ""},
		{"authorised upload", "/local/legacy/", e.upload},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := rawRequest(t, e, tt.path, tt.token, ct, len(body), body[:10])
			answer(t, c, 5*time.Second)
		})
	}
}

// TestUploadStalls: an upload that stops halfway is answered (with the
// reason) and its connection released once it falls behind the minimum
// rate.
func TestUploadStalls(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, fastDeadlines(64<<10))
	fn, content := wheel(t, "demo", "1.0")
	ct, body := uploadBody(t, "demo", "1.0", fn, content, nil)
	c := rawRequest(t, e, "/local/legacy/", e.upload, ct, len(body), body[:len(body)/2])
	status, msg := answer(t, c, 5*time.Second)
	if status != http.StatusBadRequest || !strings.Contains(msg, "slower than the server's minimum of 64 KiB/s") {
		t.Errorf("stalled upload answered %d %q, want 400 naming the minimum rate", status, msg)
	}
}

// TestAnonymousUploadRefusedBeforeBody: no credentials, a 1 GiB body
// declared and none of it sent: 401 at once.
func TestAnonymousUploadRefusedBeforeBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := rawRequest(t, e, "/local/legacy/", "", "multipart/form-data; boundary=x", 1<<30, nil)
	status, _ := answer(t, c, 5*time.Second)
	if status != http.StatusUnauthorized {
		t.Errorf("status %d, want 401", status)
	}
}

// TestSlowSteadyUploadSucceeds: an upload slower than the body timeout
// but above the minimum rate is not cut off: a slow link still works.
func TestSlowSteadyUploadSucceeds(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, fastDeadlines(1<<10))
	fn, content := wheel(t, "demo", "1.0")
	ct, body := uploadBody(t, "demo", "1.0", fn, content, nil)
	pr, pw := io.Pipe()
	go func() {
		// About 1.5 KiB/s for a second or more: three times the 300 ms
		// body timeout, above the 1 KiB/s minimum.
		r := bytes.NewReader(body)
		chunk := make([]byte, 160)
		for {
			n, err := r.Read(chunk)
			if n > 0 {
				pw.Write(chunk[:n])
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				pw.Close()
				return
			}
		}
	}()
	req, _ := http.NewRequest("POST", e.srv.URL+"/local/legacy/", pr)
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", ct)
	req.SetBasicAuth("__token__", e.upload)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("slow upload (%v): %s %s", time.Since(start), resp.Status, msg)
	}
}
