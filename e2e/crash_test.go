package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// bigDataSize makes the sdist about 200 MiB: large enough that the upload
// is mid-stream for a while, small enough for a 2-core CI box.
const bigDataSize = 200 << 20

// randomData is a deterministic, incompressible byte stream (same seed, same
// bytes), so the sdist can be generated again instead of kept on disk.
type randomData struct{ r *rand.ChaCha8 }

func newRandomData() randomData {
	return randomData{rand.NewChaCha8([32]byte{'w', 'h', 'a', 'r', 'f'})}
}

func (d randomData) Read(p []byte) (int, error) { return d.r.Read(p) }

func writeBigSdist(w io.Writer) error {
	return writeSdist(w, "wharf-big", "1.0", newRandomData(), bigDataSize)
}

// countingWriter counts bytes and calls at once when the count reaches mark.
type countingWriter struct {
	w    io.Writer
	n    int64
	mark int64
	at   func()
}

func (c *countingWriter) Write(p []byte) (int, error) {
	before := c.n
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.at != nil && before < c.mark && c.n >= c.mark {
		c.at()
	}
	return n, err
}

// readCloser lets the transport's Close of the request body reach the pipe,
// so the generator stops when the connection dies.
type readCloser struct {
	io.Reader
	io.Closer
}

// TestKillDuringUpload: kill -9 the server halfway through a 200 MiB upload
// and restart it on the same data. Nothing of the interrupted upload may be
// visible (index, file URL, committed blobs), and the same upload must then
// succeed.
func TestKillDuringUpload(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	const project, filename = "wharf-big", "wharf_big-1.0.tar.gz"
	token := s.scopedToken(t, project, "upload,read", "1h")

	// First pass: the sdist's size and digest, without storing it.
	sizer := &countingWriter{w: io.Discard}
	h := sha256.New()
	if err := writeBigSdist(io.MultiWriter(sizer, h)); err != nil {
		t.Fatal(err)
	}
	size, sum := sizer.n, hex.EncodeToString(h.Sum(nil))
	u := upload{project: project, version: "1.0", filetype: "sdist", filename: filename, token: token}

	// Second pass: stream it, and kill the server once half is sent.
	pr, pw := io.Pipe()
	half := make(chan struct{})
	killed := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		cw := &countingWriter{w: pw, mark: size / 2, at: func() {
			close(half)
			<-killed // hold the stream still while the server dies
		}}
		pw.CloseWithError(writeBigSdist(cw))
	}()
	req := u.request(t, s, pr, size, sum)
	req.Body = readCloser{req.Body, pr}
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			err = errors.New("server answered " + resp.Status + ": " + string(b))
		}
		errc <- err
	}()
	select {
	case <-half:
	case err := <-errc:
		close(killed)
		t.Fatalf("upload ended before half of it was sent: %v", err)
	case <-time.After(2 * time.Minute):
		close(killed)
		t.Fatal("half of the upload not sent after 2 minutes")
	}
	s.kill9(t)
	close(killed)
	pr.CloseWithError(errors.New("server killed"))
	select {
	case err := <-errc:
		t.Logf("interrupted upload ended with: %v", err)
		if err == nil {
			t.Error("the interrupted upload reported success")
		}
	case <-time.After(time.Minute):
		t.Fatal("client still uploading a minute after the server was killed")
	}
	wg.Wait()

	left := tempFiles(t, s.data)
	if len(left) == 0 {
		t.Fatal("the killed upload left no temporary file: the test did not interrupt it")
	}
	s.start(t)
	// The killed process's temporary (about 100 MiB) is reclaimed at
	// start: nobody owns it any more (issue 11 item 10).
	if got := tempFiles(t, s.data); len(got) != 0 {
		t.Errorf("temporaries of the killed upload survive the restart: %v", got)
	}
	if page, ok := s.projectJSON(t, project); ok && len(page.Files) > 0 {
		t.Fatalf("interrupted upload is listed after restart: %v", page.filenames())
	}
	if got := fetch(t, s.URL+"/local/files/"+sum+"/"+filename, "*/*"); got.status != http.StatusNotFound {
		t.Errorf("GET the interrupted file: %d, want 404", got.status)
	}
	if p := findBlob(t, s.data, sum); p != "" {
		t.Errorf("interrupted upload committed as %s", p)
	}
	checkCommittedBlobs(t, s.data)

	// The same upload, start to finish, now succeeds.
	pr, pw = io.Pipe()
	go func() { pw.CloseWithError(writeBigSdist(pw)) }()
	req = u.request(t, s, pr, size, sum)
	req.Body = readCloser{req.Body, pr}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("re-upload after restart: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("re-upload after restart: %s: %s", resp.Status, b)
	}
	page, _ := s.projectJSON(t, project)
	if len(page.Files) != 1 || page.Files[0].Filename != filename || page.Files[0].Hashes["sha256"] != sum || page.Files[0].Size != size {
		t.Fatalf("index after re-upload: %+v, want %s with sha256 %s and size %d", page.Files, filename, sum, size)
	}
	checkDownload(t, s.URL+"/local/files/"+sum+"/"+filename, sum, size)
	checkCommittedBlobs(t, s.data)
}

// tempFiles lists the upload temporaries under the blob store's tmp/ (not
// the owners' lock files), with their sizes.
func tempFiles(t *testing.T, data string) []string {
	t.Helper()
	var files []string
	root := filepath.Join(data, "blobs", "tmp")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if info, ierr := d.Info(); ierr == nil && d.Type().IsRegular() && !strings.HasSuffix(p, ".lock") {
			files = append(files, fmt.Sprintf("%s (%d bytes)", strings.TrimPrefix(p, root), info.Size()))
		}
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return files
}

// checkDownload streams a file and compares its digest and size.
func checkDownload(t *testing.T, url, sum string, size int64) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum || n != size {
		t.Errorf("GET %s: %d bytes with sha256 %s, want %d bytes with %s", url, n, got, size, sum)
	}
}
