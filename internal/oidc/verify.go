package oidc

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wharf-dev/wharf/internal/errs"
)

// Verifier checks ID tokens against the configured issuers.
type Verifier struct {
	cfg     Config
	issuers map[string]*KeySet // by exact issuer URL
	order   []*KeySet          // configuration order, for Warm and Run
	m       *metrics
}

// NewVerifier builds a Verifier and registers its metrics on cfg.Metrics.
// Use New when an Exchanger is wanted too: it shares the metrics.
func NewVerifier(cfg Config) (*Verifier, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(c.Metrics)
	if err != nil {
		return nil, errs.E(errs.Internal, "oidc.NewVerifier", err)
	}
	return newVerifier(c, m), nil
}

func newVerifier(c Config, m *metrics) *Verifier {
	v := &Verifier{cfg: c, issuers: make(map[string]*KeySet, len(c.Issuers)), m: m}
	for _, ic := range c.Issuers {
		ks := newKeySet(ic, c.HTTPClient, c.Now, c.Sleep, c.Logger, m)
		v.issuers[ic.URL] = ks
		v.order = append(v.order, ks)
	}
	return v
}

// Audience is the one audience tokens must carry.
func (v *Verifier) Audience() string { return v.cfg.Audience }

// KeySet returns the key set of a configured issuer, or nil.
func (v *Verifier) KeySet(issuerURL string) *KeySet { return v.issuers[issuerURL] }

// Warm fetches every issuer's keys once, concurrently. Failures are returned
// joined but are not fatal: the issuer is retried on its next token.
func (v *Verifier) Warm(ctx context.Context) error {
	errc := make([]error, len(v.order))
	var wg sync.WaitGroup
	for i, ks := range v.order {
		wg.Go(func() {
			if err := ks.Refresh(ctx); err != nil {
				errc[i] = errs.Errorf(errs.Unavailable, "oidc.Warm", "issuer %s: %w", ks.cfg.Name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errc...)
}

// Run warms the key sets and then refreshes each at its RefreshInterval until
// ctx is done. Start it in its own goroutine.
func (v *Verifier) Run(ctx context.Context) {
	if err := v.Warm(ctx); err != nil {
		v.cfg.Logger.Warn("oidc key sets not all available at start", "err", err)
	}
	var wg sync.WaitGroup
	for _, ks := range v.order {
		wg.Go(func() {
			t := time.NewTicker(ks.cfg.RefreshInterval)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					_ = ks.Refresh(ctx) // logged and counted inside
				}
			}
		})
	}
	wg.Wait()
}

// Claims are the verified claims of an ID token.
type Claims struct {
	IssuerName string // configured name ("github")
	Issuer     string // iss, equal to the configured URL
	Kind       string // configured kind
	Subject    string
	JTI        string
	Audience   string
	IssuedAt   time.Time
	Expires    time.Time
	NotBefore  time.Time // zero when absent
	// Raw holds every claim; numbers are json.Number, never float64.
	Raw map[string]any
}

// String returns a claim as text: strings as is, numbers in their JSON
// spelling, booleans as "true"/"false"; "" when absent or structured.
func (c Claims) String(name string) string {
	switch x := c.Raw[name].(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	return ""
}

// Has reports whether the claim is present (even if empty).
func (c Claims) Has(name string) bool { _, ok := c.Raw[name]; return ok }

// GitHub Actions claims (research/oidc-federation.md §5.1). IDs are strings.
func (c Claims) Repository() string      { return c.String("repository") }
func (c Claims) RepositoryID() string    { return c.String("repository_id") }
func (c Claims) RepositoryOwner() string { return c.String("repository_owner") }
func (c Claims) OwnerID() string         { return c.String("repository_owner_id") }
func (c Claims) WorkflowRef() string     { return c.String("workflow_ref") }
func (c Claims) JobWorkflowRef() string  { return c.String("job_workflow_ref") }
func (c Claims) Ref() string             { return c.String("ref") }
func (c Claims) SHA() string             { return c.String("sha") }
func (c Claims) Environment() string     { return c.String("environment") }
func (c Claims) EventName() string       { return c.String("event_name") }
func (c Claims) RunID() string           { return c.String("run_id") }

// GitLab CI claims.
func (c Claims) ProjectPath() string    { return c.String("project_path") }
func (c Claims) ProjectID() string      { return c.String("project_id") }
func (c Claims) NamespacePath() string  { return c.String("namespace_path") }
func (c Claims) NamespaceID() string    { return c.String("namespace_id") }
func (c Claims) CIConfigRefURI() string { return c.String("ci_config_ref_uri") }
func (c Claims) RefPath() string        { return c.String("ref_path") }

// jwtHeader is our own read of the protected header, used to refuse with a
// precise message before go-jose parses it. We only ever refuse on what it
// says; the key id and algorithm we act on come from go-jose's parse, and the
// two must agree.
type jwtHeader struct {
	Alg  string          `json:"alg"`
	Kid  *string         `json:"kid"`
	JKU  json.RawMessage `json:"jku"`
	X5U  json.RawMessage `json:"x5u"`
	X5C  json.RawMessage `json:"x5c"`
	JWK  json.RawMessage `json:"jwk"`
	Crit json.RawMessage `json:"crit"`
}

// Verify checks rawJWT and returns its claims. Every failure is a *Refusal
// wrapped in an errs.Unauthenticated error (errors.As finds it).
func (v *Verifier) Verify(ctx context.Context, rawJWT string) (Claims, error) {
	c, r := v.verify(ctx, rawJWT)
	if r != nil {
		v.m.refusals.WithLabelValues(r.Reason).Inc()
		return Claims{}, errs.E(errs.Unauthenticated, "oidc.Verify", r)
	}
	return c, nil
}

func (v *Verifier) verify(ctx context.Context, raw string) (Claims, *Refusal) {
	// 1. Shape, before any decoding (CVE-2025-27144 / CVE-2025-30204 class).
	if len(raw) > MaxTokenBytes {
		return Claims{}, refuse(CodeInvalidPayload, ReasonMalformed, "malformed JWT: token is longer than %d bytes", MaxTokenBytes)
	}
	i := strings.IndexByte(raw, '.')
	j := strings.LastIndexByte(raw, '.')
	if i < 0 || i == j || strings.IndexByte(raw[i+1:j], '.') >= 0 {
		return Claims{}, refuse(CodeInvalidPayload, ReasonMalformed, "malformed JWT: expected the compact form header.payload.signature")
	}
	// 2. Header, untrusted.
	var h jwtHeader
	if err := decodeSegment(raw[:i], &h); err != nil {
		return Claims{}, refuse(CodeInvalidPayload, ReasonMalformed, "malformed JWT: header is not base64url JSON")
	}
	if !slices.Contains(supportedAlgs, jose.SignatureAlgorithm(h.Alg)) {
		return Claims{}, refuse(CodeInvalidToken, ReasonAlgorithm, "algorithm %q is not allowed: tokens must be signed with an asymmetric algorithm (RS256, ES256, ...)", truncate(h.Alg))
	}
	if h.JKU != nil || h.X5U != nil || h.X5C != nil || h.JWK != nil || h.Crit != nil {
		return Claims{}, refuse(CodeInvalidToken, ReasonForbiddenHeader, "token header carries jku, x5u, x5c, jwk or crit: keys come only from the issuer's published key set")
	}
	if h.Kid == nil || *h.Kid == "" {
		return Claims{}, refuse(CodeInvalidToken, ReasonMissingKID, "token header has no kid: the key id is required")
	}
	if !printable(*h.Kid) {
		return Claims{}, refuse(CodeInvalidToken, ReasonMalformed, "token kid is not 1 to 256 printable characters")
	}
	// Payload, untrusted until the signature over these very bytes checks.
	payload, err := base64.RawURLEncoding.DecodeString(raw[i+1 : j])
	if err != nil {
		return Claims{}, refuse(CodeInvalidPayload, ReasonMalformed, "malformed JWT: payload is not base64url")
	}
	claims := Claims{}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&claims.Raw); err != nil || claims.Raw == nil || dec.More() {
		return Claims{}, refuse(CodeInvalidPayload, ReasonMalformed, "malformed JWT: payload is not a JSON object")
	}
	iss, ok := claims.Raw["iss"].(string)
	if !ok || iss == "" {
		return Claims{}, refuse(CodeInvalidPayload, ReasonMalformed, "malformed JWT: no iss claim")
	}
	// 3. Only configured issuers, exact match, nothing fetched otherwise.
	ks := v.issuers[iss]
	if ks == nil {
		return Claims{}, refuse(CodeInvalidPayload, ReasonUnknownIssuer, "unknown trusted publishing issuer %q: this server trusts only the issuers its operator configured", truncate(iss))
	}
	// From here on the issuer is known (for metrics and audit); Raw is
	// returned with a refusal only once the signature has verified.
	claims.IssuerName, claims.Issuer, claims.Kind = ks.cfg.Name, iss, ks.cfg.Kind
	unverified := Claims{IssuerName: ks.cfg.Name, Issuer: iss, Kind: ks.cfg.Kind}
	algs := ks.Algorithms()
	if !slices.Contains(algs, jose.SignatureAlgorithm(h.Alg)) {
		return unverified, refuse(CodeInvalidToken, ReasonAlgorithm, "algorithm %q is not one issuer %s signs with (%v)", h.Alg, iss, algs)
	}
	jws, err := jose.ParseSignedCompact(raw, algs)
	if err != nil || len(jws.Signatures) != 1 {
		return unverified, refuse(CodeInvalidPayload, ReasonMalformed, "malformed JWT: the signature structure does not parse")
	}
	sh := jws.Signatures[0].Header
	if sh.KeyID != *h.Kid || sh.Algorithm != h.Alg || sh.JSONWebKey != nil {
		// Two parsers disagreeing about the header is an attack, not a typo.
		// Other extra headers (typ, GitHub's x5t) are harmless: never acted on.
		return unverified, refuse(CodeInvalidToken, ReasonForbiddenHeader, "token header has ambiguous fields")
	}
	// 4. Key from the issuer's cached set.
	key, err := ks.Key(ctx, sh.KeyID)
	if err != nil {
		if ks.hasNoKeys() {
			return unverified, refuse(CodeInvalidToken, ReasonKeysUnavailable, "the signing keys of issuer %s are not available right now; try again later", iss)
		}
		return unverified, refuse(CodeInvalidToken, ReasonUnknownKID, "no key with kid %q in the key set of issuer %s", truncate(sh.KeyID), iss)
	}
	if err := keyFitsAlg(key, sh.Algorithm); err != nil {
		return unverified, refuse(CodeInvalidToken, ReasonKeyMismatch, "key %q cannot verify %s signatures", truncate(sh.KeyID), sh.Algorithm)
	}
	verified, err := jws.Verify(key.Key)
	if err != nil {
		return unverified, refuse(CodeInvalidToken, ReasonSignature, "signature does not verify with key %q of issuer %s", truncate(sh.KeyID), iss)
	}
	if !bytes.Equal(verified, payload) {
		return unverified, refuse(CodeInvalidToken, ReasonMalformed, "malformed JWT: signed payload differs from the payload read")
	}
	// 5. Claims.
	if r := v.checkClaims(&claims, ks.cfg); r != nil {
		return claims, r
	}
	return claims, nil
}

func (v *Verifier) checkClaims(c *Claims, ic IssuerConfig) *Refusal {
	switch aud := c.Raw["aud"].(type) {
	case string:
		if aud != v.cfg.Audience {
			return refuse(CodeInvalidToken, ReasonAudience, "wrong audience: expected %q, got %q (request the ID token with audience=%s)", v.cfg.Audience, truncate(aud), v.cfg.Audience)
		}
		c.Audience = aud
	case []any:
		// Refused even when the list contains ours: a token meant for several
		// relying parties can be replayed by any of them (crates.io, RFC 8725).
		return refuse(CodeInvalidToken, ReasonAudience, "aud must be the single string %q, got a list of %d audiences", v.cfg.Audience, len(aud))
	default:
		return refuse(CodeInvalidToken, ReasonAudience, "aud claim is missing: expected %q", v.cfg.Audience)
	}
	now := v.cfg.Now()
	leeway := v.cfg.Leeway
	var ok bool
	if c.Expires, ok = numericDate(c.Raw["exp"]); !ok {
		return refuse(CodeInvalidToken, ReasonMissingClaim, "exp claim is missing or not a number")
	}
	if c.IssuedAt, ok = numericDate(c.Raw["iat"]); !ok {
		return refuse(CodeInvalidToken, ReasonMissingClaim, "iat claim is missing or not a number")
	}
	if _, present := c.Raw["nbf"]; present {
		if c.NotBefore, ok = numericDate(c.Raw["nbf"]); !ok {
			return refuse(CodeInvalidToken, ReasonMissingClaim, "nbf claim is not a number")
		}
	}
	if now.After(c.Expires.Add(leeway)) {
		return refuse(CodeInvalidToken, ReasonExpired, "token expired at %s (server time %s); request a fresh ID token", fmtTime(c.Expires), fmtTime(now))
	}
	if c.IssuedAt.After(now.Add(leeway)) {
		return refuse(CodeInvalidToken, ReasonIssuedInFuture, "token issued in the future (iat %s, server time %s); check the clocks", fmtTime(c.IssuedAt), fmtTime(now))
	}
	if !c.NotBefore.IsZero() && c.NotBefore.After(now.Add(leeway)) {
		return refuse(CodeInvalidToken, ReasonNotYetValid, "token not valid before %s (server time %s)", fmtTime(c.NotBefore), fmtTime(now))
	}
	if life := c.Expires.Sub(c.IssuedAt); life > ic.MaxTokenLifetime || life < 0 {
		return refuse(CodeInvalidToken, ReasonLifetime, "token lifetime exp-iat = %s is outside 0..%s allowed for issuer %s", life, ic.MaxTokenLifetime, ic.Name)
	}
	jti, _ := c.Raw["jti"].(string)
	if jti == "" {
		return refuse(CodeInvalidToken, ReasonMissingClaim, "jti claim is missing: each ID token must carry a unique id")
	}
	c.JTI = jti
	c.Subject, _ = c.Raw["sub"].(string)
	return nil
}

func (k *KeySet) hasNoKeys() bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.keys) == 0
}

// numericDate reads an RFC 7519 NumericDate (seconds, possibly fractional).
func numericDate(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	if i, err := n.Int64(); err == nil {
		if i < 0 || i > 1<<40 {
			return time.Time{}, false
		}
		return time.Unix(i, 0), true
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f < 0 || f > 1<<40 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func printable(s string) bool {
	if len(s) == 0 || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// truncate keeps attacker-chosen strings short in messages and logs.
func truncate(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
