package remote

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"

	"github.com/wharf-dev/wharf/internal/errs"
)

// fill is one file being fetched from an upstream. The fetch writes each
// chunk to the blob temp and to an unlinked spool file; every client that
// asked for the file reads the spool as it grows, so all of them stream
// from the first chunk, and memory stays one chunk whatever the size. The
// last byte is held back until the sha256 is verified: a client of a file
// that fails verification (or breaks off) gets an error instead of it,
// and its connection is cut rather than ended as if complete.
type fill struct {
	mu sync.Mutex
	// changed is closed, and replaced, on every change below.
	changed chan struct{}
	started bool  // the upstream answered: size and spool are set
	stored  bool  // another replica stored the blob: read it from there
	size    int64 // -1 when the upstream did not say
	written int64
	done    bool // verified (err nil) or failed
	err     error
	spool   *os.File
	refs    int // the fetch and the readers; the last one closes the spool
}

func newFill() *fill { return &fill{changed: make(chan struct{}), size: -1} }

func (f *fill) changedLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fill) hold() {
	f.mu.Lock()
	f.refs++
	f.mu.Unlock()
}

func (f *fill) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refs--
	if f.refs == 0 && f.spool != nil {
		f.spool.Close()
		f.spool = nil
	}
}

func (f *fill) start(size int64, spool *os.File) {
	f.mu.Lock()
	f.started, f.size, f.spool = true, size, spool
	f.changedLocked()
	f.mu.Unlock()
}

func (f *fill) advance(written int64) {
	f.mu.Lock()
	f.written = written
	f.changedLocked()
	f.mu.Unlock()
}

// finish ends the fill: verified when err is nil. Only the first call
// counts (a commit failing after verification does not take the file back
// from its readers).
func (f *fill) finish(err error) {
	f.mu.Lock()
	if !f.done {
		f.done, f.err = true, err
		f.changedLocked()
	}
	f.mu.Unlock()
}

func (f *fill) markStored() {
	f.mu.Lock()
	f.stored, f.done = true, true
	f.changedLocked()
	f.mu.Unlock()
}

// waitStarted waits until the upstream has answered. It returns the
// fill's error when it failed (the client then gets a proper error
// response), and whether the blob is in the store instead of the spool.
func (f *fill) waitStarted(ctx context.Context) (stored bool, err error) {
	for {
		f.mu.Lock()
		if f.done && f.err != nil {
			err := f.err
			f.mu.Unlock()
			return false, err
		}
		if f.stored || f.started {
			stored := f.stored
			f.mu.Unlock()
			return stored, nil
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false, errs.E(errs.Unavailable, "remote", ctx.Err())
		}
	}
}

// fillReader is one client's read of a fill's spool.
type fillReader struct {
	f      *fill
	ctx    context.Context
	off    int64
	closed bool
}

func (r *fillReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	f := r.f
	for {
		f.mu.Lock()
		if f.done && f.err != nil {
			err := f.err
			f.mu.Unlock()
			return 0, err
		}
		avail := f.written
		if !f.done {
			avail-- // the last byte waits for the sha256 check
		}
		if r.off < avail {
			spool := f.spool
			f.mu.Unlock()
			n, err := spool.ReadAt(p[:min(int64(len(p)), avail-r.off)], r.off)
			r.off += int64(n)
			if n > 0 || err == nil {
				return n, nil
			}
			return 0, errs.E(errs.Unavailable, "remote", err)
		}
		if f.done {
			f.mu.Unlock()
			return 0, io.EOF
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-r.ctx.Done():
			return 0, errs.E(errs.Unavailable, "remote", r.ctx.Err())
		}
	}
}

// Seek serves Range requests and the size probe of http.ServeContent;
// seeking from the end needs the upstream's Content-Length.
func (r *fillReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.off + offset
	case io.SeekEnd:
		if r.f.size < 0 {
			return r.off, errors.New("remote: the size of a file still arriving is not known")
		}
		abs = r.f.size + offset
	default:
		return r.off, errors.New("remote: bad whence")
	}
	if abs < 0 {
		return r.off, errors.New("remote: negative position")
	}
	r.off = abs
	return abs, nil
}

func (r *fillReader) Close() error {
	if !r.closed {
		r.closed = true
		r.f.release()
	}
	return nil
}
