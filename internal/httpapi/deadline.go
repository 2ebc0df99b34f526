package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
)

// Defaults for the body deadlines (Config.BodyTimeout, Config.UploadMinRate).
const (
	// DefaultBodyTimeout is how long any request body may take to arrive:
	// the JSON bodies of the token, OIDC and admin routes are a few KiB.
	DefaultBodyTimeout = 10 * time.Second
	// DefaultUploadMinRate is the slowest average an upload may keep
	// after its first DefaultBodyTimeout: 8 KiB/s is a poor mobile link,
	// and a 100 MiB wheel then has over three hours.
	DefaultUploadMinRate = 8 << 10
)

// limitBodies puts every request body under a read deadline, so a client
// that declares a body and sends it slowly, or never, cannot hold a
// connection (and a handler) for ever: the body must arrive within
// BodyTimeout. Uploads switch to a minimum rate (see uploadRate). The
// deadline is the connection's (http.ResponseController), so a blocked
// read returns when it passes; it is lifted once the body is read, so a
// slow handler after that is not cut off.
func (s *Server) limitBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
			b := &deadlineBody{body: r.Body, rc: http.NewResponseController(w), start: time.Now(), timeout: s.cfg.BodyTimeout}
			if b.setDeadline(b.start.Add(b.timeout)) {
				r.Body = b
			}
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody is a request body read under a connection read deadline:
// start+timeout, or for uploads start+timeout+received/rate, moved on as
// bytes arrive.
type deadlineBody struct {
	body     io.ReadCloser
	rc       *http.ResponseController
	start    time.Time
	timeout  time.Duration
	rate     int64     // bytes per second; 0: the fixed deadline
	received int64     // bytes read so far
	deadline time.Time // as last set
	done     bool      // EOF seen: no deadline any more
	late     bool      // a read failed on the deadline
}

// lateError is the client's error for a body that missed its deadline.
// Parsers do not all pass a read error on (a multipart header cut short
// reads as "malformed"), so callers ask late and use this.
func (b *deadlineBody) lateError() error {
	return errs.E(errs.Invalid, "httpapi", &errSlowBody{timeout: b.timeout, rate: b.rate})
}

// errSlowBody is what a handler reads when the deadline passed: a client
// error that names no addresses (the net error would).
type errSlowBody struct {
	timeout time.Duration
	rate    int64
}

func (e *errSlowBody) Error() string {
	if e.rate > 0 {
		return fmt.Sprintf("the request body arrived slower than the server's minimum of %s/s (after the first %v): send it over a faster link", registry.FormatBytes(e.rate), e.timeout)
	}
	return fmt.Sprintf("the request body did not arrive within %v", e.timeout)
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	b.received += int64(n)
	switch {
	case err == io.EOF:
		b.done = true
		b.setDeadline(time.Time{})
	case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
		b.late = true
		err = b.lateError()
	case n > 0 && b.rate > 0:
		b.extend()
	}
	return n, err
}

func (b *deadlineBody) Close() error { return b.body.Close() }

// uploadRate switches the body to the minimum-rate deadline: each byte
// received buys 1/rate seconds more, so a slow but steady link finishes
// whatever the file's size, and a stalled one is cut off once it falls
// behind.
func (b *deadlineBody) uploadRate(rate int64) {
	if rate <= 0 || b.done {
		return
	}
	b.rate = rate
	b.extend()
}

func (b *deadlineBody) extend() {
	d := b.start.Add(b.timeout + time.Duration(float64(b.received)/float64(b.rate)*float64(time.Second)))
	// Setting a deadline is cheap but not free: move it in steps.
	if d.Sub(b.deadline) >= 100*time.Millisecond {
		b.setDeadline(d)
	}
}

// setDeadline reports whether the connection supports read deadlines (an
// HTTP/1 or HTTP/2 connection of net/http does; httptest recorders do not).
func (b *deadlineBody) setDeadline(d time.Time) bool {
	if b.done && !d.IsZero() {
		return true
	}
	b.deadline = d
	return b.rc.SetReadDeadline(d) == nil
}
