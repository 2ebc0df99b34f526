package oidc_test

import (
	"context"
	"fmt"
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
	mu    sync.Mutex
	t     time.Time
	slept time.Duration
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// Sleep advances the clock instead of waiting, and remembers how long.
func (c *clock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.slept += d
	c.mu.Unlock()
	return nil
}

func (c *clock) Slept() time.Duration { c.mu.Lock(); defer c.mu.Unlock(); return c.slept }

func verifierFor(t *testing.T, w *oidctest.World, clk *clock, reg prometheus.Registerer) *oidc.Verifier {
	t.Helper()
	cfg := w.Config
	cfg.Now, cfg.Sleep = clk.Now, clk.Sleep
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
	v := verifierFor(t, w, clk, reg)
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
	// Right after the start-up fetch, the new kid waits for the end of the
	// refresh interval and is then fetched.
	rotated := tok()
	if _, err := v.Verify(ctx, rotated); err != nil {
		t.Fatalf("verify right after rotation: %v", err)
	}
	if s := clk.Slept(); s <= 0 || s > oidc.UnknownKIDRefreshInterval {
		t.Errorf("waited %s for the new key; want at most %s", s, oidc.UnknownKIDRefreshInterval)
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

// Issue 11 item 9: one token with an unknown kid just before the issuer
// rotates must not keep the new key out for long.
func TestUnknownKIDBeforeRotationDoesNotLockOutTheNewKey(t *testing.T) {
	t.Parallel()
	w := oidctest.NewWorld(t, nil)
	clk := &clock{t: w.Now()}
	v := verifierFor(t, w, clk, prometheus.NewRegistry())
	ctx := context.Background()
	_ = v.Warm(ctx)
	clk.Advance(5 * time.Minute)
	forged, err := w.GitHub.Sign(w.GitHub.Claims(w.Audience, w.Good), devissuer.SignOptions{KID: "not-published-yet"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, forged); oidc.AsRefusal(err) == nil || oidc.AsRefusal(err).Reason != oidc.ReasonUnknownKID {
		t.Fatalf("forged kid: %v; want unknown kid", err)
	}
	before := w.GitHub.Hits().JWKS
	if _, err := w.GitHub.RotateKey(); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	tok, err := w.GitHub.Sign(w.GitHub.Claims(w.Audience, w.Good), devissuer.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("a token signed with the new key a second after the forged one: %v", err)
	}
	if s := clk.Slept(); s > oidc.UnknownKIDRefreshInterval {
		t.Errorf("the new key was picked up after %s; want at most %s", s, oidc.UnknownKIDRefreshInterval)
	}
	if got := w.GitHub.Hits().JWKS - before; got != 1 {
		t.Errorf("%d JWKS fetches for the new key; want 1", got)
	}
}

// A flood of tokens with random kids still makes at most one fetch per
// UnknownKIDRefreshInterval.
func TestUnknownKIDFloodIsBounded(t *testing.T) {
	t.Parallel()
	w := oidctest.NewWorld(t, nil)
	clk := &clock{t: w.Now()}
	cfg := w.Config
	// Sleeping does not move this clock: the test moves it, 60 ms a token.
	cfg.Now, cfg.Sleep = clk.Now, func(context.Context, time.Duration) error { return nil }
	v, err := oidc.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_ = v.Warm(ctx)
	before := w.GitHub.Hits().JWKS
	claims := w.GitHub.Claims(w.Audience, w.Good)
	var wg sync.WaitGroup
	for i := range 1000 {
		tok, err := w.GitHub.Sign(claims, devissuer.SignOptions{KID: fmt.Sprintf("forged-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(60 * time.Millisecond)
		wg.Go(func() { _, _ = v.Verify(ctx, tok) })
	}
	wg.Wait()
	if got, limit := w.GitHub.Hits().JWKS-before, int64(time.Minute/oidc.UnknownKIDRefreshInterval)+1; got > limit {
		t.Errorf("1000 forged kids over a minute caused %d JWKS fetches; want at most %d", got, limit)
	}
}
