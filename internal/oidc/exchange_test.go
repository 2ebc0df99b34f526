package oidc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wharf-dev/wharf/internal/devissuer"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/oidc"
	"github.com/wharf-dev/wharf/internal/oidc/oidctest"
)

// memMinter mints counter-based tokens and remembers what it was asked.
type memMinter struct {
	n     atomic.Int64
	now   func() time.Time
	mu    sync.Mutex
	calls []oidc.ScopeMint
}

func (m *memMinter) Mint(_ context.Context, req oidc.ScopeMint) (string, string, time.Time, error) {
	id := fmt.Sprintf("tok%d", m.n.Add(1))
	m.mu.Lock()
	m.calls = append(m.calls, req)
	m.mu.Unlock()
	return "wharf-" + id + "-secret", id, m.now().Add(req.TTL), nil
}

func (m *memMinter) last() *oidc.ScopeMint {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.calls) == 0 {
		return nil
	}
	return &m.calls[len(m.calls)-1]
}

type worldProjects struct{ w *oidctest.World }

func (p worldProjects) ProjectExists(_ context.Context, repo, project string) (bool, error) {
	return p.w.Exists(repo, project), nil
}

type memAuditor struct {
	mu sync.Mutex
	es []oidc.Exchange
}

func (a *memAuditor) Record(_ context.Context, e oidc.Exchange) {
	a.mu.Lock()
	a.es = append(a.es, e)
	a.mu.Unlock()
}

type endpoint struct{ x *oidc.Exchanger }

func (e endpoint) Exchange(ctx context.Context, raw string) (bool, string, string) {
	_, err := e.x.MintToken(ctx, raw)
	if err == nil {
		return true, "", ""
	}
	if r := oidc.AsRefusal(err); r != nil {
		return false, r.Code, r.Description
	}
	return false, "error", err.Error()
}

func newExchanger(t testing.TB, w *oidctest.World) (*oidc.Exchanger, *memMinter, *memAuditor) {
	t.Helper()
	m := &memMinter{now: w.Now}
	a := &memAuditor{}
	x, err := oidc.New(w.Config, oidc.Deps{
		Publishers: oidc.MemoryPublishers(w.Publishers),
		Replay:     oidc.NewMemoryReplay(w.Now),
		Minter:     m,
		Auditor:    a,
		Projects:   worldProjects{w},
	})
	if err != nil {
		t.Fatal(err)
	}
	return x, m, a
}

func TestAttackSuite(t *testing.T) {
	t.Parallel()
	oidctest.Run(t, func(t *testing.T, w *oidctest.World) oidctest.Endpoint {
		x, _, _ := newExchanger(t, w)
		return endpoint{x}
	})
}

func TestExchangeAuditMetricsAndGrants(t *testing.T) {
	t.Parallel()
	w := oidctest.NewWorld(t, nil)
	reg := prometheus.NewRegistry()
	w.Config.Metrics = reg
	x, m, a := newExchanger(t, w)
	ctx := context.Background()
	if got := x.Audience(); got != w.Audience {
		t.Errorf("Audience = %q, want %q", got, w.Audience)
	}

	tok, err := w.GitHub.Token(w.Audience, w.Good)
	if err != nil {
		t.Fatal(err)
	}
	res, err := x.MintToken(ctx, tok)
	if err != nil {
		t.Fatalf("MintToken: %v", err)
	}
	// Publisher 2 is a stale pending publisher of the same project: one grant.
	if diff := cmp.Diff([]oidc.Grant{{Repo: "main", Project: "widgets", PublisherID: 1}}, res.Grants); diff != "" {
		t.Errorf("grants (-want +got):\n%s", diff)
	}
	if want := w.Now().Add(oidc.DefaultTokenTTL); !res.Expires.Equal(want) || res.Token == "" {
		t.Errorf("result %+v, want a token expiring at %v", res, want)
	}

	gadgets := w.Good
	gadgets.Repository, gadgets.WorkflowRef = "acme/gadgets", "acme/gadgets/.github/workflows/release.yml@refs/tags/v1.0.0"
	tok2, _ := w.GitHub.Token(w.Audience, gadgets)
	res2, err := x.MintToken(ctx, tok2)
	if err != nil {
		t.Fatalf("MintToken pending: %v", err)
	}
	if diff := cmp.Diff([]oidc.Grant{{Repo: "main", Project: "gadgets", Create: true, PublisherID: 3}}, res2.Grants); diff != "" {
		t.Errorf("pending grants (-want +got):\n%s", diff)
	}

	_, err = x.MintToken(ctx, tok) // replay
	r := oidc.AsRefusal(err)
	if r == nil || r.Code != oidc.CodeInvalidReuseToken || !errs.Is(err, errs.Unauthenticated) {
		t.Fatalf("replay: %v", err)
	}
	var body struct {
		Message string `json:"message"`
		Errors  []struct{ Code, Description string }
	}
	if err := json.Unmarshal(r.Body(), &body); err != nil || body.Message != "Token request failed" || len(body.Errors) != 1 || body.Errors[0].Code != oidc.CodeInvalidReuseToken {
		t.Errorf("Body() = %s (%v)", r.Body(), err)
	}
	_, err = x.MintToken(ctx, "garbage")
	if r := oidc.AsRefusal(err); r == nil || r.Code != oidc.CodeInvalidPayload {
		t.Fatalf("garbage: %v", err)
	}

	if len(m.calls) != 2 {
		t.Errorf("minter called %d times, want 2", len(m.calls))
	}
	var outcomes []string
	for _, e := range a.es {
		outcomes = append(outcomes, e.IssuerName+"/"+e.Outcome+"/"+e.Code)
	}
	if diff := cmp.Diff([]string{"github/ok/", "github/ok/", "github/refused/invalid-reuse-token", "unknown/refused/invalid-payload"}, outcomes); diff != "" {
		t.Errorf("audit outcomes (-want +got):\n%s", diff)
	}
	first := a.es[0]
	if first.TokenID != "tok1" || first.Claims["repository"] != "acme/widgets" || first.Claims["workflow_ref"] != w.Good.WorkflowRef || first.Claims["run_id"] != "4242" {
		t.Errorf("audit record %+v lacks token id or identifying claims", first)
	}
	if a.es[3].Claims != nil {
		t.Errorf("claims of an unverifiable token were audited: %v", a.es[3].Claims)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"wharf_oidc_exchanges_total", []string{"github", "ok"}, 2},
		{"wharf_oidc_exchanges_total", []string{"github", "refused"}, 1},
		{"wharf_oidc_exchanges_total", []string{"unknown", "refused"}, 1},
		{"wharf_oidc_refusals_total", []string{oidc.ReasonReplay}, 1},
		{"wharf_oidc_refusals_total", []string{oidc.ReasonMalformed}, 1},
	} {
		if got := counter(t, reg, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

// BenchmarkMintToken measures full exchanges with keys cached and an
// in-memory minter and replay store, on all cores. Tokens are signed before
// the timer starts (RSA signing costs far more than verifying) and reused
// across rounds, each round with a fresh exchanger and replay store.
func BenchmarkMintToken(b *testing.B) {
	w := oidctest.NewWorld(b, nil)
	for _, alg := range []string{"RS256", "ES256"} {
		var pool []string
		b.Run(alg, func(b *testing.B) {
			if len(pool) < b.N {
				pool = append(pool, benchTokens(b, w, alg, b.N-len(pool))...)
			}
			x, _, _ := newExchanger(b, w)
			if err := x.Verifier().Warm(context.Background()); err == nil {
				b.Fatal("Warm: want errors from the broken issuers of the world")
			}
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := x.MintToken(context.Background(), pool[next.Add(1)-1]); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "exchanges/s")
		})
	}
}

func benchToken(b *testing.B, w *oidctest.World, alg string) string {
	tok, err := w.GitHub.Sign(w.Claims(w.GitHub, nil), devissuer.SignOptions{Alg: alg})
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

func benchTokens(b *testing.B, w *oidctest.World, alg string, n int) []string {
	out := make([]string, n)
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() {
			for i := g; i < n; i += 2 {
				out[i] = benchToken(b, w, alg)
			}
		})
	}
	wg.Wait()
	return out
}
