package httpapi

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type ctxKey int

const requestIDKey ctxKey = iota

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// statusWriter records the status and size of a response. It forwards the
// optional interfaces the handlers rely on: ReadFrom (so downloads keep the
// fast copy path), Hijack (upload errors with a reason phrase) and Flush.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := io.Copy(w.ResponseWriter, r) // uses the underlying ReaderFrom
	w.bytes += n
	return n, err
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("hijack not supported")
	}
	if w.status == 0 {
		w.status = http.StatusBadRequest // hijacked only to write an error; see willHijack
	}
	return hj.Hijack()
}

// willHijack records the status a handler is about to write on the
// hijacked connection, which the access log and the request metrics
// cannot see otherwise.
func (w *statusWriter) willHijack(status int) {
	if w.status == 0 {
		w.status = status
	}
}

// noteHijackStatus tells the statusWriter under w (through any wrapping
// writers) the status about to be written on the hijacked connection.
func noteHijackStatus(w http.ResponseWriter, status int) {
	for w != nil {
		if sw, ok := w.(*statusWriter); ok {
			sw.willHijack(status)
			return
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return
		}
		w = u.Unwrap()
	}
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestIDs makes unique request IDs cheaply: a random per-process prefix
// and a counter, instead of reading random bytes on every request.
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &requestIDs{prefix: hex.EncodeToString(b[:]) + "-"}
}

func (g *requestIDs) next() string {
	var buf [32]byte
	out := append(buf[:0], g.prefix...)
	return string(strconv.AppendUint(out, g.n.Add(1), 36))
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	uploads  *prometheus.CounterVec

	// Resolved series, so the hot path does not hash label values.
	mu     sync.RWMutex
	series map[seriesKey]series
}

type seriesKey struct {
	route string
	code  int
}

type series struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

func (m *metrics) observe(route string, code int, d time.Duration) {
	k := seriesKey{route, code}
	m.mu.RLock()
	sr, ok := m.series[k]
	m.mu.RUnlock()
	if !ok {
		sr = series{m.requests.WithLabelValues(route, strconv.Itoa(code)), m.duration.WithLabelValues(route)}
		m.mu.Lock()
		m.series[k] = sr
		m.mu.Unlock()
	}
	sr.count.Inc()
	sr.duration.Observe(d.Seconds())
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wharf_http_requests_total", Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "wharf_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route"}),
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wharf_upload_results_total", Help: "Upload attempts by outcome (stored, existing, refused kind).",
		}, []string{"outcome"}),
		series: make(map[seriesKey]series),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration, m.uploads)
	}
	return m
}

// instrument is the outermost middleware: request ID, panic recovery, the
// access log (at debug level, so the hot path does not format lines nobody
// reads) and metrics by route pattern.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 || !printable(id) {
			id = s.ids.next()
		}
		w.Header()["X-Request-Id"] = []string{id}
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey, id))
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("panic in handler", "panic", fmt.Sprint(p), "stack", string(debug.Stack()), "request_id", id)
				if sw.status == 0 {
					writeText(sw, http.StatusInternalServerError, "internal server error")
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			elapsed := time.Since(start)
			s.metrics.observe(route, status, elapsed)
			if s.log.Enabled(r.Context(), slog.LevelDebug) {
				s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", status,
					"bytes", sw.bytes, "duration_ms", float64(elapsed.Microseconds())/1000, "request_id", id)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}
