package httpapi

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/errs"
)

// statusOf is the one table from error kinds to HTTP statuses. adminapi
// and the UI use it through Status.
var statusOf = [...]int{
	errs.Internal:         http.StatusInternalServerError,
	errs.Invalid:          http.StatusBadRequest,
	errs.Unauthenticated:  http.StatusUnauthorized,
	errs.PermissionDenied: http.StatusForbidden,
	errs.NotFound:         http.StatusNotFound,
	errs.Conflict:         http.StatusConflict,
	errs.TooLarge:         http.StatusRequestEntityTooLarge,
	errs.RateLimited:      http.StatusTooManyRequests,
	errs.Upstream:         http.StatusBadGateway,
	errs.Unavailable:      http.StatusServiceUnavailable,
	errs.Gone:             http.StatusGone,
	errs.NotAcceptable:    http.StatusNotAcceptable,
	errs.NoSpace:          http.StatusInsufficientStorage,
}

// Status returns the HTTP status for err.
func Status(err error) int {
	k := errs.KindOf(err)
	if int(k) < len(statusOf) && statusOf[k] != 0 {
		return statusOf[k]
	}
	return http.StatusInternalServerError
}

// What callers are told about server-side failures (5xx). The detail of
// such an error names internal things (upstream and object store addresses,
// dial and SDK errors, buckets, keys, file paths): it goes to the log with
// the request id and to server administrators, never to other callers.
// They get a stable sentence per kind, or the one the error carries from
// errs.Public, and the request id to quote.
var publicOf = [...]string{
	errs.Internal:    "internal server error",
	errs.Upstream:    "the upstream index did not answer as expected; try again later",
	errs.Unavailable: "the server is temporarily unavailable; try again shortly",
	// The upload was fine; the server cannot keep it.
	errs.NoSpace: "the server is out of space: the upload was not stored; try again later (the server's operator must free or add storage)",
}

// retryAfter is the Retry-After of a 503, in seconds: long enough for a
// dependency to come back or a deadline's cause to clear, short enough for
// pip's retries.
const retryAfter = "5"

// ClientMessage is the text the caller of r is shown for err. Client
// errors (4xx) say what to fix. Server errors (5xx) say only what
// publicOf or errs.Public say, and the request id, unless the caller
// authenticates as a server administrator (checked with a, which may be
// nil): then the detail follows.
func ClientMessage(r *http.Request, err error, a *auth.Service) string {
	if Status(err) < 500 {
		return errs.Message(err)
	}
	msg := errs.PublicMessage(err)
	if msg == "" {
		k := errs.KindOf(err)
		if int(k) < len(publicOf) {
			msg = publicOf[k]
		}
		if msg == "" {
			msg = "the server could not complete the request"
		}
	}
	if id := requestID(r.Context()); id != "" {
		msg += " (request id " + id + ")"
	}
	if seesDetail(r, a) {
		msg += ": " + errs.Message(err)
	}
	return msg
}

// seesDetail reports whether r carries a server administrator's token.
// Only failed requests ask, so the extra authentication costs nothing on
// the hot path.
func seesDetail(r *http.Request, a *auth.Service) bool {
	if a == nil {
		return false
	}
	secret, err := auth.ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return false
	}
	p, err := a.Authenticate(r.Context(), secret)
	return err == nil && p.ServerAdmin()
}

// logError logs 5xx at Error and everything else at Debug.
func logError(log *slog.Logger, r *http.Request, status int, err error) {
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelError
	}
	log.Log(r.Context(), level, "request failed", "method", r.Method, "path", r.URL.Path,
		"status", status, "error", err.Error(), "request_id", requestID(r.Context()))
}

// writeText writes err as one plain-text line, the form PyPI clients print.
func writeText(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Basic realm="wharf"`)
	}
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", retryAfter)
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}

// WriteJSONError writes err as {"error": {"code": kind, "message": text}},
// the text being ClientMessage's.
func WriteJSONError(w http.ResponseWriter, r *http.Request, status int, err error, a *auth.Service) {
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="wharf"`)
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfter)
	}
	msg := ClientMessage(r, err, a)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{
		"code": errs.KindOf(err).String(), "message": msg,
	}})
}

// reasonPhrase turns a message into a safe HTTP reason phrase: printable
// ASCII on one line, bounded.
func reasonPhrase(msg string) string {
	var b strings.Builder
	for _, c := range msg {
		if b.Len() >= 400 {
			break
		}
		if c >= 0x20 && c < 0x7f {
			b.WriteRune(c)
		} else if c == '\n' || c == '\t' {
			b.WriteByte(' ')
		}
	}
	return strings.TrimSpace(b.String())
}

// writeUploadError answers a failed upload. twine, poetry and pdm show the
// status line and not the body, and PyPI puts its message in the reason
// phrase; net/http cannot set a reason phrase, so for HTTP/1.x the response
// is written on the hijacked connection, for every refusal (401, 403, 404,
// 413 as much as 400). A refusal before the body was read (no credentials,
// say) answers at once and closes without reading the body (lingerClose).
func writeUploadError(w http.ResponseWriter, r *http.Request, status int, msg string, bodyRead bool) {
	hj, ok := w.(http.Hijacker)
	if r.ProtoMajor != 1 || !ok {
		writeText(w, status, msg)
		return
	}
	noteHijackStatus(w, status)
	conn, rw, err := hj.Hijack()
	if err != nil {
		if !bodyRead {
			w.Header().Set("Connection", "close") // see lingerClose
		}
		writeText(w, status, msg)
		return
	}
	body := msg + "\n"
	var bw *bufio.Writer = rw.Writer
	bw.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + reasonPhrase(msg) + "\r\n")
	bw.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
	bw.WriteString("X-Content-Type-Options: nosniff\r\n")
	if status == http.StatusUnauthorized {
		bw.WriteString("WWW-Authenticate: Basic realm=\"wharf\"\r\n")
	}
	if status == http.StatusServiceUnavailable {
		bw.WriteString("Retry-After: " + retryAfter + "\r\n")
	}
	if id := requestID(r.Context()); id != "" {
		bw.WriteString("X-Request-Id: " + id + "\r\n")
	}
	bw.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	bw.WriteString("Connection: close\r\n\r\n")
	bw.WriteString(body)
	_ = bw.Flush()
	if bodyRead {
		conn.Close()
		return
	}
	lingerClose(conn)
}

// Bounds of lingerClose: what a refused client may still send is read
// and dropped for this long, or up to this much, and no more.
const (
	lingerTime  = 2 * time.Second
	lingerBytes = 4 << 20
)

// lingerClose closes a connection whose request body was not read. Closing
// at once would answer the bytes still arriving with a reset, which can
// destroy the response before the client reads it; so the write side is
// shut first (the client sees the response and its end), and what the
// client still sends is read and dropped for a moment: never the whole of
// a large body.
func lingerClose(conn net.Conn) {
	defer conn.Close()
	cw, ok := conn.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	_ = conn.SetReadDeadline(time.Now().Add(lingerTime))
	_, _ = io.CopyN(io.Discard, conn, lingerBytes)
}

var errNoRoute = errs.E(errs.NotFound, "httpapi", errors.New("not found"))
