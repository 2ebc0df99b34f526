// Package oidc is the verification core of trusted publishing: the issuers an
// operator configured, their discovery documents and key sets, ID-token
// verification, replay protection, publisher matching and the exchange of a
// verified ID token for a short-lived upload token.
//
// The HTTP endpoints live elsewhere (httpapi); this package exposes what they
// need: Exchanger.MintToken, Exchanger.Audience and Refusal.Body.
//
// Verification follows research/oidc-federation.md §2.7. We verify with
// go-jose directly instead of go-oidc's IDTokenVerifier because that verifier
// lacks exp leeway, iat checks, single-audience enforcement and a kid
// requirement, so every one of its checks would have to be redone; our KeySet
// still implements go-oidc's KeySet interface so it can back a go-oidc
// verifier where one is wanted.
package oidc

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wharf-dev/wharf/internal/errs"
)

// Issuer kinds. The kind decides which publisher types may name the issuer
// and which claims are identifying.
const (
	KindGitHub  = "github"
	KindGitLab  = "gitlab"
	KindGeneric = "generic"
)

// Well-known issuers, used as publisher defaults.
const (
	GitHubIssuer = "https://token.actions.githubusercontent.com"
	GitLabIssuer = "https://gitlab.com"
)

// Defaults. GitHub ID tokens live 5 minutes (exp = iat + 300 s), GitLab ID
// tokens as long as the job timeout (1 h by default); 1 h accepts both and
// still refuses tokens minted to be long-lived credentials.
const (
	DefaultMaxTokenLifetime = time.Hour
	DefaultRefreshInterval  = time.Hour
	DefaultLeeway           = 60 * time.Second
	MaxLeeway               = 60 * time.Second
	// UnknownKIDRefreshInterval spaces key-set refreshes triggered by
	// tokens whose kid we do not know: at most one per issuer per interval
	// (six a minute), so forged kids cannot make us hammer the issuer. A
	// token that arrives during the interval waits for its end and the
	// fetch then made, instead of being refused: one unknown kid just
	// before a rotation must not lock the new key out for long.
	UnknownKIDRefreshInterval = 10 * time.Second
	// MaxKIDWaiters bounds the requests waiting for the next refresh; past
	// it an unknown kid is refused at once (a flood holds no more).
	MaxKIDWaiters = 256
	// MaxResponseBytes caps discovery and JWKS bodies (octo-sts GHSA-75r6).
	MaxResponseBytes = 256 << 10
	// FetchTimeout bounds one discovery or JWKS request.
	FetchTimeout = 5 * time.Second
	// MaxTokenBytes caps the raw JWT before any parsing.
	MaxTokenBytes = 8 << 10
)

// IssuerConfig is one issuer the operator trusts. It is the only place a URL
// the server will fetch from comes from.
type IssuerConfig struct {
	Name string // short id used in metrics, logs and token origins ("github")
	URL  string // exact issuer, compared byte for byte with the token's iss
	Kind string // github | gitlab | generic
	// MaxTokenLifetime bounds exp - iat (default DefaultMaxTokenLifetime).
	MaxTokenLifetime time.Duration
	// RefreshInterval is how often Run refreshes the key set (default 1 h).
	RefreshInterval time.Duration
	// JWKSHosts lists hosts other than the issuer's own that jwks_uri may
	// name (Google serves keys from www.googleapis.com). Empty: the issuer's
	// host only.
	JWKSHosts []string
}

// Config configures a Verifier (and, through New, an Exchanger).
type Config struct {
	Audience   string
	Issuers    []IssuerConfig
	Leeway     time.Duration // clock skew allowed on exp/iat/nbf; ≤ 60 s; 0 means DefaultLeeway
	HTTPClient *http.Client  // nil: a client with FetchTimeout that refuses cross-host redirects
	Now        func() time.Time
	// Sleep waits d or until ctx ends (nil: a timer); tests advance their
	// clock instead.
	Sleep   func(ctx context.Context, d time.Duration) error
	Logger  *slog.Logger
	Metrics prometheus.Registerer // nil: a private registry (never the global one)
}

func (c *Config) withDefaults() (Config, error) {
	const op = "oidc.Config"
	out := *c
	if strings.TrimSpace(out.Audience) == "" {
		return out, errs.Errorf(errs.Invalid, op, "audience is required: set it to a value specific to this server, e.g. \"wharf:registry.example.com\"")
	}
	if out.Leeway == 0 {
		out.Leeway = DefaultLeeway
	}
	if out.Leeway < 0 || out.Leeway > MaxLeeway {
		return out, errs.Errorf(errs.Invalid, op, "leeway %s is out of range: use 0 to %s", out.Leeway, MaxLeeway)
	}
	if out.Now == nil {
		out.Now = time.Now
	}
	if out.Sleep == nil {
		out.Sleep = sleep
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	if out.Metrics == nil {
		out.Metrics = prometheus.NewRegistry()
	}
	if out.HTTPClient == nil {
		out.HTTPClient = &http.Client{Timeout: FetchTimeout, CheckRedirect: sameHostRedirect}
	}
	seenName := map[string]bool{}
	seenURL := map[string]bool{}
	out.Issuers = make([]IssuerConfig, len(c.Issuers))
	for i, ic := range c.Issuers {
		if ic.Name == "" {
			return out, errs.Errorf(errs.Invalid, op, "issuers[%d]: name is required", i)
		}
		if seenName[ic.Name] {
			return out, errs.Errorf(errs.Invalid, op, "issuers[%d]: name %q is used twice", i, ic.Name)
		}
		if seenURL[ic.URL] {
			return out, errs.Errorf(errs.Invalid, op, "issuers[%d]: url %q is configured twice", i, ic.URL)
		}
		seenName[ic.Name], seenURL[ic.URL] = true, true
		if err := checkIssuerURL(ic.URL); err != nil {
			return out, errs.Errorf(errs.Invalid, op, "issuers[%d] (%s): %v", i, ic.Name, err)
		}
		switch ic.Kind {
		case KindGitHub, KindGitLab, KindGeneric:
		case "":
			ic.Kind = KindGeneric
		default:
			return out, errs.Errorf(errs.Invalid, op, "issuers[%d] (%s): kind %q is unknown: use github, gitlab or generic", i, ic.Name, ic.Kind)
		}
		if ic.MaxTokenLifetime <= 0 {
			ic.MaxTokenLifetime = DefaultMaxTokenLifetime
		}
		if ic.RefreshInterval <= 0 {
			ic.RefreshInterval = DefaultRefreshInterval
		}
		out.Issuers[i] = ic
	}
	return out, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// checkIssuerURL accepts https URLs, and http only on loopback (the
// development issuer), with no query, fragment or user info (octo-sts
// oidcvalidate).
func checkIssuerURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("url %q is not an absolute URL", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("url %q must not carry a query, fragment or user info", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return fmt.Errorf("url %q uses http: only https is allowed except on loopback", raw)
		}
	default:
		return fmt.Errorf("url %q must use https", raw)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sameHostRedirect refuses redirects that leave the original host, so a
// compromised or misconfigured issuer cannot point our fetches elsewhere
// (Fulcio's noRedirectClient).
func sameHostRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 3 {
		return fmt.Errorf("too many redirects")
	}
	if req.URL.Host != via[0].URL.Host {
		return fmt.Errorf("redirect to another host (%s) refused", req.URL.Host)
	}
	return nil
}
