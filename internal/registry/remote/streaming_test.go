package remote_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wharf-dev/wharf/internal/blob/fsblob"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/remote"
)

const wheelName = "demo-1.0-py3-none-any.whl"

// streamed sets the fixture's wheel to content (advertising sha, or the
// content's own sha256 when sha is "") and serves it through serve.
func (f *fixture) streamed(t *testing.T, content []byte, sha string, serve http.HandlerFunc) {
	t.Helper()
	if sha == "" {
		sum := sha256.Sum256(content)
		sha = hex.EncodeToString(sum[:])
	}
	f.up.wheel, f.up.advertised = content, sha
	f.up.fileHandler.Store(&serve)
	if _, _, err := f.svc.Project(context.Background(), f.repo, "demo"); err != nil {
		t.Fatal(err)
	}
}

// readAtLeast reads from r until it has n bytes or fails, and gives up
// (failing the test) after 20s: a client that cannot start reading until
// the whole file is fetched never gets there while the upstream holds
// the rest back.
func readAtLeast(t *testing.T, r io.Reader, n int) []byte {
	t.Helper()
	done := make(chan []byte, 1)
	go func() {
		buf := make([]byte, n)
		m, _ := io.ReadFull(r, buf)
		done <- buf[:m]
	}()
	select {
	case b := <-done:
		return b
	case <-time.After(20 * time.Second):
		t.Fatalf("no %d bytes after 20s", n)
		return nil
	}
}

// openAsync opens the wheel, giving up after 20s (Open itself must not
// wait for the whole file).
func openAsync(t *testing.T, svc *remote.Service, repo registry.Repository, sha string) (io.ReadSeekCloser, error) {
	t.Helper()
	type result struct {
		c   io.ReadSeekCloser
		err error
	}
	done := make(chan result, 1)
	go func() {
		d, err := svc.Open(context.Background(), repo, sha, wheelName, false)
		done <- result{d.Content, err}
	}()
	select {
	case r := <-done:
		return r.c, r.err
	case <-time.After(20 * time.Second):
		t.Fatal("Open still waiting after 20s")
		return nil, nil
	}
}

// TestColdFileStreamsToEveryClient: three clients of a cold file all read
// its first half while the upstream holds back the second; one upstream
// fetch serves them, and the file is stored for later ones.
func TestColdFileStreamsToEveryClient(t *testing.T) {
	t.Parallel()
	f := setup(t, registry.RemoteSettings{}, 100*time.Hour)
	content := bytes.Repeat([]byte("0123456789abcdef"), 128<<10) // 2 MiB
	half := len(content) / 2
	gate := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(gate) }) }
	t.Cleanup(open) // before the upstream's Close, which waits for the handler
	f.streamed(t, content, "", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(content)))
		w.Write(content[:half])
		w.(http.Flusher).Flush()
		<-gate
		w.Write(content[half:])
	})
	var readers []io.ReadSeekCloser
	for range 3 {
		c, err := openAsync(t, f.svc, f.repo, f.up.advertised)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		readers = append(readers, c)
	}
	// All of the first half but its last byte, which is held back while
	// it could be the file's last (until the sha256 is checked).
	for i, c := range readers {
		if got := readAtLeast(t, c, half-1); !bytes.Equal(got, content[:half-1]) {
			t.Fatalf("client %d: %d bytes of the first half, want %d", i, len(got), half-1)
		}
	}
	open()
	var wg sync.WaitGroup
	for i, c := range readers {
		wg.Go(func() {
			rest, err := io.ReadAll(c)
			if err != nil || !bytes.Equal(rest, content[half-1:]) {
				t.Errorf("client %d: the second half: %d bytes, %v", i, len(rest), err)
			}
		})
	}
	wg.Wait()
	if n := f.up.fileHits.Load(); n != 1 {
		t.Errorf("%d upstream fetches for three clients, want 1", n)
	}
	c, err := openAsync(t, f.svc, f.repo, f.up.advertised)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if b, _ := io.ReadAll(c); !bytes.Equal(b, content) || f.up.fileHits.Load() != 1 {
		t.Errorf("a later client: %d bytes, %d fetches; want the stored file", len(b), f.up.fileHits.Load())
	}
}

// TestStreamedFileThatFailsIsNotServedWhole: a file whose sha256 does not
// match, or whose upstream breaks off, reaches its streaming clients as
// everything but the last byte and then an error, never as a complete
// body; it is not stored; a client arriving afterwards gets the error as
// a response.
func TestStreamedFileThatFailsIsNotServedWhole(t *testing.T) {
	t.Parallel()
	content := bytes.Repeat([]byte("x"), 1<<20)
	// Each upstream sends half the file, waits for the client to have
	// opened it, then fails.
	for _, tt := range []struct {
		name string
		sha  string
		end  func(w http.ResponseWriter) // after the first half
		kind errs.Kind
	}{
		{"sha256 mismatch", hex.EncodeToString(make([]byte, 32)), func(w http.ResponseWriter) {
			w.Write(content[len(content)/2:])
		}, errs.Upstream},
		{"upstream breaks off", "", func(w http.ResponseWriter) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}, errs.Upstream},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, registry.RemoteSettings{}, 100*time.Hour)
			opened := make(chan struct{})
			var once sync.Once
			open := func() { once.Do(func() { close(opened) }) }
			t.Cleanup(open)
			f.streamed(t, content, tt.sha, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", strconv.Itoa(len(content)))
				w.Write(content[:len(content)/2])
				w.(http.Flusher).Flush()
				<-opened
				tt.end(w)
			})
			c, err := openAsync(t, f.svc, f.repo, f.up.advertised)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			open()
			got, err := io.ReadAll(c)
			c.Close()
			if err == nil || errs.KindOf(err) != tt.kind || len(got) >= len(content) {
				t.Errorf("read %d of %d bytes, err %v; want fewer and an %v error", len(got), len(content), err, tt.kind)
			}
			bs, _ := fsblob.New(filepath.Join(f.dir, "blobs"))
			sum := sha256.Sum256(content)
			if _, err := bs.Stat(context.Background(), hex.EncodeToString(sum[:])); err == nil {
				t.Error("the failed file was stored")
			}
			if _, err := f.svc.Open(context.Background(), f.repo, f.up.advertised, wheelName, false); errs.KindOf(err) != tt.kind {
				t.Errorf("a later client: err = %v, want the failure", err)
			}
		})
	}
}

// TestStreamingMemoryDoesNotGrowWithFileSize: a 64 MiB cold file read by
// two clients allocates a small fraction of its size. Not parallel, so
// the allocation count is this test's alone.
func TestStreamingMemoryDoesNotGrowWithFileSize(t *testing.T) {
	f := setup(t, registry.RemoteSettings{}, 100*time.Hour)
	const size = 64 << 20
	chunk := bytes.Repeat([]byte("wharf streams!\n."), 4<<10) // 64 KiB
	h := sha256.New()
	for range size / len(chunk) {
		h.Write(chunk)
	}
	f.up.advertised = hex.EncodeToString(h.Sum(nil))
	serve := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		for range size / len(chunk) {
			w.Write(chunk)
		}
	})
	f.up.fileHandler.Store(&serve)
	if _, _, err := f.svc.Project(context.Background(), f.repo, "demo"); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			c, err := f.svc.Open(context.Background(), f.repo, f.up.advertised, wheelName, false)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Content.Close()
			n, err := io.CopyBuffer(io.Discard, c.Content, make([]byte, 256<<10))
			if err != nil || n != size {
				t.Errorf("read %d bytes, %v", n, err)
			}
		})
	}
	wg.Wait()
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > size/8 {
		t.Errorf("streaming %d MiB to two clients allocated %d MiB", size>>20, grew>>20)
	}
	if f.up.fileHits.Load() != 1 {
		t.Errorf("%d upstream fetches, want 1", f.up.fileHits.Load())
	}
}
