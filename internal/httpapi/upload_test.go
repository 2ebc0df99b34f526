package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/wharf-dev/wharf/internal/blob"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/httpapi"
)

// fullDisk is a blob store whose temporaries fail with ENOSPC once they
// hold more than room bytes, as a filling disk does mid-upload.
type fullDisk struct {
	blob.Store
	room int64
}

func (d fullDisk) Create(ctx context.Context) (blob.Temp, error) {
	t, err := d.Store.Create(ctx)
	return &fullTemp{Temp: t, room: d.room}, err
}

type fullTemp struct {
	blob.Temp
	room int64
}

func (t *fullTemp) Write(p []byte) (int, error) {
	if t.Size()+int64(len(p)) > t.room {
		// What fsblob reports for a real full disk: the path is in it.
		return 0, blob.DiskError(errs.Internal, "fsblob.Write",
			&os.PathError{Op: "write", Path: "/srv/wharf-data/blobs/tmp/ABCDEF", Err: syscall.ENOSPC})
	}
	return t.Temp.Write(p)
}

// TestUploadDiskFull: a disk that fills mid-upload is the server's
// problem: 507 "out of space", never "truncated or malformed … upload
// again" (which blamed the client), and no server path in the answer.
func TestUploadDiskFull(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, envOptions{wrap: func(s blob.Store) blob.Store { return fullDisk{Store: s, room: 100} }})
	fn, content := wheel(t, "demo", "1.0")
	ct, body := uploadBody(t, "demo", "1.0", fn, content, nil)
	resp := e.post(t, "local", e.upload, ct, body)
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusInsufficientStorage {
		t.Errorf("status %s, want 507", resp.Status)
	}
	for _, text := range []string{resp.Status, string(msg)} {
		if !strings.Contains(text, "out of space") {
			t.Errorf("%q does not say the server is out of space", text)
		}
		if strings.Contains(text, "/srv") || strings.Contains(text, "tmp") || strings.Contains(strings.ToLower(text), "upload the file again") {
			t.Errorf("%q shows a server path or blames the client", text)
		}
	}
}

// TestUploadRefusalReasonPhrase: twine, flit and pdm print only the status
// line, so every refusal on the upload route carries its message in the
// reason phrase, as PyPI's do; before, only 400s did.
func TestUploadRefusalReasonPhrase(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, envOptions{config: func(c *httpapi.Config) { c.MaxFileSize = 2000 }})
	fn, content := wheel(t, "demo", "1.0")
	ct, body := uploadBody(t, "demo", "1.0", fn, content, nil)
	bigCT, big := uploadBody(t, "demo", "1.0", fn, bytes.Repeat([]byte("x"), 3000), nil)
	for _, tt := range []struct {
		name, repo, token string
		ct                string
		body              []byte
		status            int
		want              string
	}{
		{"no credentials", "local", "", ct, body, http.StatusUnauthorized, "Invalid or non-existent authentication information"},
		{"bad token", "local", "wharf_nosuchtoken_x", ct, body, http.StatusUnauthorized, ""},
		{"other project", "local", e.other, ct, body, http.StatusForbidden, "demo"},
		{"no such repository", "nosuch", e.upload, ct, body, http.StatusNotFound, "repository 'nosuch' does not exist"},
		{"too large", "local", e.upload, bigCT, big, http.StatusRequestEntityTooLarge, "The limit for one file is 2000 bytes."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := e.post(t, tt.repo, tt.token, tt.ct, tt.body)
			msg, _ := io.ReadAll(resp.Body)
			reason := strings.TrimSpace(strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode)))
			if resp.StatusCode != tt.status || reason == http.StatusText(tt.status) || !strings.Contains(resp.Status, tt.want) {
				t.Errorf("status line %q (body %q), want %d with the message, containing %q", resp.Status, msg, tt.status, tt.want)
			}
			if !strings.Contains(string(msg), reason) {
				t.Errorf("reason %q is not the body's message %q", reason, msg)
			}
		})
	}
}
