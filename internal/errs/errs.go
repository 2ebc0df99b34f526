// Package errs defines the closed set of error kinds wharf uses across
// packages. Kinds say what went wrong in domain terms; the one table that
// turns a kind into an HTTP status lives in httpapi, so this package never
// imports net/http.
package errs

import (
	"errors"
	"fmt"
)

// Kind classifies an error. The zero value is Internal.
type Kind uint8

const (
	Internal         Kind = iota // a bug or an unexpected failure: 500
	Invalid                      // the caller sent something wrong: 400
	Unauthenticated              // no or bad credentials: 401 (a valid token lacking a permission is PermissionDenied, 403)
	PermissionDenied             // credentials fine, not allowed: 403
	NotFound                     // 404
	Conflict                     // already exists, or state forbids it: 409 (upload duplicates use Invalid as PyPI does)
	TooLarge                     // over a configured size limit: 413
	RateLimited                  // 429
	Upstream                     // an upstream index misbehaved: 502
	Unavailable                  // a dependency (database, object store) is down: 503
	Gone                         // removed for good (PyPI's 410 for retired actions)
	NotAcceptable                // no representation the client accepts: 406
	NoSpace                      // the server's storage is full: 507; never the client's fault
)

var kindNames = [...]string{
	Internal: "internal", Invalid: "invalid", Unauthenticated: "unauthenticated",
	PermissionDenied: "permission denied", NotFound: "not found", Conflict: "conflict",
	TooLarge: "too large", RateLimited: "rate limited", Upstream: "upstream",
	Unavailable: "unavailable", Gone: "gone", NotAcceptable: "not acceptable",
	NoSpace: "no space",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Error carries a kind and the operation that failed around a cause.
type Error struct {
	Kind Kind
	Op   string // "hosted.Upload", "sqlstore.Files.Add", ...
	Err  error
}

func (e *Error) Error() string {
	switch {
	case e.Op != "" && e.Err != nil:
		return e.Op + ": " + e.Err.Error()
	case e.Err != nil:
		return e.Err.Error()
	case e.Op != "":
		return e.Op + ": " + e.Kind.String()
	default:
		return e.Kind.String()
	}
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an *Error. err may be nil.
func E(kind Kind, op string, err error) error {
	return &Error{Kind: kind, Op: op, Err: err}
}

// Errorf builds an *Error whose cause is fmt.Errorf(format, args...).
func Errorf(kind Kind, op, format string, args ...any) error {
	return &Error{Kind: kind, Op: op, Err: fmt.Errorf(format, args...)}
}

// KindOf returns the first kind other than Internal found along err's chain,
// or Internal.
func KindOf(err error) Kind {
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return Internal
		}
		if e.Kind != Internal {
			return e.Kind
		}
		err = e.Err
	}
	return Internal
}

// Is reports whether err carries kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }

// Message returns the innermost human message of err: the text of the cause
// without the operation prefixes, which is what a client is shown.
func Message(err error) string {
	var e *Error
	for errors.As(err, &e) {
		if e.Err == nil {
			return e.Kind.String()
		}
		err = e.Err
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

// public carries a sentence any client may be shown for a server-side
// failure, next to the detailed cause kept for the log and administrators.
type public struct {
	err error
	msg string
}

func (p *public) Error() string { return p.err.Error() }
func (p *public) Unwrap() error { return p.err }

// Public attaches msg to err as what anonymous clients are shown when err
// is a server-side failure (5xx), instead of the kind's generic sentence.
// msg must name nothing internal (addresses, paths, secrets, SDK text):
// "the upstream refused wharf's credentials for repository 'pypi'" is fine.
func Public(err error, msg string) error {
	if err == nil {
		return nil
	}
	return &public{err: err, msg: msg}
}

// PublicMessage returns the outermost message attached with Public, or "".
func PublicMessage(err error) string {
	var p *public
	if errors.As(err, &p) {
		return p.msg
	}
	return ""
}
