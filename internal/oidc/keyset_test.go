package oidc_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wharf-dev/wharf/internal/devissuer"
	"github.com/wharf-dev/wharf/internal/oidc"
	"github.com/wharf-dev/wharf/internal/oidc/oidctest"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func verifierFor(t *testing.T, w *oidctest.World, now func() time.Time, reg prometheus.Registerer) *oidc.Verifier {
	t.Helper()
	cfg := w.Config
	cfg.Now = now
	cfg.Metrics = reg
	v, err := oidc.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestKeySetRotationAndStaleKeys(t *testing.T) {
	t.Parallel()
	w := oidctest.NewWorld(t, nil)
	clk := &clock{t: w.Now()}
	reg := prometheus.NewRegistry()
	v := verifierFor(t, w, clk.Now, reg)
	ctx := context.Background()
	if err := v.Warm(ctx); err == nil {
		t.Fatal("Warm: want an error for the mismatching and oversized issuers")
	}
	tok := func() string {
		tk, err := w.GitHub.Sign(w.GitHub.Claims(w.Audience, w.Good), devissuer.SignOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	if _, err := v.Verify(ctx, tok()); err != nil {
		t.Fatalf("verify before rotation: %v", err)
	}
	if _, err := w.GitHub.RotateKey(); err != nil {
		t.Fatal(err)
	}
	// Within a minute of the last fetch the new kid is not fetched.
	rotated := tok()
	if _, err := v.Verify(ctx, rotated); oidc.AsRefusal(err) == nil || oidc.AsRefusal(err).Reason != oidc.ReasonUnknownKID {
		t.Fatalf("verify right after rotation: %v, want unknown kid", err)
	}
	clk.Advance(61 * time.Second)
	if _, err := v.Verify(ctx, rotated); err != nil {
		t.Fatalf("verify a minute after rotation: %v", err)
	}
	// The issuer's JWKS breaks: the cached keys keep working.
	w.GitHub.SetJWKSStatus(http.StatusInternalServerError)
	if err := v.KeySet(w.GitHub.URL()).Refresh(ctx); err == nil {
		t.Fatal("Refresh with a failing JWKS: want an error")
	}
	if _, err := v.Verify(ctx, rotated); err != nil {
		t.Fatalf("verify after a failed refresh: %v", err)
	}
	for _, c := range []struct {
		result string
		want   float64
	}{{"ok", 2}, {"error", 1}} {
		if got := (counter(t, reg, "wharf_oidc_jwks_fetches_total", "github", c.result)); got != c.want {
			t.Errorf("jwks fetches{github,%s} = %v, want %v", c.result, got, c.want)
		}
	}
	if got := (counter(t, reg, "wharf_oidc_jwks_fetches_total", "mismatch", "issuer_mismatch")); got != 1 {
		t.Errorf("jwks fetches{mismatch,issuer_mismatch} = %v, want 1", got)
	}
	if got := (counter(t, reg, "wharf_oidc_jwks_fetches_total", "oversized", "too_large")); got != 1 {
		t.Errorf("jwks fetches{oversized,too_large} = %v, want 1", got)
	}
}

// counter returns one series of a counter vector in reg (0 when absent).
func counter(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for i, l := range m.GetLabel() {
				if l.GetValue() != labels[i] {
					continue metric
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	ok := oidc.IssuerConfig{Name: "gh", URL: "https://token.actions.githubusercontent.com", Kind: "github"}
	for _, tc := range []struct {
		name string
		cfg  oidc.Config
		ok   bool
	}{
		{"valid", oidc.Config{Audience: "wharf:x", Issuers: []oidc.IssuerConfig{ok}}, true},
		{"loopback http", oidc.Config{Audience: "wharf:x", Issuers: []oidc.IssuerConfig{{Name: "dev", URL: "http://127.0.0.1:8788"}}}, true},
		{"no audience", oidc.Config{Issuers: []oidc.IssuerConfig{ok}}, false},
		{"leeway too big", oidc.Config{Audience: "a", Leeway: 2 * time.Minute}, false},
		{"plain http", oidc.Config{Audience: "a", Issuers: []oidc.IssuerConfig{{Name: "x", URL: "http://example.com"}}}, false},
		{"query in issuer", oidc.Config{Audience: "a", Issuers: []oidc.IssuerConfig{{Name: "x", URL: "https://example.com?a=b"}}}, false},
		{"duplicate name", oidc.Config{Audience: "a", Issuers: []oidc.IssuerConfig{ok, {Name: "gh", URL: "https://gitlab.com"}}}, false},
		{"unknown kind", oidc.Config{Audience: "a", Issuers: []oidc.IssuerConfig{{Name: "x", URL: "https://x.example", Kind: "jenkins"}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := oidc.NewVerifier(tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("NewVerifier: err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
