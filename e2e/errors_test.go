package e2e

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestUploadRefused sends uploads that must be refused, straight over HTTP
// (no Python needed), and checks each leaves nothing behind. The "accepted"
// case proves the crafted request is otherwise valid, so every refusal is
// for the reason the case names.
func TestUploadRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t)

	expired := s.expiredToken(t, "expired-token", "upload,read")

	tokenFor := func(project string) string { return s.scopedToken(t, project, "upload,read", "1h") }
	wheel := func(project, version string) (upload, []byte) {
		return upload{project: project, version: version, filetype: "bdist_wheel",
			filename: modName(project) + "-" + version + "-py3-none-any.whl", token: tokenFor(project)}, makeWheel(t, project, version)
	}
	sdist := func(project, version string) (upload, []byte) {
		return upload{project: project, version: version, filetype: "sdist",
			filename: modName(project) + "-" + version + ".tar.gz", token: tokenFor(project)}, makeSdist(t, project, version)
	}

	type result struct {
		status int
		body   string
	}
	tests := []struct {
		name     string
		project  string
		send     func(t *testing.T) (result, []byte)
		status   []int  // any of
		contains string // in the body, case-insensitive
	}{
		{
			name: "accepted", project: "accepted",
			send: func(t *testing.T) (result, []byte) {
				u, b := wheel("accepted", "1.0")
				st, body := u.post(t, s, b)
				return result{st, body}, b
			},
			status: []int{http.StatusOK},
		},
		{
			name: "no token", project: "no-token",
			send: func(t *testing.T) (result, []byte) {
				u, b := wheel("no-token", "1.0")
				u.token = ""
				st, body := u.post(t, s, b)
				return result{st, body}, b
			},
			status: []int{http.StatusUnauthorized, http.StatusForbidden},
		},
		{
			name: "token for another project", project: "victim",
			send: func(t *testing.T) (result, []byte) {
				u, b := wheel("victim", "1.0")
				u.token = tokenFor("someone-else")
				st, body := u.post(t, s, b)
				return result{st, body}, b
			},
			status: []int{http.StatusForbidden},
		},
		{
			name: "expired token", project: "expired-token",
			send: func(t *testing.T) (result, []byte) {
				u, b := wheel("expired-token", "1.0")
				u.token = expired
				st, body := u.post(t, s, b)
				return result{st, body}, b
			},
			status: []int{http.StatusUnauthorized, http.StatusForbidden},
		},
		{
			name: "wrong sha256 digest", project: "bad-digest",
			send: func(t *testing.T) (result, []byte) {
				u, b := wheel("bad-digest", "1.0")
				u.sha256 = sha256hex([]byte("other bytes"))
				st, body := u.post(t, s, b)
				return result{st, body}, b
			},
			status: []int{http.StatusBadRequest}, contains: "digest",
		},
		{
			name: "path traversal in filename", project: "evil",
			send: func(t *testing.T) (result, []byte) {
				u, b := sdist("evil", "1.0")
				u.filename = "../evil-1.0.tar.gz"
				st, body := u.post(t, s, b)
				return result{st, body}, b
			},
			status: []int{http.StatusBadRequest},
		},
		{
			name: "wheel that is not a zip", project: "not-a-zip",
			send: func(t *testing.T) (result, []byte) {
				u, _ := wheel("not-a-zip", "1.0")
				b := bytes.Repeat([]byte("this is not a zip archive\n"), 100)
				st, body := u.post(t, s, b)
				return result{st, body}, b
			},
			status: []int{http.StatusBadRequest},
		},
		{
			name: "body cut off mid-file", project: "truncated",
			send: func(t *testing.T) (result, []byte) {
				u, b := wheel("truncated", "1.0")
				sendTruncated(t, s, u, b)
				return result{}, b
			},
		},
	}
	// The group returns when all its parallel cases have finished.
	t.Run("cases", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				got, content := tt.send(t)
				if tt.status != nil {
					ok := false
					for _, st := range tt.status {
						ok = ok || got.status == st
					}
					if !ok {
						t.Errorf("status %d, want one of %v; body: %s", got.status, tt.status, got.body)
					}
					if got.status != http.StatusOK && strings.TrimSpace(got.body) == "" {
						t.Errorf("status %d with an empty body: clients print the body, it must say what to fix", got.status)
					}
					if tt.contains != "" && !strings.Contains(strings.ToLower(got.body), tt.contains) {
						t.Errorf("body %q does not mention %q", got.body, tt.contains)
					}
				}
				if tt.name == "accepted" {
					if files := s.indexFilenames(t, tt.project); len(files) != 1 {
						t.Errorf("accepted upload: index lists %v, want the wheel", files)
					}
					return
				}
				assertNothingStored(t, s, tt.project, content)
			})
		}
	})
	t.Run("no file escaped the data directory", func(t *testing.T) {
		if p := findBlob(t, s.data+"/..", "evil-1.0.tar.gz"); p != "" {
			t.Errorf("path traversal wrote %s", p)
		}
	})
}

// sendTruncated writes a request whose Content-Length promises the whole
// body, sends half of it and closes the connection, as a client that dies
// mid-upload would. It then checks the server is still healthy.
func sendTruncated(t *testing.T, s *server, u upload, content []byte) {
	t.Helper()
	req := u.request(t, s, bytes.NewReader(content), int64(len(content)), sha256hex(content))
	var raw bytes.Buffer
	if err := req.Write(&raw); err != nil {
		t.Fatal(err)
	}
	full := raw.Bytes()
	at := bytes.Index(full, content)
	if at < 0 {
		t.Fatal("file bytes not found in the serialized request")
	}
	cut := at + len(content)/2 // mid-file
	conn, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(full[:cut]); err != nil {
		t.Fatalf("writing the first %d of %d bytes: %v", cut, len(full), err)
	}
	// Give the server time to start consuming the body before the close.
	time.Sleep(200 * time.Millisecond)
	conn.Close()
	time.Sleep(500 * time.Millisecond)
	resp, err := http.Get(s.URL + "/healthz")
	if err != nil {
		t.Fatalf("server unhealthy after a truncated upload: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz after a truncated upload: %s", resp.Status)
	}
}
