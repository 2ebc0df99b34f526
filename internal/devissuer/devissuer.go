// Package devissuer is a real OpenID Connect issuer for development and
// tests: discovery, JWKS with key rotation, and a GitHub-Actions-like ID-token
// endpoint (ACTIONS_ID_TOKEN_REQUEST_URL / _TOKEN). It also signs arbitrary
// and hostile tokens (alg none, HS256 keyed with the public key, missing or
// unknown kid, ...) so the verifier's refusals can be tested.
//
// It listens on loopback only and its keys live in memory: it is never a
// production identity provider. research/oidc-federation.md §5.
package devissuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// DefaultLifetime is how long minted tokens live, as GitHub's do.
const DefaultLifetime = 5 * time.Minute

// Config configures an Issuer.
type Config struct {
	// Issuer is the issuer URL; often only known after listening, so it can
	// also be set with SetIssuer (Start does it).
	Issuer string
	// Keys; generated when nil (RSA 2048 and EC P-256). Passing keys in
	// saves the generation time in tests that build many issuers.
	RSAKey *rsa.PrivateKey
	ECKey  *ecdsa.PrivateKey
	Now    func() time.Time
	// RequestToken is the bearer the token endpoint requires; "" generates one.
	RequestToken string
	// Claims are what the token endpoint puts in its tokens.
	Claims   GitHubClaims
	Lifetime time.Duration // exp - iat; 0 means DefaultLifetime
}

// GitHubClaims are the claims GitHub Actions puts in an ID token. IDs are
// strings, as GitHub sends them.
type GitHubClaims struct {
	Repository        string `json:"repository"`
	RepositoryID      string `json:"repository_id"`
	RepositoryOwner   string `json:"repository_owner"`
	RepositoryOwnerID string `json:"repository_owner_id"`
	WorkflowRef       string `json:"workflow_ref"`
	JobWorkflowRef    string `json:"job_workflow_ref"` // "" means equal to WorkflowRef
	Ref               string `json:"ref"`
	RefType           string `json:"ref_type"`
	SHA               string `json:"sha"`
	Environment       string `json:"environment,omitempty"`
	EventName         string `json:"event_name"`
	RunID             string `json:"run_id"`
	RunAttempt        string `json:"run_attempt"`
	Actor             string `json:"actor"`
	// Extra claims, added last (they may override the above).
	Extra map[string]any `json:"-"`
}

// Example returns plausible claims for owner/repo running workflow on ref.
func Example(owner, ownerID, repo, repoID, workflow, ref string) GitHubClaims {
	wr := owner + "/" + repo + "/.github/workflows/" + workflow + "@" + ref
	return GitHubClaims{
		Repository: owner + "/" + repo, RepositoryID: repoID, RepositoryOwner: owner, RepositoryOwnerID: ownerID,
		WorkflowRef: wr, Ref: ref, RefType: refType(ref), SHA: strings.Repeat("ab", 20),
		EventName: "push", RunID: "4242", RunAttempt: "1", Actor: owner,
	}
}

func refType(ref string) string {
	if strings.HasPrefix(ref, "refs/tags/") {
		return "tag"
	}
	return "branch"
}

// Subject computes sub as GitHub's default template does:
// repo:OWNER/REPO:environment:ENV, :pull_request, or :ref:REF.
func (g GitHubClaims) Subject() string {
	esc := func(s string) string { return strings.ReplaceAll(s, ":", "%3A") }
	switch {
	case g.Environment != "":
		return "repo:" + g.Repository + ":environment:" + esc(g.Environment)
	case g.EventName == "pull_request":
		return "repo:" + g.Repository + ":pull_request"
	default:
		return "repo:" + g.Repository + ":ref:" + esc(g.Ref)
	}
}

// Hits counts requests per endpoint, so tests can assert that nothing was
// fetched or that refreshes stayed bounded.
type Hits struct{ Discovery, JWKS, Token int64 }

// Issuer is a running development issuer.
type Issuer struct {
	now      func() time.Time
	lifetime time.Duration
	reqToken string

	mu        sync.RWMutex
	issuer    string
	rsaKeys   []*rsa.PrivateKey // published; the last one signs
	ecKey     *ecdsa.PrivateKey
	claims    GitHubClaims
	discIss   string // fault: discovery names this issuer instead
	jwksPad   int    // fault: pad the JWKS body with this many bytes
	jwksState int    // fault: JWKS answers this status

	discovery, jwks, token atomic.Int64
}

// New builds an Issuer.
func New(cfg Config) (*Issuer, error) {
	i := &Issuer{now: cfg.Now, lifetime: cfg.Lifetime, reqToken: cfg.RequestToken, issuer: strings.TrimSuffix(cfg.Issuer, "/"), claims: cfg.Claims}
	if i.now == nil {
		i.now = time.Now
	}
	if i.lifetime <= 0 {
		i.lifetime = DefaultLifetime
	}
	if i.reqToken == "" {
		i.reqToken = randomHex(16)
	}
	var err error
	rk := cfg.RSAKey
	if rk == nil {
		if rk, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, err
		}
	}
	i.rsaKeys = []*rsa.PrivateKey{rk}
	i.ecKey = cfg.ECKey
	if i.ecKey == nil {
		if i.ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, err
		}
	}
	return i, nil
}

// SetIssuer sets the issuer URL (iss and discovery).
func (i *Issuer) SetIssuer(u string) {
	i.mu.Lock()
	i.issuer = strings.TrimSuffix(u, "/")
	i.mu.Unlock()
}

// URL is the issuer URL.
func (i *Issuer) URL() string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.issuer
}

// RequestURL is what a runner exports as ACTIONS_ID_TOKEN_REQUEST_URL;
// clients append "&audience=...".
func (i *Issuer) RequestURL() string { return i.URL() + "/token?api-version=2.0" }

// RequestToken is ACTIONS_ID_TOKEN_REQUEST_TOKEN.
func (i *Issuer) RequestToken() string { return i.reqToken }

// SetClaims changes the claims of tokens from the token endpoint.
func (i *Issuer) SetClaims(c GitHubClaims) {
	i.mu.Lock()
	i.claims = c
	i.mu.Unlock()
}

// RotateKey publishes a new RSA signing key and signs with it from now on;
// the old keys stay published so tokens already issued still verify.
func (i *Issuer) RotateKey() (kid string, err error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	i.mu.Lock()
	i.rsaKeys = append(i.rsaKeys, k)
	i.mu.Unlock()
	return KeyID(&k.PublicKey), nil
}

// SetDiscoveryIssuer makes discovery name another issuer ("" to undo).
func (i *Issuer) SetDiscoveryIssuer(s string) { i.mu.Lock(); i.discIss = s; i.mu.Unlock() }

// SetJWKSPadding pads the JWKS document with n bytes (to exceed size caps).
func (i *Issuer) SetJWKSPadding(n int) { i.mu.Lock(); i.jwksPad = n; i.mu.Unlock() }

// SetJWKSStatus makes the JWKS endpoint fail with status (0 to undo).
func (i *Issuer) SetJWKSStatus(status int) { i.mu.Lock(); i.jwksState = status; i.mu.Unlock() }

// Hits returns the request counters.
func (i *Issuer) Hits() Hits {
	return Hits{Discovery: i.discovery.Load(), JWKS: i.jwks.Load(), Token: i.token.Load()}
}

// KeyID is the RFC 7638 thumbprint of a public key, base64url.
func KeyID(pub crypto.PublicKey) string {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		panic(err) // only RSA and EC keys reach here
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

// RSAKeyID and ECKeyID are the kids of the current signing keys.
func (i *Issuer) RSAKeyID() string { return KeyID(&i.signingRSA().PublicKey) }
func (i *Issuer) ECKeyID() string  { return KeyID(&i.ecKey.PublicKey) }

func (i *Issuer) signingRSA() *rsa.PrivateKey {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.rsaKeys[len(i.rsaKeys)-1]
}

// Claims builds the full claim set the token endpoint would sign for aud.
func (i *Issuer) Claims(aud string, g GitHubClaims) map[string]any {
	now := i.now()
	m := map[string]any{}
	b, _ := json.Marshal(g)
	_ = json.Unmarshal(b, &m)
	if g.JobWorkflowRef == "" {
		m["job_workflow_ref"] = g.WorkflowRef
	}
	if g.Environment == "" {
		delete(m, "environment")
	}
	m["sub"] = g.Subject()
	m["iss"] = i.URL()
	m["aud"] = aud
	m["jti"] = randomHex(16)
	m["iat"] = now.Unix()
	m["nbf"] = now.Unix()
	m["exp"] = now.Add(i.lifetime).Unix()
	if wr := g.WorkflowRef; wr != "" {
		if at := strings.IndexByte(wr, '@'); at > 0 {
			m["workflow"] = wr[strings.LastIndexByte(wr[:at], '/')+1 : at]
		}
	}
	for k, v := range g.Extra {
		m[k] = v
	}
	return m
}

// Token signs a GitHub-like token for aud with the current RSA key.
func (i *Issuer) Token(aud string, g GitHubClaims) (string, error) {
	return i.Sign(i.Claims(aud, g), SignOptions{})
}

// SignOptions control how Sign builds a token, including hostile variants.
type SignOptions struct {
	// Alg: "RS256" (default), "ES256", "none" (no signature) or "HS256"
	// (HMAC keyed with the PEM of the issuer's RSA public key: the
	// algorithm-confusion attack).
	Alg string
	// KID overrides the kid header; NoKID omits it.
	KID   string
	NoKID bool
	// Header adds or overrides header fields (jku, jwk, crit, typ, ...).
	Header map[string]any
	// RSAKey signs RS256 with this key instead (an unpublished key).
	RSAKey *rsa.PrivateKey
}

// Sign signs claims as a compact JWS.
func (i *Issuer) Sign(claims map[string]any, o SignOptions) (string, error) {
	alg := o.Alg
	if alg == "" {
		alg = "RS256"
	}
	rk := o.RSAKey
	if rk == nil {
		rk = i.signingRSA()
	}
	h := map[string]any{"typ": "JWT", "alg": alg}
	switch alg {
	case "ES256":
		h["kid"] = i.ECKeyID()
	default:
		h["kid"] = KeyID(&rk.PublicKey)
	}
	if o.KID != "" {
		h["kid"] = o.KID
	}
	if o.NoKID {
		delete(h, "kid")
	}
	for k, v := range o.Header {
		h[k] = v
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return "", err
	}
	pb, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64(hb) + "." + b64(pb)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch alg {
	case "RS256":
		sig, err = rsa.SignPKCS1v15(nil, rk, crypto.SHA256, digest[:])
	case "ES256":
		var r, s []byte
		rr, ss, e := ecdsa.Sign(rand.Reader, i.ecKey, digest[:])
		if e != nil {
			return "", e
		}
		r, s = rr.FillBytes(make([]byte, 32)), ss.FillBytes(make([]byte, 32))
		sig = append(r, s...)
	case "HS256":
		der, e := x509.MarshalPKIXPublicKey(&rk.PublicKey)
		if e != nil {
			return "", e
		}
		mac := hmac.New(sha256.New, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		mac.Write([]byte(input))
		sig = mac.Sum(nil)
	case "none":
	default:
		return "", fmt.Errorf("devissuer: unsupported alg %q", alg)
	}
	if err != nil {
		return "", err
	}
	return input + "." + b64(sig), nil
}

// Handler serves discovery, JWKS and the token endpoint under the issuer
// URL's path.
func (i *Issuer) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		base := ""
		if u, err := url.Parse(i.URL()); err == nil {
			base = strings.TrimSuffix(u.Path, "/")
		}
		switch r.URL.Path {
		case base + "/.well-known/openid-configuration":
			i.discovery.Add(1)
			i.serveDiscovery(w)
		case base + "/.well-known/jwks":
			i.jwks.Add(1)
			i.serveJWKS(w)
		case base + "/token":
			i.token.Add(1)
			i.serveToken(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}

func (i *Issuer) serveDiscovery(w http.ResponseWriter) {
	i.mu.RLock()
	iss, override := i.issuer, i.discIss
	i.mu.RUnlock()
	named := iss
	if override != "" {
		named = override
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                named,
		"jwks_uri":                              iss + "/.well-known/jwks",
		"subject_types_supported":               []string{"public", "pairwise"},
		"response_types_supported":              []string{"id_token"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		"scopes_supported":                      []string{"openid"},
		"claims_supported": []string{"sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "ref_type", "sha",
			"repository", "repository_id", "repository_owner", "repository_owner_id", "run_id", "run_attempt",
			"actor", "workflow", "workflow_ref", "job_workflow_ref", "event_name", "environment"},
	})
}

func (i *Issuer) serveJWKS(w http.ResponseWriter) {
	i.mu.RLock()
	status, pad := i.jwksState, i.jwksPad
	set := jose.JSONWebKeySet{}
	for _, k := range i.rsaKeys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.PublicKey, KeyID: KeyID(&k.PublicKey), Algorithm: "RS256", Use: "sig"})
	}
	set.Keys = append(set.Keys, jose.JSONWebKey{Key: &i.ecKey.PublicKey, KeyID: KeyID(&i.ecKey.PublicKey), Algorithm: "ES256", Use: "sig"})
	i.mu.RUnlock()
	if status != 0 {
		http.Error(w, "injected failure", status)
		return
	}
	doc := map[string]any{"keys": set.Keys}
	if pad > 0 {
		doc["padding"] = strings.Repeat("x", pad)
	}
	writeJSON(w, http.StatusOK, doc)
}

// serveToken answers GET /token?audience=... with Authorization: bearer
// <request token>, as the Actions runtime does.
func (i *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "use GET"})
		return
	}
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "bearer") || !hmac.Equal([]byte(tok), []byte(i.reqToken)) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "bad or missing request token"})
		return
	}
	i.mu.RLock()
	c := i.claims
	i.mu.RUnlock()
	aud := r.URL.Query().Get("audience")
	if aud == "" {
		aud = "https://github.com/" + c.RepositoryOwner // GitHub's default
	}
	jwt, err := i.Token(aud, c)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"value": jwt})
}

// Start listens on addr (loopback only), sets the issuer URL to
// http://<addr> and serves until stop is called.
func (i *Issuer) Start(addr string) (issuerURL string, stop func(), err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", nil, errors.New("devissuer: listen on a loopback address only (127.0.0.1:PORT)")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	issuerURL = "http://" + ln.Addr().String()
	i.SetIssuer(issuerURL)
	srv := &http.Server{Handler: i.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return issuerURL, func() { _ = srv.Close() }, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
