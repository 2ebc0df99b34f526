// Package oidctest is the trusted-publishing attack suite, written once and
// run against every endpoint that exchanges ID tokens: the Exchanger itself,
// the PyPI-compatible HTTP mint-token endpoint, and later an RFC 8693 token
// exchange. Each case builds a fresh World of development issuers served
// over httptest, asks the caller's Setup for an Endpoint wired to that world,
// and checks the outcome (and, where it matters, what the issuers served).
package oidctest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wharf-dev/wharf/internal/devissuer"
	"github.com/wharf-dev/wharf/internal/oidc"
)

// Endpoint is what the suite drives: one exchange of a raw ID token.
type Endpoint interface {
	Exchange(ctx context.Context, rawJWT string) (ok bool, code string, description string)
}

// Setup builds the endpoint under test from the world: configure the issuers
// and audience of w.Config, the publishers w.Publishers, a project checker
// that answers true exactly for w.ExistingProjects, a fresh replay store, and
// any minter. It may warm key sets or not; the suite works either way.
type Setup func(t *testing.T, w *World) Endpoint

// Project is a (repository, project) pair.
type Project struct{ Repo, Project string }

// World is the set of issuers, publishers and projects a case runs against.
type World struct {
	Now      func() time.Time
	Audience string
	// GitHub is the configured github.com-like issuer; Enterprise a second
	// configured github issuer (an enterprise slug URL); Mismatch a
	// configured issuer whose discovery names another issuer; Oversized one
	// whose JWKS exceeds the size cap; Unconfigured runs but is not trusted.
	GitHub, Enterprise, Mismatch, Oversized, Unconfigured *devissuer.Issuer
	// Config lists the four configured issuers, the audience, Now and a 60 s
	// leeway.
	Config           oidc.Config
	Publishers       []oidc.Publisher
	ExistingProjects []Project
	// Good are claims matching the main publisher (acme/widgets,
	// release.yml, environment pypi) → main/widgets.
	Good devissuer.GitHubClaims
}

// Exists reports whether (repo, project) is in ExistingProjects.
func (w *World) Exists(repo, project string) bool {
	for _, p := range w.ExistingProjects {
		if p.Repo == repo && p.Project == project {
			return true
		}
	}
	return false
}

// Claims returns Good's claims from iss for the world's audience, changed by
// mut (which may delete or set any claim).
func (w *World) Claims(iss *devissuer.Issuer, mut func(m map[string]any)) map[string]any {
	m := iss.Claims(w.Audience, w.Good)
	if mut != nil {
		mut(m)
	}
	return m
}

// Token signs claims with iss.
func (w *World) Token(t testing.TB, iss *devissuer.Issuer, claims map[string]any, o devissuer.SignOptions) string {
	t.Helper()
	tok, err := iss.Sign(claims, o)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Keys are generated once per Run and shared by its worlds: RSA key
// generation would otherwise dominate the suite's run time.
type Keys struct {
	rsa []*rsa.PrivateKey
	ec  []*ecdsa.PrivateKey
}

// NewKeys generates n RSA-2048 and n P-256 keys (a world needs 5).
func NewKeys(n int) *Keys {
	k := &Keys{rsa: make([]*rsa.PrivateKey, n), ec: make([]*ecdsa.PrivateKey, n)}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			e, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				panic(err)
			}
			k.rsa[i], k.ec[i] = r, e
		})
	}
	wg.Wait()
	return k
}

// NewWorld starts the issuers of a world (closed at the end of t). k may be
// nil: keys are then generated.
func NewWorld(t testing.TB, k *Keys) *World {
	t.Helper()
	if k == nil {
		k = NewKeys(5)
	}
	now := time.Now().Truncate(time.Second)
	w := &World{Now: func() time.Time { return now }, Audience: "wharf:test.example"}
	start := func(i int, path string) *devissuer.Issuer {
		iss, err := devissuer.New(devissuer.Config{RSAKey: k.rsa[i], ECKey: k.ec[i], Now: w.Now})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(iss.Handler())
		t.Cleanup(srv.Close)
		iss.SetIssuer(srv.URL + path)
		return iss
	}
	w.GitHub = start(0, "")
	w.Enterprise = start(1, "/acme")
	w.Mismatch = start(2, "")
	w.Oversized = start(3, "")
	w.Unconfigured = start(4, "")
	w.Mismatch.SetDiscoveryIssuer("https://token.actions.githubusercontent.com")
	w.Oversized.SetJWKSPadding(oidc.MaxResponseBytes + 1)
	w.Config = oidc.Config{
		Audience: w.Audience,
		Leeway:   60 * time.Second,
		Now:      w.Now,
		// The world's clock stands still: waiting for the next key refresh
		// would never see it come, so do not wait.
		Sleep: func(context.Context, time.Duration) error { return nil },
		Issuers: []oidc.IssuerConfig{
			{Name: "github", URL: w.GitHub.URL(), Kind: oidc.KindGitHub, MaxTokenLifetime: 15 * time.Minute},
			{Name: "github-acme", URL: w.Enterprise.URL(), Kind: oidc.KindGitHub},
			{Name: "mismatch", URL: w.Mismatch.URL(), Kind: oidc.KindGitHub},
			{Name: "oversized", URL: w.Oversized.URL(), Kind: oidc.KindGitHub},
		},
	}
	w.Good = devissuer.Example("acme", "1001", "widgets", "2002", "release.yml", "refs/tags/v1.0.0")
	w.Good.Environment = "pypi"
	gh := func(id int64, project string, pending bool, g oidc.GitHubPublisher) oidc.Publisher {
		g.Issuer = w.GitHub.URL()
		return oidc.Publisher{ID: id, Repo: "main", Project: project, Pending: pending, Kind: oidc.KindGitHub, GitHub: &g}
	}
	w.Publishers = []oidc.Publisher{
		gh(1, "widgets", false, oidc.GitHubPublisher{Owner: "acme", OwnerID: "1001", Repository: "widgets", RepositoryID: "2002", Workflow: "release.yml", Environment: "pypi"}),
		// A stale pending publisher for a project that exists: must fall
		// through to publisher 1, not refuse (warehouse#18478).
		gh(2, "widgets", true, oidc.GitHubPublisher{Owner: "acme", OwnerID: "1001", Repository: "widgets", Workflow: "release.yml"}),
		// A pending publisher whose project does not exist yet.
		gh(3, "gadgets", true, oidc.GitHubPublisher{Owner: "acme", OwnerID: "1001", Repository: "gadgets", Workflow: "release.yml"}),
		// A pending publisher whose project exists and nothing else matches.
		gh(4, "legacy", true, oidc.GitHubPublisher{Owner: "acme", OwnerID: "1001", Repository: "legacy", Workflow: "release.yml"}),
		// Another project's publisher: its configuration must never leak.
		gh(5, "secret-thing", false, oidc.GitHubPublisher{Owner: "hidden-org", OwnerID: "7770777077", Repository: "secret-thing", Workflow: "deploy-secret.yml", Environment: "vault"}),
		// The enterprise issuer has its own publisher for another project.
		{ID: 6, Repo: "main", Project: "corp", Kind: oidc.KindGitHub, GitHub: &oidc.GitHubPublisher{
			Issuer: w.Enterprise.URL(), Owner: "acme", OwnerID: "1001", Repository: "corp", Workflow: "release.yml"}},
	}
	w.ExistingProjects = []Project{{"main", "widgets"}, {"main", "legacy"}, {"main", "secret-thing"}, {"main", "corp"}}
	return w
}

// Want is the expected outcome of one exchange.
type Want struct {
	OK          bool
	Code        string   // when !OK
	Contains    []string // substrings of the description
	NotContains []string // e.g. other projects' configuration
}

// AttackCase is one entry of the suite: either Token + Want, or Check for
// cases that need several exchanges or look at the issuers.
type AttackCase struct {
	Name  string
	Token func(t testing.TB, w *World) string
	Want  Want
	Check func(t *testing.T, w *World, e Endpoint)
}

// Run runs every case of AttackCases, each against a fresh world.
func Run(t *testing.T, setup Setup) {
	k := NewKeys(5)
	for _, tc := range AttackCases() {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			w := NewWorld(t, k)
			e := setup(t, w)
			if tc.Check != nil {
				tc.Check(t, w, e)
				return
			}
			Expect(t, e, tc.Token(t, w), tc.Want)
		})
	}
}

// Expect exchanges tok and checks the outcome.
func Expect(t testing.TB, e Endpoint, tok string, want Want) {
	t.Helper()
	ok, code, desc := e.Exchange(context.Background(), tok)
	if ok != want.OK || (!want.OK && code != want.Code) {
		t.Fatalf("exchange: ok=%v code=%q description=%q; want ok=%v code=%q", ok, code, desc, want.OK, want.Code)
	}
	for _, s := range want.Contains {
		if !strings.Contains(desc, s) {
			t.Errorf("description %q does not contain %q", desc, s)
		}
	}
	for _, s := range want.NotContains {
		if strings.Contains(desc, s) {
			t.Errorf("description %q reveals %q", desc, s)
		}
	}
}

// Secrets of publisher 5 that no refusal may reveal.
var leak = []string{"hidden-org", "secret-thing", "deploy-secret", "vault", "7770777077"}

func refused(code string, contains ...string) Want {
	return Want{Code: code, Contains: contains, NotContains: leak}
}

// goodWith returns a Token func for Good claims from the GitHub issuer,
// changed by mut and signed with o.
func goodWith(mut func(m map[string]any), o devissuer.SignOptions) func(testing.TB, *World) string {
	return func(t testing.TB, w *World) string { return w.Token(t, w.GitHub, w.Claims(w.GitHub, mut), o) }
}

func set(kv ...any) func(map[string]any) {
	return func(m map[string]any) {
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
	}
}

func shift(w *World, d time.Duration) int64 { return w.Now().Add(d).Unix() }

// AttackCases returns the suite (a function, so nobody shares mutable state).
func AttackCases() []AttackCase {
	none := devissuer.SignOptions{}
	return []AttackCase{
		{Name: "valid RS256 token", Token: goodWith(nil, none), Want: Want{OK: true}},
		{Name: "valid ES256 token", Token: goodWith(nil, devissuer.SignOptions{Alg: "ES256"}), Want: Want{OK: true}},
		{Name: "repository and environment case differ", Token: goodWith(set("repository", "ACME/Widgets", "repository_owner", "Acme", "environment", "PyPI"), none), Want: Want{OK: true}},
		{Name: "reusable workflow in another repository, caller trusted", Token: goodWith(set("job_workflow_ref", "other/tools/.github/workflows/pypi.yml@refs/tags/v3"), none), Want: Want{OK: true}},
		{Name: "pending publisher, project does not exist", Token: func(t testing.TB, w *World) string {
			return w.Token(t, w.GitHub, w.Claims(w.GitHub, set("repository", "acme/gadgets", "workflow_ref", "acme/gadgets/.github/workflows/release.yml@refs/tags/v1.0.0")), none)
		}, Want: Want{OK: true}},
		{Name: "pending publisher, project exists, no other publisher", Token: func(t testing.TB, w *World) string {
			return w.Token(t, w.GitHub, w.Claims(w.GitHub, set("repository", "acme/legacy", "workflow_ref", "acme/legacy/.github/workflows/release.yml@refs/tags/v1.0.0")), none)
		}, Want: refused(oidc.CodeInvalidPendingPublisher, "already exists")},

		{Name: "alg none", Token: goodWith(nil, devissuer.SignOptions{Alg: "none"}), Want: refused(oidc.CodeInvalidToken, `"none" is not allowed`)},
		{Name: "HS256 signed with the public key", Token: goodWith(nil, devissuer.SignOptions{Alg: "HS256"}), Want: refused(oidc.CodeInvalidToken, `"HS256" is not allowed`)},
		{Name: "missing kid", Token: goodWith(nil, devissuer.SignOptions{NoKID: true}), Want: refused(oidc.CodeInvalidToken, "no kid")},
		{Name: "unknown kid", Token: goodWith(nil, devissuer.SignOptions{KID: "not-a-key"}), Want: refused(oidc.CodeInvalidToken, `kid "not-a-key"`)},
		{Name: "embedded jku header", Token: goodWith(nil, devissuer.SignOptions{Header: map[string]any{"jku": "http://127.0.0.1:1/keys"}}), Want: refused(oidc.CodeInvalidToken, "jku")},
		{Name: "signed by an unpublished key under a published kid", Token: func(t testing.TB, w *World) string {
			other, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				t.Fatal(err)
			}
			return w.Token(t, w.GitHub, w.Claims(w.GitHub, nil), devissuer.SignOptions{RSAKey: other, KID: w.GitHub.RSAKeyID()})
		}, Want: refused(oidc.CodeInvalidToken, "signature does not verify")},
		{Name: "ES256 header with the RSA key's kid", Token: func(t testing.TB, w *World) string {
			return w.Token(t, w.GitHub, w.Claims(w.GitHub, nil), devissuer.SignOptions{Alg: "ES256", KID: w.GitHub.RSAKeyID()})
		}, Want: refused(oidc.CodeInvalidToken, "cannot verify ES256")},
		{Name: "not a compact JWS", Token: func(testing.TB, *World) string { return "a.b.c.d" }, Want: refused(oidc.CodeInvalidPayload, "malformed")},

		{Name: "wrong audience", Token: goodWith(set("aud", "pypi"), none), Want: refused(oidc.CodeInvalidToken, `expected "wharf:test.example", got "pypi"`)},
		{Name: "multiple audiences including ours", Token: goodWith(set("aud", []any{"wharf:test.example", "other"}), none), Want: refused(oidc.CodeInvalidToken, "single string")},
		{Name: "missing audience", Token: goodWith(func(m map[string]any) { delete(m, "aud") }, none), Want: refused(oidc.CodeInvalidToken, "aud")},
		{Name: "expired", Token: func(t testing.TB, w *World) string {
			return w.Token(t, w.GitHub, w.Claims(w.GitHub, set("iat", shift(w, -10*time.Minute), "nbf", shift(w, -10*time.Minute), "exp", shift(w, -2*time.Minute))), none)
		}, Want: refused(oidc.CodeInvalidToken, "expired at")},
		{Name: "expired within leeway is accepted", Token: func(t testing.TB, w *World) string {
			return w.Token(t, w.GitHub, w.Claims(w.GitHub, set("iat", shift(w, -5*time.Minute), "exp", shift(w, -30*time.Second))), none)
		}, Want: Want{OK: true}},
		{Name: "iat in the future", Token: func(t testing.TB, w *World) string {
			return w.Token(t, w.GitHub, w.Claims(w.GitHub, set("iat", shift(w, 5*time.Minute), "nbf", shift(w, -time.Minute), "exp", shift(w, 8*time.Minute))), none)
		}, Want: refused(oidc.CodeInvalidToken, "issued in the future")},
		{Name: "nbf not reached", Token: func(t testing.TB, w *World) string {
			return w.Token(t, w.GitHub, w.Claims(w.GitHub, set("nbf", shift(w, 5*time.Minute))), none)
		}, Want: refused(oidc.CodeInvalidToken, "not valid before")},
		{Name: "lifetime too long", Token: func(t testing.TB, w *World) string {
			return w.Token(t, w.GitHub, w.Claims(w.GitHub, set("exp", shift(w, 24*time.Hour))), none)
		}, Want: refused(oidc.CodeInvalidToken, "lifetime")},
		{Name: "missing jti", Token: goodWith(func(m map[string]any) { delete(m, "jti") }, none), Want: refused(oidc.CodeInvalidToken, "jti")},
		{Name: "missing exp", Token: goodWith(func(m map[string]any) { delete(m, "exp") }, none), Want: refused(oidc.CodeInvalidToken, "exp")},

		{Name: "unconfigured issuer, nothing fetched", Check: func(t *testing.T, w *World, e Endpoint) {
			Expect(t, e, w.Token(t, w.Unconfigured, w.Claims(w.Unconfigured, nil), none), refused(oidc.CodeInvalidPayload, "unknown trusted publishing issuer"))
			if h := w.Unconfigured.Hits(); h != (devissuer.Hits{}) {
				t.Errorf("unconfigured issuer was contacted: %+v", h)
			}
		}},
		{Name: "issuer with a trailing slash is another issuer", Token: goodWith(func(m map[string]any) { m["iss"] = m["iss"].(string) + "/" }, none), Want: refused(oidc.CodeInvalidPayload, "unknown trusted publishing issuer")},
		{Name: "discovery names another issuer", Check: func(t *testing.T, w *World, e Endpoint) {
			Expect(t, e, w.Token(t, w.Mismatch, w.Claims(w.Mismatch, nil), none), refused(oidc.CodeInvalidToken, "not available"))
			if h := w.Mismatch.Hits(); h.JWKS != 0 {
				t.Errorf("JWKS fetched from an issuer whose discovery did not match: %+v", h)
			}
		}},
		{Name: "oversized JWKS", Token: func(t testing.TB, w *World) string {
			return w.Token(t, w.Oversized, w.Claims(w.Oversized, nil), none)
		}, Want: refused(oidc.CodeInvalidToken, "not available")},
		{Name: "flood of 200 unknown kids", Check: func(t *testing.T, w *World, e Endpoint) {
			Expect(t, e, w.Token(t, w.GitHub, w.Claims(w.GitHub, nil), none), Want{OK: true})
			toks := make([]string, 200)
			for i := range toks {
				toks[i] = w.Token(t, w.GitHub, w.Claims(w.GitHub, nil), devissuer.SignOptions{Alg: "ES256", KID: fmt.Sprintf("forged-%d", i)})
			}
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					for i := g; i < len(toks); i += 8 {
						Expect(t, e, toks[i], Want{Code: oidc.CodeInvalidToken})
					}
				})
			}
			wg.Wait()
			if h := w.GitHub.Hits(); h.JWKS > 2 {
				t.Errorf("JWKS fetched %d times under a flood of unknown kids; want ≤ 2", h.JWKS)
			}
		}},

		{Name: "same jti twice", Check: func(t *testing.T, w *World, e Endpoint) {
			c := w.Claims(w.GitHub, nil)
			Expect(t, e, w.Token(t, w.GitHub, c, none), Want{OK: true})
			// Re-signed (different bytes), same jti.
			Expect(t, e, w.Token(t, w.GitHub, c, devissuer.SignOptions{Alg: "ES256"}), refused(oidc.CodeInvalidReuseToken, "already used"))
		}},
		{Name: "same token 50 times concurrently", Check: func(t *testing.T, w *World, e Endpoint) {
			tok := w.Token(t, w.GitHub, w.Claims(w.GitHub, nil), none)
			var mu sync.Mutex
			codes := map[string]int{}
			var wg sync.WaitGroup
			for range 50 {
				wg.Go(func() {
					ok, code, _ := e.Exchange(context.Background(), tok)
					if ok {
						code = "ok"
					}
					mu.Lock()
					codes[code]++
					mu.Unlock()
				})
			}
			wg.Wait()
			if codes["ok"] != 1 || codes[oidc.CodeInvalidReuseToken] != 49 {
				t.Errorf("outcomes %v; want exactly 1 ok and 49 %s", codes, oidc.CodeInvalidReuseToken)
			}
		}},
		{Name: "refused token can be retried after a publisher mismatch", Check: func(t *testing.T, w *World, e Endpoint) {
			// The jti is claimed only after a publisher matched, so a token
			// refused for its claims does not burn a later good token's id.
			bad := w.Claims(w.GitHub, set("environment", "staging"))
			Expect(t, e, w.Token(t, w.GitHub, bad, none), refused(oidc.CodeInvalidPublisher, "environment"))
			good := w.Claims(w.GitHub, set("jti", bad["jti"]))
			Expect(t, e, w.Token(t, w.GitHub, good, none), Want{OK: true})
		}},

		{Name: "wrong owner", Token: goodWith(set("repository", "evil/widgets", "repository_owner", "evil", "workflow_ref", "evil/widgets/.github/workflows/release.yml@refs/tags/v1.0.0"), none),
			Want: refused(oidc.CodeInvalidPublisher, "no trusted publisher matches", `"evil/widgets"`)},
		{Name: "wrong repository", Token: goodWith(set("repository", "acme/gizmos", "workflow_ref", "acme/gizmos/.github/workflows/release.yml@refs/tags/v1.0.0"), none),
			Want: refused(oidc.CodeInvalidPublisher, "no trusted publisher matches", `"acme/gizmos"`)},
		{Name: "wrong workflow", Token: goodWith(set("workflow_ref", "acme/widgets/.github/workflows/ci.yml@refs/tags/v1.0.0"), none),
			Want: refused(oidc.CodeInvalidPublisher, `claim "workflow_ref"`)},
		{Name: "workflow file name smuggled before an @", Token: goodWith(set("workflow_ref", "acme/widgets/.github/workflows/release.yml@evil.yml@refs/tags/v1.0.0"), none),
			Want: refused(oidc.CodeInvalidPublisher, `claim "workflow_ref"`)},
		{Name: "workflow_ref at another ref than the token's", Token: goodWith(set("workflow_ref", "acme/widgets/.github/workflows/release.yml@refs/heads/evil"), none),
			Want: refused(oidc.CodeInvalidPublisher, `claim "workflow_ref"`)},
		{Name: "wrong environment", Token: goodWith(set("environment", "staging"), none), Want: refused(oidc.CodeInvalidPublisher, `claim "environment"`, `"staging"`)},
		{Name: "no environment", Token: goodWith(func(m map[string]any) { delete(m, "environment") }, none), Want: refused(oidc.CodeInvalidPublisher, `claim "environment"`)},
		{Name: "same owner name, another owner id", Token: goodWith(set("repository_owner_id", "9999"), none), Want: refused(oidc.CodeInvalidPublisher, `claim "repository_owner_id"`, `"9999"`)},
		{Name: "same repository name, another repository id", Token: goodWith(set("repository_id", "9999"), none), Want: refused(oidc.CodeInvalidPublisher, `claim "repository_id"`)},
		{Name: "pull_request_target", Token: goodWith(set("event_name", "pull_request_target"), none), Want: refused(oidc.CodeInvalidPublisher, "pull_request_target")},
		{Name: "workflow_run needs an explicit opt-in", Token: goodWith(set("event_name", "workflow_run"), none), Want: refused(oidc.CodeInvalidPublisher, "workflow_run")},
		{Name: "sub alone proves nothing", Token: goodWith(set("repository", "evil/thing", "sub", "repo:acme/widgets:environment:pypi"), none), Want: refused(oidc.CodeInvalidPublisher, "no trusted publisher matches")},
		{Name: "enterprise-issuer token against a github.com publisher", Token: func(t testing.TB, w *World) string {
			return w.Token(t, w.Enterprise, w.Claims(w.Enterprise, nil), none)
		}, Want: refused(oidc.CodeInvalidPublisher, "no trusted publisher matches")},
		{Name: "enterprise-issuer token for its own publisher", Token: func(t testing.TB, w *World) string {
			return w.Token(t, w.Enterprise, w.Claims(w.Enterprise, set("repository", "acme/corp", "workflow_ref", "acme/corp/.github/workflows/release.yml@refs/tags/v1.0.0")), none)
		}, Want: Want{OK: true}},
		{Name: "another project's repository name, wrong everything else, reveals nothing", Token: goodWith(set("repository", "hidden-org/secret-thing", "repository_owner", "hidden-org"), none),
			// The caller named hidden-org/secret-thing itself; the publisher's
			// workflow, environment and owner id must still not show.
			Want: Want{Code: oidc.CodeInvalidPublisher, NotContains: []string{"deploy-secret", "vault", "7770777077"}}},
	}
}
