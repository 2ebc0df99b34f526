package s3blob

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/wharf-dev/wharf/internal/errs"
)

// Deadlines. The SDK has none of its own, so an object store that accepts
// connections and then stops answering (a partition, an overloaded or
// paused server) would hold a request, and its spool file, forever.
// Metadata calls (HEAD, DELETE, a page of a listing, starting or finishing
// a multipart upload) get a fixed deadline; a body transfer gets a minimum
// rate instead, so a large file on a slow link still goes through while a
// stalled one fails within one window.
const (
	// DefaultTimeout bounds metadata calls and is the window of the
	// minimum rate of body transfers.
	DefaultTimeout = 10 * time.Second
	// DefaultMinRate is the slowest body transfer, in bytes per second,
	// that is not abandoned.
	DefaultMinRate = 64 << 10
	// completeFactor: CompleteMultipartUpload may take the server a while
	// for a large object (S3 documents minutes); it gets this many
	// timeouts.
	completeFactor = 6
)

// call derives the context of one metadata call.
func (s *Store) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// meter enforces a transfer's minimum rate: the transfer's context is
// cancelled when fewer than rate × window bytes moved within a window of
// the time it counts. Every time that many bytes have moved, a new window
// starts.
type meter struct {
	cancel context.CancelCauseFunc
	timer  *time.Timer
	window time.Duration
	need   int64 // bytes per window

	mu     sync.Mutex
	moved  int64         // bytes since the window started
	inside time.Duration // download: store time counted in this window
}

// errStalled is the cause of a transfer cut for going too slowly.
type errStalled struct {
	window time.Duration
	need   int64
}

func (e errStalled) Error() string {
	return fmt.Sprintf("object store transfer stalled: fewer than %d bytes in %s", e.need, e.window)
}

// transfer starts metering a body transfer; the clock runs from now. An
// upload (from a local spool file: the only wait is the store's) leaves it
// running; a download pauses it whenever the client, not the store, has
// the turn, so a slow client never counts against the store.
func (s *Store) transfer(ctx context.Context) (context.Context, *meter) {
	ctx, cancel := context.WithCancelCause(ctx)
	m := &meter{cancel: cancel, window: s.timeout, need: max(int64(float64(s.minRate)*s.timeout.Seconds()), 1)}
	m.timer = time.AfterFunc(s.timeout, m.fire)
	return ctx, m
}

func (m *meter) fire() { m.cancel(errStalled{m.window, m.need}) }

// count counts n bytes moved in spent store time; a full window's worth restarts the clock.
func (m *meter) count(n int, spent time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.moved += int64(n)
	m.inside += spent
	if m.moved >= m.need {
		m.moved, m.inside = 0, 0
		m.timer.Reset(m.window)
	}
}

// pause stops the clock (download: the client, not the store, has the
// turn); resume restarts it with what is left of the window.
func (m *meter) pause() { m.timer.Stop() }

func (m *meter) resume() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.timer.Reset(max(m.window-m.inside, 0))
}

// stop releases the transfer's context.
func (m *meter) stop() {
	m.timer.Stop()
	m.cancel(context.Canceled)
}

// transferErr is s3Err for a metered transfer: when the meter cut it, the
// error says so (the SDK's only says "context canceled").
func transferErr(ctx context.Context, op string, err error) error {
	if e, ok := context.Cause(ctx).(errStalled); ok {
		return errs.E(errs.Unavailable, op, fmt.Errorf("%w: %w", e, err))
	}
	return s3Err(op, err)
}

// meteredReader counts what the SDK reads from an upload body. Seek is kept
// so the SDK can rewind the body to retry.
type meteredReader struct {
	r io.ReadSeeker
	m *meter
}

func (r meteredReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.m.count(n, 0)
	return n, err
}

func (r meteredReader) Seek(off int64, whence int) (int64, error) { return r.r.Seek(off, whence) }
