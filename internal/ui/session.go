package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
)

const (
	sessionCookie = "wharf_session"
	// preCookie binds the sign-in form's CSRF token to the browser before
	// there is a session (double submit: the token is an HMAC of it).
	preCookie = "wharf_pre"
	csrfField = "csrf"
	// maxSessions bounds the table; the oldest sessions go first.
	maxSessions = 100_000
)

// A session is a signed-in browser. It holds the API token that was pasted
// (kept in server memory only, never sent back to the browser) so every
// request is authorised as that token, revocation included.
type session struct {
	id      string // the cookie value
	token   string
	created time.Time
	seen    time.Time
}

// sessions is the server-side session table, keyed by a hash of the cookie
// value. It lives in this process: behind a load balancer, replicas need
// sticky sessions (docs/ui.md).
type sessions struct {
	mu        sync.Mutex
	m         map[[32]byte]*session
	idle, max time.Duration
	now       func() time.Time
}

func newSessions(idle, max time.Duration, now func() time.Time) *sessions {
	return &sessions{m: map[[32]byte]*session{}, idle: idle, max: max, now: now}
}

func (s *sessions) create(token string) (*session, error) {
	id, err := randomString()
	if err != nil {
		return nil, err
	}
	now := s.now()
	ss := &session{id: id, token: token, created: now, seen: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= maxSessions {
		s.sweepLocked(now)
	}
	for k := range s.m { // still full: drop any one (map order is random)
		if len(s.m) < maxSessions {
			break
		}
		delete(s.m, k)
	}
	s.m[sha256.Sum256([]byte(id))] = ss
	return ss, nil
}

// get returns the live session of a cookie value and marks it used.
func (s *sessions) get(id string) *session {
	k := sha256.Sum256([]byte(id))
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.m[k]
	if ss == nil {
		return nil
	}
	if s.expired(ss, now) {
		delete(s.m, k)
		return nil
	}
	ss.seen = now
	return ss
}

func (s *sessions) end(id string) {
	s.mu.Lock()
	delete(s.m, sha256.Sum256([]byte(id)))
	s.mu.Unlock()
}

func (s *sessions) expired(ss *session, now time.Time) bool {
	return now.Sub(ss.seen) >= s.idle || now.Sub(ss.created) >= s.max
}

func (s *sessions) sweepLocked(now time.Time) {
	for k, ss := range s.m {
		if s.expired(ss, now) {
			delete(s.m, k)
		}
	}
}

func randomString() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", errs.E(errs.Internal, "ui", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// viewer is who is looking: anonymous (principal nil) or a signed-in token.
type viewer struct {
	session   *session
	principal *auth.Principal
	// pre is the pre-session cookie value binding anonymous forms.
	pre string
}

// admin reports whether the viewer holds an unrestricted admin token, the
// one the installation-wide pages (tokens, repositories, policies,
// secrets, the whole audit log) need.
func (v *viewer) admin() bool {
	p := v.principal
	return p != nil && p.Scope.AllowsAction(registry.Admin) && len(p.Scope.Repos) == 0 &&
		len(p.Scope.Projects) == 0 && len(p.Scope.Bindings) == 0
}

// viewer finds the request's session. A session whose token stopped
// working (revoked, expired) ends here.
func (u *UI) viewer(w http.ResponseWriter, r *http.Request) *viewer {
	v := &viewer{}
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		if ss := u.sessions.get(c.Value); ss != nil {
			p, err := u.cfg.Auth.Authenticate(r.Context(), ss.token)
			if err == nil {
				v.session, v.principal = ss, &p
				return v
			}
			u.sessions.end(c.Value)
		}
		u.clearCookie(w, r, sessionCookie)
	}
	if c, err := r.Cookie(preCookie); err == nil && len(c.Value) >= 32 && len(c.Value) <= 64 {
		v.pre = c.Value
	}
	return v
}

// csrfToken is the token forms carry: an HMAC of the session (or the
// pre-session cookie), so it cannot be guessed and needs no storage.
func (u *UI) csrfToken(v *viewer) string {
	bind := ""
	switch {
	case v.session != nil:
		bind = "s:" + v.session.id
	case v.pre != "":
		bind = "p:" + v.pre
	default:
		return ""
	}
	m := hmac.New(sha256.New, u.csrfKey)
	m.Write([]byte(bind))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (u *UI) csrfValid(v *viewer, got string) bool {
	want := u.csrfToken(v)
	return want != "" && hmac.Equal([]byte(got), []byte(want))
}

// ensurePre gives an anonymous browser its pre-session cookie, so the
// sign-in form can carry a CSRF token.
func (u *UI) ensurePre(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if v.session != nil || v.pre != "" {
		return nil
	}
	pre, err := randomString()
	if err != nil {
		return err
	}
	v.pre = pre
	u.setCookie(w, r, preCookie, pre, 0)
	return nil
}

func (u *UI) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: Prefix, MaxAge: int(maxAge.Seconds()),
		HttpOnly: true, Secure: r.TLS != nil || u.cfg.SecureCookies, SameSite: http.SameSiteStrictMode,
	})
}

func (u *UI) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: "", Path: Prefix, MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil || u.cfg.SecureCookies, SameSite: http.SameSiteStrictMode,
	})
}

func (u *UI) signinForm(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if err := u.ensurePre(w, r, v); err != nil {
		return err
	}
	return u.render(w, r, v, http.StatusOK, "signin", "Sign in", signinPage{Next: safeNext(r.URL.Query().Get("next"))})
}

type signinPage struct {
	Next  string
	Error string
}

// signin checks the pasted token and starts a session for it. A failed
// attempt says only that the token was not accepted (the reason goes to
// the log, as for every other authentication failure).
func (u *UI) signin(w http.ResponseWriter, r *http.Request, v *viewer) error {
	token := strings.TrimSpace(r.PostFormValue("token"))
	next := safeNext(r.PostFormValue("next"))
	p, err := u.cfg.Auth.Authenticate(r.Context(), token)
	if err != nil {
		u.log.Debug("ui sign-in refused", "error", err.Error(), "auth_reason", auth.Reason(err))
		return u.render(w, r, v, http.StatusUnauthorized, "signin", "Sign in",
			signinPage{Next: next, Error: "That token was not accepted: check that it was copied whole and has not expired or been revoked."})
	}
	ss, err := u.sessions.create(token)
	if err != nil {
		return err
	}
	if old, err := r.Cookie(sessionCookie); err == nil {
		u.sessions.end(old.Value)
	}
	u.setCookie(w, r, sessionCookie, ss.id, 0)
	u.clearCookie(w, r, preCookie)
	u.log.Info("ui sign-in", "token_id", p.TokenID)
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

func (u *UI) signout(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if v.session != nil {
		u.sessions.end(v.session.id)
	}
	u.clearCookie(w, r, sessionCookie)
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
	return nil
}
