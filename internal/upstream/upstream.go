// Package upstream is wharf's HTTP client for upstream simple indexes (PyPI
// or any PEP 503/691 index): PEP 691 JSON first with an HTML fallback,
// credentials resolved from the secret store on every request, and limits on
// sizes, times and redirects so an upstream can neither exhaust wharf nor
// steer it at internal addresses.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
)

// Secrets resolves secret references; *secrets.Service implements it.
// version is "latest" or a number; resolved is the version used.
type Secrets interface {
	Access(ctx context.Context, repo, name, version string) (value []byte, resolved int, err error)
}

// Config holds the client's limits and dependencies.
type Config struct {
	Secrets Secrets
	// Transport is the round tripper (tests inject one); nil builds a
	// transport whose dialer enforces the loopback rule.
	Transport http.RoundTripper
	// MaxPageSize caps an index page (default 32 MiB: PyPI's largest
	// project pages are a few MiB).
	MaxPageSize int64
	// MaxRedirects caps redirects per request (default 5).
	MaxRedirects int
	// PageTimeout bounds one index page fetch, connection to last byte
	// (default 30s): pages are metadata, small next to files.
	PageTimeout time.Duration
	// ResponseTimeout bounds the wait for a file's response headers
	// (default 30s).
	ResponseTimeout time.Duration
	// A file's body has no total deadline (a large file on a slow link
	// must work) but must keep up MinRate bytes a second, averaged over
	// each RateWindow (defaults 16 KiB/s over 30s): a stalled upstream is
	// given up within a window.
	MinRate    int64
	RateWindow time.Duration
	UserAgent  string
}

// Client fetches pages and files from upstream indexes.
type Client struct {
	cfg  Config
	http *http.Client
}

// Target is one remote repository's upstream.
type Target struct {
	Repo     string // the remote repository's name (secret grants are per repository)
	Settings registry.RemoteSettings
}

type ctxKey int

const loopbackOK ctxKey = 0

// New builds a Client.
func New(cfg Config) *Client {
	if cfg.MaxPageSize <= 0 {
		cfg.MaxPageSize = 32 << 20
	}
	if cfg.MaxRedirects <= 0 {
		cfg.MaxRedirects = 5
	}
	if cfg.PageTimeout <= 0 {
		cfg.PageTimeout = 30 * time.Second
	}
	if cfg.ResponseTimeout <= 0 {
		cfg.ResponseTimeout = 30 * time.Second
	}
	if cfg.MinRate <= 0 {
		cfg.MinRate = 16 << 10
	}
	if cfg.RateWindow <= 0 {
		cfg.RateWindow = 30 * time.Second
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "wharf (pull-through cache)"
	}
	if cfg.Transport == nil {
		d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, ControlContext: dialGuard}
		cfg.Transport = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           d.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: cfg.ResponseTimeout,
		}
	}
	c := &Client{cfg: cfg}
	c.http = &http.Client{Transport: credentialTransport{cfg.Transport}, CheckRedirect: c.checkRedirect}
	return c
}

// hopAuth is the credential of one upstream request and the one origin it
// may be sent to. It rides in the request's context, so every hop of a
// redirect chain decides for itself: net/http's own rule would forward
// Authorization to another port, to a subdomain and from https to http.
type hopAuth struct {
	origin     string
	user, pass string
}

const hopAuthKey ctxKey = 1

// credentialTransport adds the request's credential to each hop whose
// origin (scheme, host and port) is exactly the upstream's, and to no
// other: a redirect elsewhere is followed without it.
type credentialTransport struct{ base http.RoundTripper }

func (t credentialTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if a, ok := req.Context().Value(hopAuthKey).(*hopAuth); ok && origin(req.URL) == a.origin {
		req = req.Clone(req.Context()) // a RoundTripper must not change the caller's request
		req.SetBasicAuth(a.user, a.pass)
	}
	return t.base.RoundTrip(req)
}

// origin is u's scheme, host and port, the port spelled out when it is
// the scheme's default, so "https://a" and "https://a:443" are one origin.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	return strings.ToLower(u.Scheme) + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// dialGuard refuses connections to loopback addresses unless the request's
// upstream is itself on loopback: checking the resolved address (not the
// host name) also catches names that resolve to 127.0.0.1.
func dialGuard(ctx context.Context, network, address string, _ syscall.RawConn) error {
	if ok, _ := ctx.Value(loopbackOK).(bool); ok {
		return nil
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip != nil && (ip.IsLoopback() || ip.IsUnspecified()) {
		return fmt.Errorf("refusing to connect to loopback address %s: the upstream is not on loopback", host)
	}
	return nil
}

func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > c.cfg.MaxRedirects {
		return fmt.Errorf("more than %d redirects", c.cfg.MaxRedirects)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return fmt.Errorf("redirect to a %q URL refused: only http and https are followed", req.URL.Scheme)
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// upstreamURL parses and checks the configured index URL.
func upstreamURL(t Target) (*url.URL, error) {
	raw := t.Settings.Upstream
	if raw == "" {
		raw = registry.DefaultUpstream
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errs.Errorf(errs.Invalid, "upstream", "repository '%s': upstream %q is not an http(s) URL", t.Repo, raw)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

// credential is the resolved authentication of one request, with what
// error messages may say about it (never the value).
type credential struct {
	user, pass string
	desc       string // "secret 'pypi-token' version 3"
}

func (c *Client) credential(ctx context.Context, t Target) (credential, error) {
	s := t.Settings
	switch s.Auth {
	case "", registry.AuthNone:
		return credential{}, nil
	case registry.AuthBasic, registry.AuthToken:
	default:
		return credential{}, errs.Errorf(errs.Invalid, "upstream", "repository '%s': unknown upstream auth %q; use none, basic or token", t.Repo, s.Auth)
	}
	if s.Secret == "" {
		return credential{}, errs.Errorf(errs.Invalid, "upstream", "repository '%s': upstream auth %q needs a secret", t.Repo, s.Auth)
	}
	if c.cfg.Secrets == nil {
		return credential{}, errs.Errorf(errs.Unavailable, "upstream", "repository '%s': the secret store is not configured, so secret '%s' cannot be read", t.Repo, s.Secret)
	}
	ver := s.SecretVersion
	if ver == "" {
		ver = "latest"
	}
	v, resolved, err := c.cfg.Secrets.Access(ctx, t.Repo, s.Secret, ver)
	if err != nil {
		return credential{}, fmt.Errorf("repository '%s': reading secret '%s' version %s: %w", t.Repo, s.Secret, ver, err)
	}
	cr := credential{user: s.Username, pass: string(v), desc: fmt.Sprintf("secret '%s' version %d", s.Secret, resolved)}
	if s.Auth == registry.AuthToken {
		cr.user = "__token__"
	}
	return cr, nil
}

// do sends a GET, with the target's credentials on every hop (the first
// and any redirect) that goes to the upstream's exact origin: never to
// another host, port or scheme, such as a CDN for files.
func (c *Client) do(ctx context.Context, t Target, base *url.URL, u *url.URL, accept string) (*http.Response, credential, error) {
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, credential{}, errs.Errorf(errs.Upstream, "upstream", "refusing %s URL %s: only http and https are fetched", u.Scheme, u.Redacted())
	}
	ctx = context.WithValue(ctx, loopbackOK, isLoopbackHost(base.Hostname()))
	cr, err := c.credential(ctx, t)
	if err != nil {
		return nil, cr, err
	}
	if cr.desc != "" {
		ctx = context.WithValue(ctx, hopAuthKey, &hopAuth{origin: origin(base), user: cr.user, pass: cr.pass})
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, credential{}, errs.E(errs.Invalid, "upstream", err)
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if late := lateError(ctx, t, fmt.Sprintf("upstream %s", u.Redacted()), err); late != nil {
			return nil, cr, late
		}
		return nil, cr, errs.Public(errs.E(errs.Upstream, "upstream", fmt.Errorf("repository '%s': upstream %s: %w", t.Repo, u.Redacted(), unwrapURLError(err))),
			fmt.Sprintf("the upstream of repository '%s' could not be reached; try again later", t.Repo))
	}
	return resp, cr, nil
}

// errDeadline is the cause of a fetch cancelled by one of the client's
// own deadlines.
type errDeadline struct{ what string }

func (e errDeadline) Error() string { return e.what }

// lateError is the error of a fetch that failed because one of its
// deadlines passed (nil otherwise): Unavailable, so the client gets a 503
// with Retry-After and is told the upstream was too slow. what says what
// was being fetched, for the log.
func lateError(ctx context.Context, t Target, what string, err error) error {
	var d errDeadline
	cause := context.Cause(ctx)
	switch {
	case errors.As(cause, &d):
	case errors.Is(cause, context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		d = errDeadline{"deadline exceeded"}
	default:
		return nil
	}
	return errs.Public(errs.E(errs.Unavailable, "upstream", fmt.Errorf("repository '%s': %s: %s: %w", t.Repo, what, d.what, unwrapURLError(err))),
		fmt.Sprintf("the upstream of repository '%s' did not answer in time; try again shortly", t.Repo))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// statusError turns a non-200 upstream status into an error with a kind:
// 404/410 NotFound (cached negatively), everything else Upstream. 401/403
// name the secret and version used, never the value, for the log and
// administrators; other callers are told only that the credentials were
// refused (errs.Public). A 4xx message is shown to every client, so the
// NotFound one names no upstream address.
func statusError(t Target, base, u *url.URL, resp *http.Response, cr credential) error {
	switch resp.StatusCode {
	case http.StatusNotFound, http.StatusGone:
		return errs.Errorf(errs.NotFound, "upstream", "not found upstream of repository '%s' (the upstream answered %d)", t.Repo, resp.StatusCode)
	case http.StatusUnauthorized, http.StatusForbidden:
		who := "no credentials (the repository has upstream auth none)"
		switch {
		case cr.desc != "" && origin(resp.Request.URL) != origin(base):
			who = "no credentials: they go only to the upstream's own origin, and the request was redirected to " + origin(resp.Request.URL)
		case cr.desc != "":
			who = "user '" + cr.user + "' with " + cr.desc
		}
		return errs.Public(&refusal{cred: cr.desc, err: errs.Errorf(errs.Upstream, "upstream", "upstream of repository '%s' refused the credentials (%d from %s): sent %s; add a new secret version or fix the grant", t.Repo, resp.StatusCode, u.Redacted(), who)},
			fmt.Sprintf("the upstream of repository '%s' refused wharf's credentials (%d); an administrator must update them", t.Repo, resp.StatusCode))
	}
	return errs.Public(errs.Errorf(errs.Upstream, "upstream", "upstream of repository '%s' answered %d for %s", t.Repo, resp.StatusCode, u.Redacted()),
		fmt.Sprintf("the upstream of repository '%s' answered %d; try again later", t.Repo, resp.StatusCode))
}

// refusal marks an upstream's 401 or 403: the credentials are wrong for
// every request of the repository, not just this one.
type refusal struct {
	cred string // the credential sent, as credential.desc; "" when none
	err  error
}

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// Refused reports whether err is the upstream refusing the credentials,
// and which credential it refused (CredentialID's form; "" for none).
func Refused(err error) (credentialID string, ok bool) {
	var r *refusal
	if errors.As(err, &r) {
		return r.cred, true
	}
	return "", false
}

// CredentialID names the credential the target's next request would send
// ("secret 'pypi-token' version 3", or "" for none), never its value, so a
// caller can tell whether a refused credential has since been replaced.
func (c *Client) CredentialID(ctx context.Context, t Target) (string, error) {
	cr, err := c.credential(ctx, t)
	return cr.desc, err
}

// acceptIndex prefers PEP 691 JSON and accepts both HTML forms.
const acceptIndex = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"

// readPage fetches an index page (the root when project is "") and returns
// its body, whether it is JSON, and the URL it came from (after redirects),
// against which relative file URLs resolve.
func (c *Client) readPage(ctx context.Context, t Target, project string) ([]byte, bool, *url.URL, error) {
	base, err := upstreamURL(t)
	if err != nil {
		return nil, false, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.PageTimeout)
	defer cancel()
	u := base
	if project != "" {
		u = base.JoinPath(project)
		u.Path += "/"
	}
	resp, cr, err := c.do(ctx, t, base, u, acceptIndex)
	if err != nil {
		return nil, false, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, false, nil, statusError(t, base, u, resp, cr)
	}
	if resp.ContentLength > c.cfg.MaxPageSize {
		return nil, false, nil, errs.Errorf(errs.Upstream, "upstream", "upstream page %s is larger than the %d-byte limit", u.Redacted(), c.cfg.MaxPageSize)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxPageSize+1))
	if err != nil {
		if late := lateError(ctx, t, "reading "+u.Redacted(), err); late != nil {
			return nil, false, nil, late
		}
		return nil, false, nil, errs.E(errs.Upstream, "upstream", fmt.Errorf("reading %s: %w", u.Redacted(), err))
	}
	if int64(len(body)) > c.cfg.MaxPageSize {
		return nil, false, nil, errs.Errorf(errs.Upstream, "upstream", "upstream page %s is larger than the %d-byte limit", u.Redacted(), c.cfg.MaxPageSize)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	isJSON := mt == "application/vnd.pypi.simple.v1+json" || mt == "application/json"
	return body, isJSON, resp.Request.URL, nil
}

// Project fetches one project's page. File URLs are absolute upstream URLs.
// An upstream 404 is an errs.NotFound error.
func (c *Client) Project(ctx context.Context, t Target, project string) (pypi.ProjectPage, error) {
	body, isJSON, from, err := c.readPage(ctx, t, project)
	if err != nil {
		return pypi.ProjectPage{}, err
	}
	var p pypi.ProjectPage
	if isJSON {
		p, err = ParseProjectJSON(body, from)
	} else {
		p, err = ParseProjectHTML(body, from)
	}
	if err != nil {
		return p, errs.E(errs.Upstream, "upstream", fmt.Errorf("upstream page %s: %w", from.Redacted(), err))
	}
	if p.Name == "" {
		p.Name = project
	}
	p.Name = pypi.Normalize(p.Name)
	return p, nil
}

// Root fetches the upstream's project list.
func (c *Client) Root(ctx context.Context, t Target) (pypi.ProjectList, error) {
	body, isJSON, from, err := c.readPage(ctx, t, "")
	if err != nil {
		return pypi.ProjectList{}, err
	}
	var l pypi.ProjectList
	if isJSON {
		l, err = ParseRootJSON(body)
	} else {
		l, err = ParseRootHTML(body)
	}
	if err != nil {
		return l, errs.E(errs.Upstream, "upstream", fmt.Errorf("upstream page %s: %w", from.Redacted(), err))
	}
	return l, nil
}

// Open starts downloading a file from the upstream. size is -1 when the
// upstream does not say. The response must start within ResponseTimeout
// and the body keep up MinRate (see Config); past either, the fetch is
// cancelled and fails as Unavailable. The caller closes the body.
func (c *Client) Open(ctx context.Context, t Target, fileURL string) (body io.ReadCloser, size int64, err error) {
	base, err := upstreamURL(t)
	if err != nil {
		return nil, 0, err
	}
	u, err := url.Parse(fileURL)
	if err != nil {
		return nil, 0, errs.E(errs.Upstream, "upstream", fmt.Errorf("bad upstream file URL: %w", err))
	}
	ctx, cancel := context.WithCancelCause(ctx)
	headers := time.AfterFunc(c.cfg.ResponseTimeout, func() {
		cancel(errDeadline{fmt.Sprintf("no response within %s", c.cfg.ResponseTimeout)})
	})
	resp, cr, err := c.do(ctx, t, base, u, "")
	headers.Stop()
	if err != nil {
		cancel(nil)
		return nil, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel(nil)
		return nil, 0, statusError(t, base, u, resp, cr)
	}
	size = -1
	if n, err := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64); err == nil {
		size = n
	}
	return newPacedBody(ctx, cancel, t, u, resp.Body, c.cfg.MinRate, c.cfg.RateWindow), size, nil
}

// pacedBody is a file body that must deliver minRate bytes a second over
// each window, or its request is cancelled: the minimum-rate deadline of
// a body transfer, which lets a large file on a slow link through and
// gives up on a stalled one.
type pacedBody struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	t      Target
	u      *url.URL
	body   io.ReadCloser
	n      atomic.Int64 // bytes read
	timer  *time.Timer
}

func newPacedBody(ctx context.Context, cancel context.CancelCauseFunc, t Target, u *url.URL, body io.ReadCloser, minRate int64, window time.Duration) *pacedBody {
	b := &pacedBody{ctx: ctx, cancel: cancel, t: t, u: u, body: body}
	need := minRate * int64(window/time.Millisecond) / 1000
	var last int64
	var check func()
	check = func() {
		n := b.n.Load()
		if n-last < need {
			cancel(errDeadline{fmt.Sprintf("the transfer fell below %d bytes/s over %s (%d bytes)", minRate, window, n-last)})
			return
		}
		last = n
		b.timer.Reset(window)
	}
	// Armed only once b.timer is set, which check uses.
	b.timer = time.AfterFunc(time.Duration(math.MaxInt64), check)
	b.timer.Reset(window)
	return b
}

func (b *pacedBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	b.n.Add(int64(n))
	if err != nil && err != io.EOF {
		if late := lateError(b.ctx, b.t, "downloading "+b.u.Redacted(), err); late != nil {
			return n, late
		}
		return n, errs.Public(errs.E(errs.Upstream, "upstream", fmt.Errorf("repository '%s': downloading %s: %w", b.t.Repo, b.u.Redacted(), err)),
			fmt.Sprintf("the upstream of repository '%s' broke off the download; try again later", b.t.Repo))
	}
	return n, err
}

func (b *pacedBody) Close() error {
	b.timer.Stop()
	err := b.body.Close()
	b.cancel(nil)
	return err
}
