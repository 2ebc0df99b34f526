// Package blobtest is the conformance suite every blob.Store implementation
// runs from its own tests, so that the contract written in package blob's
// doc comments holds the same way on every backend.
package blobtest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wharf-dev/wharf/internal/blob"
	"github.com/wharf-dev/wharf/internal/errs"
)

// LargeSize is the size of the streamed object in the large-object test
// (a quarter of it under -short).
const LargeSize = 64 << 20

// Run runs the suite. open must return an empty store that belongs to the
// calling test (it registers its own cleanup with t.Cleanup); it is called
// once per subtest, and subtests run in parallel.
func Run(t *testing.T, open func(t *testing.T) blob.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s blob.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"WritePatterns", testWritePatterns},
		{"EmptyObject", testEmptyObject},
		{"ReadAtBeforeCommit", testReadAtBeforeCommit},
		{"InvisibleBeforeCommit", testInvisibleBeforeCommit},
		{"CommitExisting", testCommitExisting},
		{"AbortAfterCommit", testAbortAfterCommit},
		{"DoubleAbort", testDoubleAbort},
		{"UseAfterCommit", testUseAfterCommit},
		{"NotFound", testNotFound},
		{"Delete", testDelete},
		{"BadKeys", testBadKeys},
		{"List", testList},
		{"ListStopsEarly", testListStopsEarly},
		{"Seek", testSeek},
		{"ServeContentRange", testServeContentRange},
		{"ConcurrentCommit", testConcurrentCommit},
		{"LargeStreamed", testLargeStreamed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// Stream returns n bytes of deterministic pseudo-random data for seed,
// generated on the fly, so tests and benchmarks can push large objects
// through a store without holding them in memory.
func Stream(seed uint64, n int64) io.Reader {
	return io.LimitReader(&xorshift{x: seed*0x9e3779b97f4a7c15 | 1, used: 8}, n)
}

// xorshift yields the bytes of successive xorshift64 states. It keeps its
// place inside a state, so the stream is the same however it is read.
type xorshift struct {
	x    uint64
	used int // bytes of x already handed out; 8 means take a new state
}

func (r *xorshift) Read(p []byte) (int, error) {
	x, used := r.x, r.used
	for i := range p {
		if used == 8 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			used = 0
		}
		p[i] = byte(x >> (8 * used))
		used++
	}
	r.x, r.used = x, used
	return len(p), nil
}

func keyOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// pattern returns n bytes that differ from one seed to another.
func pattern(seed uint64, n int) []byte {
	b, err := io.ReadAll(Stream(seed, int64(n)))
	if err != nil {
		panic(err) // cannot happen: Stream never fails
	}
	return b
}

// put stores data with a single Write and returns the Commit result.
func put(t *testing.T, s blob.Store, data []byte) blob.Info {
	t.Helper()
	ctx := t.Context()
	tmp, err := s.Create(ctx)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	defer tmp.Abort()
	if n, err := tmp.Write(data); err != nil || n != len(data) {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(data))
	}
	info, err := tmp.Commit(ctx)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return info
}

func readAll(t *testing.T, s blob.Store, key string) []byte {
	t.Helper()
	obj, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open(%s): %v", key, err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	return b
}

func list(t *testing.T, s blob.Store) []blob.Info {
	t.Helper()
	var infos []blob.Info
	for info, err := range s.List(t.Context()) {
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		infos = append(infos, info)
	}
	slices.SortFunc(infos, func(a, b blob.Info) int { return strings.Compare(a.Key, b.Key) })
	return infos
}

var ignoreModTime = cmpopts.IgnoreFields(blob.Info{}, "ModTime")

func wantNotFound(t *testing.T, s blob.Store, key string) {
	t.Helper()
	ctx := t.Context()
	if _, err := s.Stat(ctx, key); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat(%s) error = %v, want blob.ErrNotFound", key, err)
	}
	obj, err := s.Open(ctx, key)
	if !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Open(%s) error = %v, want blob.ErrNotFound", key, err)
	}
	if obj != nil {
		obj.Close()
	}
}

func testRoundTrip(t *testing.T, s blob.Store) {
	data := []byte("hello, wharf: a wheel would go here")
	info := put(t, s, data)
	want := blob.Info{Key: keyOf(data), Size: int64(len(data))}
	if diff := cmp.Diff(want, info, ignoreModTime); diff != "" {
		t.Errorf("Commit info (-want +got):\n%s", diff)
	}
	if info.ModTime.IsZero() {
		t.Error("Commit info has a zero ModTime")
	}
	st, err := s.Stat(t.Context(), want.Key)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if diff := cmp.Diff(want, st, ignoreModTime); diff != "" {
		t.Errorf("Stat (-want +got):\n%s", diff)
	}
	obj, err := s.Open(t.Context(), want.Key)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer obj.Close()
	if diff := cmp.Diff(want, obj.Info(), ignoreModTime); diff != "" {
		t.Errorf("Object.Info (-want +got):\n%s", diff)
	}
	got, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if !slices.Equal(got, data) {
		t.Errorf("read back %q, want %q", got, data)
	}
}

// testWritePatterns feeds the same bytes through different write shapes:
// implementations that buffer must get every boundary right.
func testWritePatterns(t *testing.T, s blob.Store) {
	data := pattern(1, 3<<20+12345) // larger than any sensible write buffer
	for _, tt := range []struct {
		name  string
		write func(w io.Writer) error
	}{
		{"one Write", func(w io.Writer) error { _, err := w.Write(data); return err }},
		{"odd chunks", func(w io.Writer) error {
			for rest, n := data, 1; len(rest) > 0; n = n*3 + 1 {
				c := min(n%(1<<21)+1, len(rest))
				if _, err := w.Write(rest[:c]); err != nil {
					return err
				}
				rest = rest[c:]
			}
			return nil
		}},
		{"io.Copy", func(w io.Writer) error { _, err := io.Copy(w, Stream(1, int64(len(data)))); return err }},
		{"io.Copy half reads", func(w io.Writer) error {
			_, err := io.Copy(w, iotest.HalfReader(Stream(1, int64(len(data)))))
			return err
		}},
		{"io.Copy one byte then rest", func(w io.Writer) error {
			r := Stream(1, int64(len(data)))
			if _, err := io.CopyN(w, iotest.OneByteReader(r), 1000); err != nil {
				return err
			}
			_, err := io.Copy(w, r)
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tmp, err := s.Create(t.Context())
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			defer tmp.Abort()
			if err := tt.write(tmp); err != nil {
				t.Fatalf("write: %v", err)
			}
			if got, want := tmp.Size(), int64(len(data)); got != want {
				t.Errorf("Size = %d, want %d", got, want)
			}
			if got, want := tmp.SHA256(), keyOf(data); got != want {
				t.Errorf("SHA256 = %s, want %s", got, want)
			}
			info, err := tmp.Commit(t.Context())
			if err != nil {
				t.Fatalf("Commit: %v", err)
			}
			if got := readAll(t, s, info.Key); !slices.Equal(got, data) {
				t.Errorf("read back %d bytes that differ from the %d written", len(got), len(data))
			}
		})
	}
}

func testEmptyObject(t *testing.T, s blob.Store) {
	info := put(t, s, nil)
	want := blob.Info{Key: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Size: 0}
	if diff := cmp.Diff(want, info, ignoreModTime); diff != "" {
		t.Errorf("Commit info (-want +got):\n%s", diff)
	}
	if got := readAll(t, s, want.Key); len(got) != 0 {
		t.Errorf("read back %d bytes, want 0", len(got))
	}
}

func testReadAtBeforeCommit(t *testing.T, s blob.Store) {
	tmp, err := s.Create(t.Context())
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	defer tmp.Abort()
	// Small writes, a large one, small ones again, reading back between
	// them: what a buffering Temp still holds must be readable too.
	var data []byte
	var pieces [][]byte
	for i := range 300 {
		pieces = append(pieces, pattern(uint64(i), 7+i%50))
	}
	pieces = append(pieces, pattern(999, 2<<20))
	pieces = append(pieces, []byte("tail"))
	for i, p := range pieces {
		if _, err := tmp.Write(p); err != nil {
			t.Fatalf("Write %d: %v", i, err)
		}
		data = append(data, p...)
		if i%97 != 0 && i != len(pieces)-1 {
			continue
		}
		for _, off := range []int{0, len(data) / 3, max(len(data)-5, 0)} {
			buf := make([]byte, min(4096, len(data)-off))
			n, err := tmp.ReadAt(buf, int64(off))
			if err != nil && !(err == io.EOF && n == len(buf)) {
				t.Fatalf("after %d bytes, ReadAt(%d bytes, %d) = %d, %v", len(data), len(buf), off, n, err)
			}
			if !slices.Equal(buf[:n], data[off:off+n]) || n != len(buf) {
				t.Fatalf("after %d bytes, ReadAt(%d bytes, %d) gave %d wrong bytes", len(data), len(buf), off, n)
			}
		}
	}
	// Past the end: short read with io.EOF.
	buf := make([]byte, 10)
	n, err := tmp.ReadAt(buf, int64(len(data)-4))
	if n != 4 || err != io.EOF {
		t.Errorf("ReadAt across the end = %d, %v; want 4, io.EOF", n, err)
	}
	if string(buf[:n]) != "tail" {
		t.Errorf("ReadAt across the end read %q, want %q", buf[:n], "tail")
	}
	info, err := tmp.Commit(t.Context())
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if info.Key != keyOf(data) || info.Size != int64(len(data)) {
		t.Errorf("Commit = %s/%d, want %s/%d", info.Key, info.Size, keyOf(data), len(data))
	}
	if got := readAll(t, s, info.Key); !slices.Equal(got, data) {
		t.Error("committed bytes differ from those written")
	}
}

func testInvisibleBeforeCommit(t *testing.T, s blob.Store) {
	data := pattern(2, 100_000)
	key := keyOf(data)
	tmp, err := s.Create(t.Context())
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	defer tmp.Abort()
	if _, err := tmp.Write(data); err != nil {
		t.Fatalf("Write: %v", err)
	}
	wantNotFound(t, s, key)
	if got := list(t, s); len(got) != 0 {
		t.Errorf("List before Commit = %v, want nothing", got)
	}
	if _, err := tmp.Commit(t.Context()); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if _, err := s.Stat(t.Context(), key); err != nil {
		t.Errorf("Stat after Commit: %v", err)
	}
	if got := list(t, s); len(got) != 1 || got[0].Key != key {
		t.Errorf("List after Commit = %v, want only %s", got, key)
	}
}

func testCommitExisting(t *testing.T, s blob.Store) {
	data := pattern(3, 5000)
	first := put(t, s, data)
	second := put(t, s, data)
	if diff := cmp.Diff(first, second, ignoreModTime); diff != "" {
		t.Errorf("second Commit of the same bytes (-first +second):\n%s", diff)
	}
	want := []blob.Info{{Key: keyOf(data), Size: int64(len(data))}}
	if diff := cmp.Diff(want, list(t, s), ignoreModTime); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	if got := readAll(t, s, first.Key); !slices.Equal(got, data) {
		t.Error("object changed after committing the same bytes again")
	}
}

func testAbortAfterCommit(t *testing.T, s blob.Store) {
	data := []byte("committed, then aborted")
	tmp, err := s.Create(t.Context())
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := tmp.Write(data); err != nil {
		t.Fatalf("Write: %v", err)
	}
	info, err := tmp.Commit(t.Context())
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	for i := range 2 {
		if err := tmp.Abort(); err != nil {
			t.Errorf("Abort %d after Commit: %v", i+1, err)
		}
	}
	if got := readAll(t, s, info.Key); !slices.Equal(got, data) {
		t.Errorf("after Abort, object reads %q, want %q", got, data)
	}
}

func testDoubleAbort(t *testing.T, s blob.Store) {
	data := []byte("never committed")
	tmp, err := s.Create(t.Context())
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := tmp.Write(data); err != nil {
		t.Fatalf("Write: %v", err)
	}
	for i := range 2 {
		if err := tmp.Abort(); err != nil {
			t.Errorf("Abort %d: %v", i+1, err)
		}
	}
	if _, err := tmp.Commit(t.Context()); err == nil {
		t.Error("Commit after Abort succeeded, want an error")
	}
	if _, err := tmp.Write([]byte("more")); err == nil {
		t.Error("Write after Abort succeeded, want an error")
	}
	wantNotFound(t, s, keyOf(data))
	if got := list(t, s); len(got) != 0 {
		t.Errorf("List after Abort = %v, want nothing", got)
	}
}

func testUseAfterCommit(t *testing.T, s blob.Store) {
	tmp, err := s.Create(t.Context())
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	defer tmp.Abort()
	if _, err := tmp.Write([]byte("x")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if _, err := tmp.Commit(t.Context()); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if _, err := tmp.Write([]byte("y")); err == nil {
		t.Error("Write after Commit succeeded, want an error")
	}
}

func testNotFound(t *testing.T, s blob.Store) {
	put(t, s, []byte("something else"))
	key := keyOf([]byte("absent"))
	wantNotFound(t, s, key)
	_, err := s.Stat(t.Context(), key)
	if k := errs.KindOf(err); k != errs.NotFound {
		t.Errorf("KindOf(Stat error) = %v, want %v", k, errs.NotFound)
	}
}

func testDelete(t *testing.T, s blob.Store) {
	ctx := t.Context()
	if err := s.Delete(ctx, keyOf([]byte("never stored"))); err != nil {
		t.Errorf("Delete of a missing key: %v, want nil", err)
	}
	keep := put(t, s, []byte("keep me"))
	gone := put(t, s, []byte("delete me"))
	for i := range 2 {
		if err := s.Delete(ctx, gone.Key); err != nil {
			t.Errorf("Delete %d: %v", i+1, err)
		}
	}
	wantNotFound(t, s, gone.Key)
	if diff := cmp.Diff([]blob.Info{keep}, list(t, s), ignoreModTime); diff != "" {
		t.Errorf("List after Delete (-want +got):\n%s", diff)
	}
	// The content can be stored again after deletion.
	again := put(t, s, []byte("delete me"))
	if got := readAll(t, s, again.Key); string(got) != "delete me" {
		t.Errorf("re-stored object reads %q", got)
	}
}

func testBadKeys(t *testing.T, s blob.Store) {
	ctx := t.Context()
	valid := keyOf([]byte("x"))
	// Store the object some bad keys are a variation of, so a lenient
	// implementation (lowercasing, trimming) would find something.
	put(t, s, []byte("x"))
	ops := []struct {
		name string
		call func(key string) error
	}{
		{"Open", func(key string) error {
			obj, err := s.Open(ctx, key)
			if obj != nil {
				obj.Close()
			}
			return err
		}},
		{"Stat", func(key string) error { _, err := s.Stat(ctx, key); return err }},
		{"Delete", func(key string) error { return s.Delete(ctx, key) }},
	}
	for _, key := range []string{
		"",
		"../../etc/passwd",
		"../" + valid[3:],
		strings.ToUpper(valid),
		valid[:63],
		valid + "0",
		valid[:62] + "/x",
		"sha256/" + valid[:57],
		valid[:63] + "g",
		" " + valid[1:],
	} {
		for _, op := range ops {
			err := op.call(key)
			if !errors.Is(err, blob.ErrBadKey) {
				t.Errorf("%s(%q) error = %v, want blob.ErrBadKey", op.name, key, err)
			}
			if k := errs.KindOf(err); k != errs.Invalid {
				t.Errorf("KindOf(%s(%q) error) = %v, want %v", op.name, key, k, errs.Invalid)
			}
		}
	}
	if _, err := s.Stat(ctx, valid); err != nil {
		t.Errorf("after bad-key calls, Stat of the stored object: %v", err)
	}
}

func testList(t *testing.T, s blob.Store) {
	if got := list(t, s); len(got) != 0 {
		t.Fatalf("List of a new store = %v, want nothing", got)
	}
	var want []blob.Info
	for i, n := range []int{0, 1, 100, 4096, 70_000} {
		data := pattern(uint64(100+i), n)
		put(t, s, data)
		want = append(want, blob.Info{Key: keyOf(data), Size: int64(n)})
	}
	slices.SortFunc(want, func(a, b blob.Info) int { return strings.Compare(a.Key, b.Key) })
	got := list(t, s)
	if diff := cmp.Diff(want, got, ignoreModTime); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	for _, info := range got {
		if info.ModTime.IsZero() {
			t.Errorf("List: %s has a zero ModTime", info.Key)
		}
	}
}

func testListStopsEarly(t *testing.T, s blob.Store) {
	for i := range 5 {
		put(t, s, pattern(uint64(200+i), 10))
	}
	n := 0
	for _, err := range s.List(t.Context()) {
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		n++
		if n == 2 {
			break // the iterator must not call yield again (that panics)
		}
	}
	if n != 2 {
		t.Errorf("iterated %d objects, want 2", n)
	}
}

func testSeek(t *testing.T, s blob.Store) {
	data := pattern(4, 10_000)
	info := put(t, s, data)
	obj, err := s.Open(t.Context(), info.Key)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer obj.Close()
	for _, tt := range []struct {
		offset int64
		whence int
		want   int64 // absolute position
		n      int
	}{
		{100, io.SeekStart, 100, 10},
		{5, io.SeekCurrent, 115, 20},
		{-10, io.SeekEnd, 9990, 10},
		{0, io.SeekStart, 0, 1},
		{0, io.SeekEnd, 10_000, 0},
	} {
		pos, err := obj.Seek(tt.offset, tt.whence)
		if err != nil || pos != tt.want {
			t.Fatalf("Seek(%d, %d) = %d, %v; want %d", tt.offset, tt.whence, pos, err, tt.want)
		}
		buf := make([]byte, tt.n)
		if _, err := io.ReadFull(obj, buf); err != nil {
			t.Fatalf("read %d bytes at %d: %v", tt.n, pos, err)
		}
		if !slices.Equal(buf, data[pos:pos+int64(tt.n)]) {
			t.Errorf("bytes at %d differ", pos)
		}
	}
	if n, err := obj.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("Read at end = %d, %v; want 0, io.EOF", n, err)
	}
}

// testServeContentRange is what the files route does with an Object.
func testServeContentRange(t *testing.T, s blob.Store) {
	data := pattern(5, 50_000)
	info := put(t, s, data)
	for _, tt := range []struct {
		rng        string
		wantStatus int
		want       []byte
	}{
		{"", http.StatusOK, data},
		{"bytes=10-19", http.StatusPartialContent, data[10:20]},
		{"bytes=-7", http.StatusPartialContent, data[len(data)-7:]},
		{"bytes=49990-", http.StatusPartialContent, data[49990:]},
		{"bytes=60000-", http.StatusRequestedRangeNotSatisfiable, nil},
	} {
		t.Run(tt.rng, func(t *testing.T) {
			obj, err := s.Open(t.Context(), info.Key)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer obj.Close()
			req := httptest.NewRequest(http.MethodGet, "/f", nil)
			if tt.rng != "" {
				req.Header.Set("Range", tt.rng)
			}
			rec := httptest.NewRecorder()
			http.ServeContent(rec, req, "f.whl", obj.Info().ModTime, obj)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if tt.want != nil && !slices.Equal(rec.Body.Bytes(), tt.want) {
				t.Errorf("body is %d bytes that differ from the %d wanted", rec.Body.Len(), len(tt.want))
			}
		})
	}
}

func testConcurrentCommit(t *testing.T, s blob.Store) {
	data := pattern(6, 300_000)
	const n = 8
	infos := make([]blob.Info, n)
	errc := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			tmp, err := s.Create(t.Context())
			if err != nil {
				errc[i] = err
				return
			}
			defer tmp.Abort()
			if _, err := tmp.Write(data); err != nil {
				errc[i] = err
				return
			}
			infos[i], errc[i] = tmp.Commit(t.Context())
		})
	}
	close(start)
	wg.Wait()
	want := blob.Info{Key: keyOf(data), Size: int64(len(data))}
	for i := range n {
		if errc[i] != nil {
			t.Errorf("goroutine %d: %v", i, errc[i])
			continue
		}
		if diff := cmp.Diff(want, infos[i], ignoreModTime); diff != "" {
			t.Errorf("goroutine %d Commit (-want +got):\n%s", i, diff)
		}
	}
	if diff := cmp.Diff([]blob.Info{want}, list(t, s), ignoreModTime); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	if got := readAll(t, s, want.Key); !slices.Equal(got, data) {
		t.Error("object bytes differ after concurrent commits")
	}
}

func testLargeStreamed(t *testing.T, s blob.Store) {
	size := int64(LargeSize)
	if testing.Short() {
		size /= 4
	}
	want := sha256.New()
	tmp, err := s.Create(t.Context())
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	defer tmp.Abort()
	n, err := io.Copy(tmp, io.TeeReader(Stream(7, size), want))
	if err != nil || n != size {
		t.Fatalf("io.Copy = %d, %v; want %d", n, err, size)
	}
	wantKey := hex.EncodeToString(want.Sum(nil))
	info, err := tmp.Commit(t.Context())
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if info.Key != wantKey || info.Size != size {
		t.Fatalf("Commit = %s/%d, want %s/%d", info.Key, info.Size, wantKey, size)
	}
	obj, err := s.Open(t.Context(), info.Key)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer obj.Close()
	got := sha256.New()
	if n, err := io.Copy(got, obj); err != nil || n != size {
		t.Fatalf("reading back = %d, %v; want %d", n, err, size)
	}
	if k := hex.EncodeToString(got.Sum(nil)); k != wantKey {
		t.Errorf("read-back digest %s, want %s", k, wantKey)
	}
}
