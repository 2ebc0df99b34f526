// Package ui is wharf's web interface: server-rendered pages from
// html/template with an embedded stylesheet and one small script (copy
// buttons), under /ui/. Every page works without JavaScript and makes no
// request outside the server (air-gapped networks).
//
// Reading goes through Reader (a small read model), writing through Admin
// (the admin API's own operations, called in process with the signed-in
// viewer's token), and every decision about what a viewer may see is
// auth.Principal.Check, the check the PyPI API makes.
package ui

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/httpapi"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Prefix is where the UI lives. "ui" is a reserved repository name, so it
// never collides with /{repo}/simple/.
const Prefix = "/ui/"

// Config holds the UI's dependencies.
type Config struct {
	Auth *auth.Service
	Read Reader
	// Admin returns the write operations acting as the holder of token.
	Admin func(token string) Admin
	// PublicURL is the server's external URL ("" means: from the request),
	// used in install commands.
	PublicURL string
	// SecureCookies marks the session cookie Secure even on plain HTTP
	// requests (wharf behind a TLS-terminating proxy); a TLS request always
	// gets it.
	SecureCookies bool
	// SessionIdle and SessionMax bound a session: it ends after SessionIdle
	// without a request, and SessionMax after sign-in whatever happens.
	// Defaults 1 h and 12 h.
	SessionIdle, SessionMax time.Duration
	Logger                  *slog.Logger
	Now                     func() time.Time
}

// UI is the web interface's handler.
type UI struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	mux      *http.ServeMux
	pages    pages
	sessions *sessions
	csrfKey  []byte
	static   staticFiles
	describe *describer
}

// New builds the UI.
func New(cfg Config) (*UI, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionIdle == 0 {
		cfg.SessionIdle = time.Hour
	}
	if cfg.SessionMax == 0 {
		cfg.SessionMax = 12 * time.Hour
	}
	u := &UI{cfg: cfg, log: cfg.Logger, now: cfg.Now, mux: http.NewServeMux(), csrfKey: make([]byte, 32), describe: newDescriber()}
	if _, err := rand.Read(u.csrfKey); err != nil {
		return nil, err
	}
	u.sessions = newSessions(cfg.SessionIdle, cfg.SessionMax, cfg.Now)
	static, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, err
	}
	if u.static, err = loadStatic(static); err != nil {
		return nil, err
	}
	if u.pages, err = parsePages(assets, u.static); err != nil {
		return nil, err
	}
	u.routes()
	return u, nil
}

// Handler serves /ui/...; mount it at Prefix.
func (u *UI) Handler() http.Handler {
	cop := http.NewCrossOriginProtection()
	return securityHeaders(cop.Handler(u.mux))
}

// handlerFunc is a page: it gets the viewer and returns an error that one
// adapter turns into an error page.
type handlerFunc func(w http.ResponseWriter, r *http.Request, v *viewer) error

func (u *UI) routes() {
	m := u.mux
	m.HandleFunc("GET /ui/static/{name}", u.static.serve)
	m.Handle("GET /ui/{$}", u.page(u.home))
	m.Handle("GET /ui/signin", u.page(u.signinForm))
	m.Handle("POST /ui/signin", u.form(u.signin))
	m.Handle("POST /ui/signout", u.form(u.signout))
	m.Handle("GET /ui/search", u.page(u.search))
	m.Handle("GET /ui/r/{repo}/{$}", u.page(u.repoPage))
	m.Handle("GET /ui/r/{repo}/{project}/{$}", u.page(u.projectPage))
	u.manageRoutes()
	m.Handle("/ui/", u.page(func(w http.ResponseWriter, r *http.Request, v *viewer) error {
		return errs.Errorf(errs.NotFound, "ui", "there is no page at %s", r.URL.Path)
	}))
}

// page adapts a page handler: it finds the viewer and renders errors.
func (u *UI) page(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := u.viewer(w, r)
		if err := h(w, r, v); err != nil {
			u.fail(w, r, v, err)
		}
	})
}

// form is page for POST handlers: the CSRF token must match first.
func (u *UI) form(h handlerFunc) http.Handler {
	return u.page(func(w http.ResponseWriter, r *http.Request, v *viewer) error {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			return errs.Errorf(errs.Invalid, "ui", "the form could not be read")
		}
		if !u.csrfValid(v, r.PostFormValue(csrfField)) {
			return errs.Errorf(errs.PermissionDenied, "ui",
				"the form's security token is missing or stale: reload the page and send it again")
		}
		return h(w, r, v)
	})
}

// maxForm bounds a form body; a policy or claims document is the largest.
const maxForm = 256 << 10

// fail renders err as an error page with the status of the shared table.
// Internal details never reach the page.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, v *viewer, err error) {
	status := httpapi.Status(err)
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelError
	}
	u.log.Log(r.Context(), level, "ui request failed", "method", r.Method, "path", r.URL.Path, "status", status, "error", err.Error())
	if status == http.StatusUnauthorized && r.Method == http.MethodGet && v.principal == nil {
		http.Redirect(w, r, "/ui/signin?next="+safeNext(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	msg := httpapi.ClientMessage(r, err, nil)
	u.render(w, r, v, status, "error", "Error", errorPage{Status: status, StatusText: http.StatusText(status), Message: msg})
}

type errorPage struct {
	Status     int
	StatusText string
	Message    string
}

// safeNext keeps a post-sign-in redirect on this UI (no open redirect).
func safeNext(s string) string {
	if !strings.HasPrefix(s, Prefix) || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\\r\n") {
		return Prefix
	}
	return s
}

// Wrap puts the UI in front of next, the rest of the server: /ui/... is
// the UI's, browsers that open / are sent to it, and every other request
// goes to next unchanged, so a client asking for the simple API (pip, uv)
// or anything but HTML gets what it got before. (The UI is not a route of
// next's mux: a /ui/ subtree would overlap /{repo}/simple/ there.)
func (u *UI) Wrap(next http.Handler) http.Handler {
	ui := u.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case strings.HasPrefix(p, Prefix):
			ui.ServeHTTP(w, r)
		case (p == "/" || p == "/ui") && (r.Method == http.MethodGet || r.Method == http.MethodHead) && wantsHTMLPage(r.Header.Get("Accept")):
			http.Redirect(w, r, Prefix, http.StatusFound)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// wantsHTMLPage reports whether an Accept header is a browser's: it names
// text/html and none of the simple API's types (pip sends text/html too,
// at a low quality, next to application/vnd.pypi.simple.*).
func wantsHTMLPage(accept string) bool {
	a := strings.ToLower(accept)
	return strings.Contains(a, "text/html") && !strings.Contains(a, "application/vnd.pypi.simple")
}

// errNotSignedIn asks for sign-in (the page adapter redirects).
var errNotSignedIn = errs.E(errs.Unauthenticated, "ui", errors.New("sign in to see this page"))

// ctxTimeout bounds the work of one page.
func ctxTimeout(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 30*time.Second)
}
