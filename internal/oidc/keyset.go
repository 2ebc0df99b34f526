package oidc

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
)

// supportedAlgs is the asymmetric allowlist. HS* and none are never in it,
// whatever discovery says.
var supportedAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.ES256, jose.ES384,
}

// Errors a KeySet reports; the verifier turns them into refusals.
var (
	errUnknownKID      = errors.New("unknown key id")
	errIssuerMismatch  = errors.New("discovery document names another issuer")
	errResponseTooBig  = errors.New("response exceeds the size limit")
	errNoUsableKeys    = errors.New("key set has no usable signing keys")
	errBadJWKSLocation = errors.New("jwks_uri is not allowed")
)

// KeySet is the cached JWKS of one configured issuer. Keys are fetched at
// start (Refresh), refreshed periodically by the Verifier's Run loop, and on an
// unknown kid at most once per UnknownKIDRefreshInterval; concurrent refreshes
// are deduplicated and a failed fetch keeps the previous keys.
//
// The Verifier calls Key directly, so the token is parsed once.
type KeySet struct {
	cfg    IssuerConfig
	client *http.Client
	now    func() time.Time
	log    *slog.Logger
	m      *metrics
	sf     singleflight.Group
	sleep  func(ctx context.Context, d time.Duration) error
	// waiters counts the Key calls waiting for the next allowed refresh.
	waiters atomic.Int64

	mu          sync.RWMutex
	keys        map[string]jose.JSONWebKey // by kid
	algs        []jose.SignatureAlgorithm  // supportedAlgs ∩ discovery's list
	jwksURI     string
	lastAttempt time.Time // last fetch started (spacing of unknown-kid refreshes)
	lastSuccess time.Time
}

func newKeySet(cfg IssuerConfig, client *http.Client, now func() time.Time, sleep func(context.Context, time.Duration) error, log *slog.Logger, m *metrics) *KeySet {
	return &KeySet{
		cfg: cfg, client: client, now: now, sleep: sleep, log: log.With("issuer", cfg.Name), m: m,
		keys: map[string]jose.JSONWebKey{}, algs: supportedAlgs,
	}
}

// Issuer returns the configuration this key set serves.
func (k *KeySet) Issuer() IssuerConfig { return k.cfg }

// Algorithms returns the algorithms tokens of this issuer may use.
func (k *KeySet) Algorithms() []jose.SignatureAlgorithm {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.algs
}

// Key returns the key for kid. On a miss it refreshes the set; when a
// refresh started less than UnknownKIDRefreshInterval ago, it waits for
// the interval to end and joins the fetch then made (callers that arrive
// while a fetch is in flight wait for it instead of starting another).
func (k *KeySet) Key(ctx context.Context, kid string) (jose.JSONWebKey, error) {
	if key, ok := k.lookup(kid); ok {
		return key, nil
	}
	wait, err := k.refresh(ctx, false)
	if wait > 0 && k.waiters.Add(1) <= MaxKIDWaiters {
		err = k.sleep(ctx, wait)
		k.waiters.Add(-1)
		if err == nil {
			_, err = k.refresh(ctx, false)
		}
	} else if wait > 0 {
		k.waiters.Add(-1)
	}
	if err != nil {
		k.log.Debug("jwks refresh on unknown kid failed", "err", err)
	}
	if key, ok := k.lookup(kid); ok {
		return key, nil
	}
	return jose.JSONWebKey{}, errUnknownKID
}

func (k *KeySet) lookup(kid string) (jose.JSONWebKey, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	key, ok := k.keys[kid]
	return key, ok
}

// Refresh fetches discovery and the key set now, ignoring the unknown-kid
// rate limit. Start-up and the periodic loop call it.
func (k *KeySet) Refresh(ctx context.Context) error {
	_, err := k.refresh(ctx, true)
	return err
}

// refresh runs one deduplicated fetch. The rate limit is checked inside the
// singleflight function, so a caller that arrives during a fetch joins it and
// one that arrives just after finds the limit and learns how long it has to
// wait (wait > 0, nothing fetched).
func (k *KeySet) refresh(ctx context.Context, force bool) (wait time.Duration, err error) {
	v, err, _ := k.sf.Do("refresh", func() (any, error) {
		now := k.now()
		k.mu.Lock()
		if since := now.Sub(k.lastAttempt); !force && !k.lastAttempt.IsZero() && since < UnknownKIDRefreshInterval {
			k.mu.Unlock()
			return UnknownKIDRefreshInterval - since, nil
		}
		k.lastAttempt = now
		rediscover := force || k.jwksURI == ""
		k.mu.Unlock()
		// The fetch outlives the caller that started it: others are waiting.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), FetchTimeout)
		defer cancel()
		err := k.fetch(fctx, rediscover)
		result := "ok"
		switch {
		case err == nil:
		case errors.Is(err, errIssuerMismatch):
			result = "issuer_mismatch"
		case errors.Is(err, errResponseTooBig):
			result = "too_large"
		default:
			result = "error"
		}
		k.m.jwksFetches.WithLabelValues(k.cfg.Name, result).Inc()
		if err != nil {
			// Stale keys are better than none: keep what we had.
			k.log.Warn("jwks fetch failed, keeping previous keys", "err", err)
		}
		return time.Duration(0), err
	})
	wait, _ = v.(time.Duration)
	return wait, err
}

type discoveryDoc struct {
	Issuer  string   `json:"issuer"`
	JWKSURI string   `json:"jwks_uri"`
	Algs    []string `json:"id_token_signing_alg_values_supported"`
}

func (k *KeySet) fetch(ctx context.Context, rediscover bool) error {
	k.mu.RLock()
	jwksURI, algs := k.jwksURI, k.algs
	k.mu.RUnlock()
	if rediscover {
		var d discoveryDoc
		if err := k.getJSON(ctx, k.cfg.URL+"/.well-known/openid-configuration", &d); err != nil {
			return fmt.Errorf("discovery: %w", err)
		}
		// Exact match, trailing slash included: a discovery document that
		// names another issuer is another issuer (go-oidc IssuerMismatchError).
		if d.Issuer != k.cfg.URL {
			return fmt.Errorf("%w: configured %q, discovery says %q", errIssuerMismatch, k.cfg.URL, d.Issuer)
		}
		if err := k.checkJWKSURI(d.JWKSURI); err != nil {
			return err
		}
		jwksURI = d.JWKSURI
		algs = supportedAlgs
		if len(d.Algs) > 0 {
			algs = nil
			for _, a := range supportedAlgs {
				if slices.Contains(d.Algs, string(a)) {
					algs = append(algs, a)
				}
			}
			if len(algs) == 0 {
				return fmt.Errorf("discovery advertises no supported asymmetric algorithm (got %v)", d.Algs)
			}
		}
	}
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := k.getJSON(ctx, jwksURI, &raw); err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	keys := make(map[string]jose.JSONWebKey, len(raw.Keys))
	for _, r := range raw.Keys {
		var key jose.JSONWebKey
		// One key we cannot parse (a new kty) must not take the others down.
		if err := key.UnmarshalJSON(r); err != nil {
			continue
		}
		if key.KeyID == "" || (key.Use != "" && key.Use != "sig") {
			continue
		}
		switch pk := key.Key.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		case *rsa.PrivateKey:
			key.Key = &pk.PublicKey
		case *ecdsa.PrivateKey:
			key.Key = &pk.PublicKey
		default:
			continue // symmetric or unknown: never a verification key for us
		}
		keys[key.KeyID] = key
	}
	if len(keys) == 0 {
		return errNoUsableKeys
	}
	k.mu.Lock()
	k.keys, k.jwksURI, k.algs, k.lastSuccess = keys, jwksURI, algs, k.now()
	k.mu.Unlock()
	return nil
}

func (k *KeySet) checkJWKSURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%w: %q is not an absolute URL", errBadJWKSLocation, raw)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return fmt.Errorf("%w: %q must use https", errBadJWKSLocation, raw)
	}
	iu, _ := url.Parse(k.cfg.URL)
	if u.Host != iu.Host && !slices.Contains(k.cfg.JWKSHosts, u.Host) {
		return fmt.Errorf("%w: %q is not on the issuer's host %s", errBadJWKSLocation, raw, iu.Host)
	}
	return nil
}

func (k *KeySet) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := k.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if len(body) > MaxResponseBytes {
		return fmt.Errorf("GET %s: %w (%d bytes)", u, errResponseTooBig, MaxResponseBytes)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

// keyFitsAlg checks that the key type matches alg and that a key-level alg,
// when published, equals it (RFC 8725 §3.1).
func keyFitsAlg(key jose.JSONWebKey, alg string) error {
	if key.Algorithm != "" && key.Algorithm != alg {
		return fmt.Errorf("key %s is for %s, token uses %s", key.KeyID, key.Algorithm, alg)
	}
	switch pk := key.Key.(type) {
	case *rsa.PublicKey:
		if alg[0] == 'R' || alg[0] == 'P' {
			return nil
		}
	case *ecdsa.PublicKey:
		want := map[string]string{"ES256": "P-256", "ES384": "P-384"}[alg]
		if want != "" && pk.Curve.Params().Name == want {
			return nil
		}
	}
	return fmt.Errorf("key %s does not fit algorithm %s", key.KeyID, alg)
}
