package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/wharf-dev/wharf/internal/blob"
	"github.com/wharf-dev/wharf/internal/errs"
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
	for _, text := range []string{string(msg)} {
		if !strings.Contains(text, "out of space") {
			t.Errorf("%q does not say the server is out of space", text)
		}
		if strings.Contains(text, "/srv") || strings.Contains(text, "tmp") || strings.Contains(strings.ToLower(text), "upload the file again") {
			t.Errorf("%q shows a server path or blames the client", text)
		}
	}
}
