package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

func newTestService(t *testing.T, mut func(*Config)) (*Service, *memTokens, *clock) {
	t.Helper()
	mem, clk := newMem(), newClock()
	cfg := Config{Tokens: mem, Now: clk.Now}
	if mut != nil {
		mut(&cfg)
	}
	return New(cfg), mem, clk
}

func mint(t *testing.T, s *Service, req MintRequest) (string, registry.Token) {
	t.Helper()
	if req.Scope.Actions == nil {
		req.Scope.Actions = []registry.Action{registry.Read}
	}
	secret, tok, err := s.Mint(t.Context(), req)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	return secret, tok
}

func TestMintFormatAndStorage(t *testing.T) {
	t.Parallel()
	// Deterministic randomness: the ID from 10 bytes, the secret from 32.
	seed := bytes.Repeat([]byte{0xAB}, idBytes+secretBytes)
	s, mem, clk := newTestService(t, func(c *Config) { c.Rand = bytes.NewReader(seed) })
	secret, tok, err := s.Mint(t.Context(), MintRequest{
		Scope:       registry.Scope{Actions: []registry.Action{registry.Upload}, Repos: []string{"main"}, Projects: []string{"Acme_Utils"}},
		Description: "ci",
		TTL:         15 * time.Minute,
		Origin:      "oidc:github",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "wharf_"+tok.ID+"_") || len(secret) != tokenLen {
		t.Errorf("secret %q does not have the form wharf_<id>_<secret> with id %q", secret, tok.ID)
	}
	if id, ok := parseToken(secret); !ok || id != tok.ID {
		t.Errorf("parseToken(%q) = %q, %v", secret, id, ok)
	}
	wantHash := sha256.Sum256([]byte(secret[len(secret)-secretLen:]))
	now := clk.Now()
	want := registry.Token{
		ID:          "vov2xk5lvov2xk5l",
		SecretHash:  wantHash[:],
		Description: "ci",
		Scope:       registry.Scope{Actions: []registry.Action{registry.Upload}, Repos: []string{"main"}, Projects: []string{"acme-utils"}},
		CreatedAt:   now,
		ExpiresAt:   now.Add(15 * time.Minute),
		Origin:      "oidc:github",
	}
	if diff := cmp.Diff(want, tok); diff != "" {
		t.Errorf("returned token (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, mem.m[tok.ID]); diff != "" {
		t.Errorf("stored token (-want +got):\n%s", diff)
	}
	if strings.Contains(fmt.Sprintf("%v", mem.m[tok.ID]), secret[len(tokenPrefix)+idLen+1:]) {
		t.Error("the stored record contains the secret")
	}
}

func TestMintNoExpiry(t *testing.T) {
	t.Parallel()
	s, _, _ := newTestService(t, nil)
	_, tok := mint(t, s, MintRequest{})
	if !tok.ExpiresAt.IsZero() {
		t.Errorf("ExpiresAt = %v, want zero for TTL 0", tok.ExpiresAt)
	}
}

func TestMintRetriesIDCollision(t *testing.T) {
	t.Parallel()
	s, mem, _ := newTestService(t, nil)
	mem.exists = 2
	if _, _, err := s.Mint(t.Context(), MintRequest{Scope: registry.Scope{Actions: []registry.Action{registry.Read}}}); err != nil {
		t.Fatalf("Mint after 2 collisions: %v", err)
	}
	mem.exists = 3
	_, _, err := s.Mint(t.Context(), MintRequest{Scope: registry.Scope{Actions: []registry.Action{registry.Read}}})
	if errs.KindOf(err) != errs.Internal || err == nil {
		t.Fatalf("Mint after 3 collisions: err = %v, want an internal error", err)
	}
}

func TestMintRandFailure(t *testing.T) {
	t.Parallel()
	s, _, _ := newTestService(t, func(c *Config) { c.Rand = io.LimitReader(bytes.NewReader(make([]byte, 100)), 5) })
	_, _, err := s.Mint(t.Context(), MintRequest{Scope: registry.Scope{Actions: []registry.Action{registry.Read}}})
	if err == nil || errs.KindOf(err) != errs.Internal {
		t.Fatalf("err = %v, want internal", err)
	}
}

func TestMintValidation(t *testing.T) {
	t.Parallel()
	acts := []registry.Action{registry.Read}
	for _, tt := range []struct {
		name string
		req  MintRequest
		want string // substring of the message
	}{
		{"no actions", MintRequest{Scope: registry.Scope{}}, "at least one action"},
		{"unknown action", MintRequest{Scope: registry.Scope{Actions: []registry.Action{"write"}}}, `unknown action "write"`},
		{"bad repo", MintRequest{Scope: registry.Scope{Actions: acts, Repos: []string{"Main"}}}, `invalid repository name "Main"`},
		{"reserved repo", MintRequest{Scope: registry.Scope{Actions: acts, Repos: []string{"api"}}}, `invalid repository name "api"`},
		{"underscore repo", MintRequest{Scope: registry.Scope{Actions: acts, Repos: []string{"_x"}}}, `invalid repository name "_x"`},
		{"empty project", MintRequest{Scope: registry.Scope{Actions: acts, Projects: []string{""}}}, `invalid project pattern ""`},
		{"bad project char", MintRequest{Scope: registry.Scope{Actions: acts, Projects: []string{"foo/bar"}}}, `invalid project pattern "foo/bar"`},
		{"project ends with separator", MintRequest{Scope: registry.Scope{Actions: acts, Projects: []string{"foo-"}}}, `invalid project pattern "foo-"`},
		{"glob with bad char", MintRequest{Scope: registry.Scope{Actions: acts, Projects: []string{"acme?*"}}}, `invalid project pattern "acme?*"`},
		{"negative ttl", MintRequest{Scope: registry.Scope{Actions: acts}, TTL: -time.Second}, "must not be negative"},
		{"long description", MintRequest{Scope: registry.Scope{Actions: acts}, Description: strings.Repeat("é", 201)}, "longer than 200"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, mem, _ := newTestService(t, nil)
			_, _, err := s.Mint(t.Context(), tt.req)
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("err = %v, want kind Invalid", err)
			}
			if msg := errs.Message(err); !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not contain %q", msg, tt.want)
			}
			if len(mem.m) != 0 {
				t.Errorf("a token was stored despite the error")
			}
		})
	}
}

func TestNormalizeScope(t *testing.T) {
	t.Parallel()
	got, err := NormalizeScope(registry.Scope{
		Actions:  []registry.Action{registry.Admin, registry.Read, registry.Upload, registry.Read},
		Repos:    []string{"zeta", "main", "zeta"},
		Projects: []string{"Acme_*", "acme-*", "Foo.Bar", "*"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := registry.Scope{
		Actions:  []registry.Action{registry.Read, registry.Upload, registry.Admin},
		Repos:    []string{"main", "zeta"},
		Projects: []string{"*", "acme-*", "foo-bar"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NormalizeScope (-want +got):\n%s", diff)
	}
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	s, mem, clk := newTestService(t, nil)
	good, goodTok := mint(t, s, MintRequest{Scope: registry.Scope{Actions: []registry.Action{registry.Upload}, Projects: []string{"acme-*"}}, TTL: time.Hour, Origin: "cli"})
	revoked, revTok := mint(t, s, MintRequest{})
	if err := mem.Revoke(t.Context(), revTok.ID, clk.Now()); err != nil {
		t.Fatal(err)
	}
	expired, _ := mint(t, s, MintRequest{TTL: time.Second})
	clk.Advance(time.Second) // exactly at expiry: expired
	wrongSecret := good[:len(good)-1] + flip(good[len(good)-1])
	unknown := "wharf_aaaaaaaaaaaaaaaa_" + good[len(good)-secretLen:]

	for _, tt := range []struct {
		name   string
		token  string
		want   Principal
		reason string // "" means success
	}{
		{"ok", good, Principal{TokenID: goodTok.ID, Scope: goodTok.Scope, ExpiresAt: goodTok.ExpiresAt, Origin: "cli"}, ""},
		{"empty", "", Principal{}, "malformed token"},
		{"no prefix", strings.TrimPrefix(good, "wharf_"), Principal{}, "malformed token"},
		{"pypi token", "pypi-AgEIcHlwaS5vcmc", Principal{}, "malformed token"},
		{"too long", good + "x", Principal{}, "malformed token"},
		{"bad id alphabet", "wharf_AAAAAAAAAAAAAAAA_" + good[len(good)-secretLen:], Principal{}, "malformed token"},
		{"bad secret alphabet", unknown[:len(unknown)-1] + "+", Principal{}, "malformed token"},
		{"bad secret alphabet, cached id", good[:len(good)-1] + "+", Principal{}, "secret mismatch"},
		{"bad separator", good[:len(tokenPrefix)+idLen] + "-" + good[len(tokenPrefix)+idLen+1:], Principal{}, "malformed token"},
		{"unknown id", unknown, Principal{}, "unknown token id"},
		{"wrong secret", wrongSecret, Principal{}, "secret mismatch"},
		{"revoked", revoked, Principal{}, "revoked"},
		{"expired", expired, Principal{}, "expired"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Authenticate(t.Context(), tt.token)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("principal (-want +got):\n%s", diff)
				}
				return
			}
			if !errs.Is(err, errs.Unauthenticated) {
				t.Fatalf("err = %v, want kind Unauthenticated", err)
			}
			if msg := errs.Message(err); msg != "invalid or expired token" {
				t.Errorf("client message = %q, want the fixed one", msg)
			}
			if r := Reason(err); r != tt.reason {
				t.Errorf("Reason = %q, want %q", r, tt.reason)
			}
			if diff := cmp.Diff(Principal{}, got); diff != "" {
				t.Errorf("a principal came back with the error:\n%s", diff)
			}
		})
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestAuthenticateStoreErrorKeepsKind(t *testing.T) {
	t.Parallel()
	s, mem, _ := newTestService(t, nil)
	good, _ := mint(t, s, MintRequest{})
	mem.getErr = errs.E(errs.Unavailable, "sqlstore", errors.New("database is locked"))
	_, err := s.Authenticate(t.Context(), good)
	if !errs.Is(err, errs.Unavailable) {
		t.Fatalf("err = %v, want kind Unavailable (a database outage is not a bad token)", err)
	}
	if Reason(err) != "" {
		t.Errorf("Reason = %q, want empty for a non-authentication failure", Reason(err))
	}
}

func TestAuthenticateCache(t *testing.T) {
	t.Parallel()
	s, mem, clk := newTestService(t, nil) // default TTL 5s
	good, tok := mint(t, s, MintRequest{})
	auth := func() error { _, err := s.Authenticate(t.Context(), good); return err }

	for range 3 {
		if err := auth(); err != nil {
			t.Fatal(err)
		}
	}
	if n := mem.getCount(); n != 1 {
		t.Fatalf("store Get called %d times for 3 authentications within the TTL, want 1", n)
	}
	// A wrong secret for a cached ID is still rejected, from the cache.
	if _, err := s.Authenticate(t.Context(), good[:len(good)-1]+flip(good[len(good)-1])); Reason(err) != "secret mismatch" {
		t.Fatalf("wrong secret on a cached ID: err = %v", err)
	}
	// Revoked directly in the store (another replica): still accepted until
	// the TTL passes, rejected after.
	if err := mem.Revoke(t.Context(), tok.ID, clk.Now()); err != nil {
		t.Fatal(err)
	}
	clk.Advance(DefaultCacheTTL - time.Millisecond)
	if err := auth(); err != nil {
		t.Fatalf("within the TTL the cached token should still work: %v", err)
	}
	clk.Advance(time.Millisecond)
	if err := auth(); Reason(err) != "revoked" {
		t.Fatalf("after the TTL: err = %v, want revoked", err)
	}
	if n := mem.getCount(); n != 2 {
		t.Errorf("store Get called %d times, want 2", n)
	}
	// A clock that jumps backwards also forces a reload.
	clk.Advance(-time.Hour)
	_ = auth()
	if n := mem.getCount(); n != 3 {
		t.Errorf("store Get called %d times after the clock went back, want 3", n)
	}
}

func TestRevokeTakesEffectAtOnce(t *testing.T) {
	t.Parallel()
	s, mem, _ := newTestService(t, nil)
	good, tok := mint(t, s, MintRequest{})
	if _, err := s.Authenticate(t.Context(), good); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(t.Context(), tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(t.Context(), good); Reason(err) != "revoked" {
		t.Fatalf("after Revoke: err = %v, want revoked", err)
	}
	if mem.m[tok.ID].RevokedAt.IsZero() {
		t.Error("Revoke did not reach the store")
	}
	if err := s.Revoke(t.Context(), "nosuchtoken"); !errs.Is(err, errs.NotFound) {
		t.Errorf("Revoke of an unknown ID: err = %v, want NotFound", err)
	}
}

func TestCacheDisabled(t *testing.T) {
	t.Parallel()
	s, mem, _ := newTestService(t, func(c *Config) { c.CacheTTL = -1 })
	good, _ := mint(t, s, MintRequest{})
	for range 3 {
		if _, err := s.Authenticate(t.Context(), good); err != nil {
			t.Fatal(err)
		}
	}
	if n := mem.getCount(); n != 3 {
		t.Errorf("store Get called %d times with the cache off, want 3", n)
	}
	if n := s.cache.len(); n != 0 {
		t.Errorf("cache holds %d entries with the cache off", n)
	}
}

func TestCacheBounded(t *testing.T) {
	t.Parallel()
	s, mem, _ := newTestService(t, func(c *Config) { c.CacheSize = 8 })
	var tokens []string
	for range 50 {
		sec, _ := mint(t, s, MintRequest{})
		tokens = append(tokens, sec)
	}
	for _, sec := range tokens {
		if _, err := s.Authenticate(t.Context(), sec); err != nil {
			t.Fatal(err)
		}
		if n := s.cache.len(); n > 8 {
			t.Fatalf("cache grew to %d entries, bound is 8", n)
		}
	}
	// The most recent token is cached.
	before := mem.getCount()
	if _, err := s.Authenticate(t.Context(), tokens[len(tokens)-1]); err != nil {
		t.Fatal(err)
	}
	if mem.getCount() != before {
		t.Error("the most recently loaded token was not cached")
	}
}

func TestAuthenticateCancelledWhileLoading(t *testing.T) {
	t.Parallel()
	s, mem, _ := newTestService(t, nil)
	good, _ := mint(t, s, MintRequest{})
	mem.block = make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Authenticate(ctx, good); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	// The detached lookup finishes for the next caller.
	close(mem.block)
	if _, err := s.Authenticate(t.Context(), good); err != nil {
		t.Fatalf("next caller: %v", err)
	}
}

func TestLastUsedTouch(t *testing.T) {
	t.Parallel()
	s, mem, clk := newTestService(t, nil)
	mem.touched = make(chan string, 10)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()

	good, tok := mint(t, s, MintRequest{})
	auth := func() {
		t.Helper()
		if _, err := s.Authenticate(t.Context(), good); err != nil {
			t.Fatal(err)
		}
	}
	auth()
	if id := <-mem.touched; id != tok.ID {
		t.Fatalf("touched %q, want %q", id, tok.ID)
	}
	// More uses within the minute, across cache reloads: no more touches.
	for range 5 {
		clk.Advance(10 * time.Second)
		auth()
	}
	clk.Advance(10*time.Second - time.Nanosecond)
	auth()
	select {
	case id := <-mem.touched:
		t.Fatalf("touched %q again within a minute", id)
	case <-time.After(50 * time.Millisecond):
	}
	clk.Advance(time.Nanosecond)
	auth()
	select {
	case <-mem.touched:
	case <-time.After(5 * time.Second):
		t.Fatal("no touch a minute after the first")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v", err)
	}
	mem.mu.Lock()
	last := mem.m[tok.ID].LastUsedAt
	mem.mu.Unlock()
	if !last.Equal(clk.Now()) {
		t.Errorf("LastUsedAt = %v, want %v", last, clk.Now())
	}
}

func TestTouchNeverBlocksWithoutRun(t *testing.T) {
	t.Parallel()
	s, _, clk := newTestService(t, nil)
	good, _ := mint(t, s, MintRequest{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range touchQueue * 2 {
			clk.Advance(time.Minute)
			if _, err := s.Authenticate(context.Background(), good); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Authenticate blocked on the touch queue")
	}
	if n := len(s.touches); n != touchQueue {
		t.Errorf("queue holds %d touches, want it full at %d", n, touchQueue)
	}
}

func TestStoredHashOfWrongLength(t *testing.T) {
	t.Parallel()
	s, mem, _ := newTestService(t, nil)
	good, tok := mint(t, s, MintRequest{})
	tok.SecretHash = tok.SecretHash[:16]
	mem.m[tok.ID] = tok
	if _, err := s.Authenticate(t.Context(), good); Reason(err) != "secret mismatch" {
		t.Fatalf("err = %v, want secret mismatch", err)
	}
}

var _ store.Tokens = (*memTokens)(nil)

func BenchmarkAuthenticateWarm(b *testing.B) {
	mem := newMem()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	s := New(Config{Tokens: mem, Now: func() time.Time { return now }, CacheTTL: time.Hour})
	secret, _, err := s.Mint(context.Background(), MintRequest{Scope: registry.Scope{Actions: []registry.Action{registry.Read}}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Authenticate(ctx, secret); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Authenticate(ctx, secret); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if mem.getCount() != 1 {
		b.Fatalf("store Get called %d times, want 1 (warm cache)", mem.getCount())
	}
}

func BenchmarkAuthenticateWarmParallel(b *testing.B) {
	mem := newMem()
	s := New(Config{Tokens: mem, CacheTTL: time.Hour})
	secret, _, err := s.Mint(context.Background(), MintRequest{Scope: registry.Scope{Actions: []registry.Action{registry.Read}}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Authenticate(context.Background(), secret); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
