// Package auth mints and verifies wharf's API tokens and decides what an
// authenticated principal may do. Tokens are opaque random strings; only a
// sha256 of each is stored (see token.go). Authentication results are
// cached in memory for a few seconds so the download path does not hit the
// database on every request.
//
// auth parses header strings and never imports net/http server types.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/singleflight"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

// Defaults for Config's zero values.
const (
	DefaultCacheTTL  = 5 * time.Second
	DefaultCacheSize = 10_000
	// touchEvery bounds LastUsedAt writes to one per token per minute.
	touchEvery = time.Minute
	// touchQueue is how many LastUsedAt updates may wait for Run; more are
	// dropped (the next use a minute later tries again).
	touchQueue = 256
	// loadTimeout bounds a shared token lookup, which runs detached from
	// any one caller's context (see load).
	loadTimeout         = 10 * time.Second
	maxDescriptionRunes = 200
)

// Config configures a Service.
type Config struct {
	Tokens store.Tokens
	Now    func() time.Time // default time.Now
	Rand   io.Reader        // default crypto/rand.Reader
	// CacheTTL is how long a looked-up token is trusted without asking the
	// store again. A token revoked on another replica (or directly in the
	// database) keeps working for at most this long; Revoke on this Service
	// takes effect here at once. 0 means DefaultCacheTTL; negative disables
	// the cache.
	CacheTTL time.Duration
	// CacheSize bounds the number of cached tokens; 0 means DefaultCacheSize.
	CacheSize int
	Logger    *slog.Logger // default: discard
}

// Service mints and authenticates tokens.
type Service struct {
	tokens  store.Tokens
	now     func() time.Time
	rand    io.Reader
	ttl     time.Duration
	log     *slog.Logger
	cache   cache
	loads   singleflight.Group
	touches chan touch
}

type touch struct {
	id string
	at time.Time
}

// New builds a Service. Call Run in a goroutine so LastUsedAt gets written.
func New(cfg Config) *Service {
	s := &Service{
		tokens:  cfg.Tokens,
		now:     cfg.Now,
		rand:    cfg.Rand,
		ttl:     cfg.CacheTTL,
		log:     cfg.Logger,
		touches: make(chan touch, touchQueue),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.ttl == 0 {
		s.ttl = DefaultCacheTTL
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.cache.max = cfg.CacheSize
	if s.cache.max <= 0 {
		s.cache.max = DefaultCacheSize
	}
	return s
}

// MintRequest describes a token to create.
type MintRequest struct {
	Scope       registry.Scope
	Description string
	TTL         time.Duration // 0: no expiry
	Origin      string        // "admin", "cli", "oidc:<issuer>"
}

// Mint creates a token and returns its secret string, which is shown once
// and never stored, and the stored record. The scope is validated and
// normalised (actions deduplicated in registry.Actions order, repositories
// sorted, project patterns PEP 503 normalised).
func (s *Service) Mint(ctx context.Context, req MintRequest) (string, registry.Token, error) {
	const op = "auth.Mint"
	scope, err := NormalizeScope(req.Scope)
	if err != nil {
		return "", registry.Token{}, errs.E(errs.Invalid, op, err)
	}
	if req.TTL < 0 {
		return "", registry.Token{}, errs.Errorf(errs.Invalid, op, "token lifetime must not be negative (0 means no expiry)")
	}
	if utf8.RuneCountInString(req.Description) > maxDescriptionRunes {
		return "", registry.Token{}, errs.Errorf(errs.Invalid, op, "token description is longer than %d characters", maxDescriptionRunes)
	}
	now := s.now().UTC()
	tok := registry.Token{
		Description: req.Description,
		Scope:       scope,
		CreatedAt:   now,
		Origin:      req.Origin,
	}
	if req.TTL > 0 {
		tok.ExpiresAt = now.Add(req.TTL)
	}
	// An ID collision needs 2^40 tokens for even odds; retry a few times
	// anyway rather than fail a mint on bad luck.
	for range 3 {
		var raw [idBytes + secretBytes]byte
		if _, err := io.ReadFull(s.rand, raw[:]); err != nil {
			return "", registry.Token{}, errs.E(errs.Internal, op, fmt.Errorf("reading randomness: %w", err))
		}
		id, secret := formatToken(raw[:idBytes], raw[idBytes:])
		sum := hashToken(secret)
		tok.ID, tok.SecretHash = id, sum[:]
		err := s.tokens.Create(ctx, tok)
		if errors.Is(err, store.ErrExists) {
			continue
		}
		if err != nil {
			return "", registry.Token{}, errs.E(errs.Internal, op, err)
		}
		return secret, tok, nil
	}
	return "", registry.Token{}, errs.Errorf(errs.Internal, op, "could not find an unused token ID")
}

// NormalizeScope validates a scope and returns its canonical form. Its error
// message says what to fix.
func NormalizeScope(sc registry.Scope) (registry.Scope, error) {
	var out registry.Scope
	if len(sc.Actions) == 0 {
		return out, fmt.Errorf("a token needs at least one action (one of %s)", actionList())
	}
	for _, a := range sc.Actions {
		if !slices.Contains(registry.Actions, a) {
			return out, fmt.Errorf("unknown action %q (want one of %s)", a, actionList())
		}
	}
	for _, a := range registry.Actions {
		if slices.Contains(sc.Actions, a) {
			out.Actions = append(out.Actions, a)
		}
	}
	for _, r := range sc.Repos {
		if !registry.ValidRepoName(r) {
			return out, fmt.Errorf("invalid repository name %q: use lower-case letters, digits, '.', '_' and '-', not a reserved word", r)
		}
		out.Repos = append(out.Repos, r)
	}
	slices.Sort(out.Repos)
	out.Repos = slices.Compact(out.Repos)
	for _, p := range sc.Projects {
		n := normalize(p)
		if !validPattern(n) {
			return out, fmt.Errorf("invalid project pattern %q: use a project name or a glob such as \"acme-*\"", p)
		}
		out.Projects = append(out.Projects, n)
	}
	slices.Sort(out.Projects)
	out.Projects = slices.Compact(out.Projects)
	for _, b := range sc.Bindings {
		n := normalize(b.Project)
		if !registry.ValidRepoName(b.Repo) || !validPattern(n) || strings.Contains(n, "*") {
			return out, fmt.Errorf("invalid binding %s/%s: name one repository and one project", b.Repo, b.Project)
		}
		out.Bindings = append(out.Bindings, registry.Binding{Repo: b.Repo, Project: n})
	}
	return out, nil
}

func actionList() string {
	s := ""
	for i, a := range registry.Actions {
		if i > 0 {
			s += ", "
		}
		s += string(a)
	}
	return s
}

// Authenticate verifies a token string and returns its principal. Bad,
// unknown, revoked and expired tokens all give an Unauthenticated error with
// the same client message; Reason(err) tells them apart for the log. A store
// failure keeps its own kind (e.g. Unavailable), so a database outage is not
// reported as a bad token.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	const op = "auth.Authenticate"
	id, ok := parseToken(token)
	if !ok {
		return Principal{}, failure(op, "malformed token")
	}
	sum := hashToken(token)
	now := s.now()
	e := s.cache.get(id)
	if e == nil || s.ttl < 0 || now.Sub(e.loaded) >= s.ttl || now.Before(e.loaded) {
		if !wellFormed(token) {
			return Principal{}, failure(op, "malformed token")
		}
		var err error
		if e, err = s.load(ctx, id, e); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return Principal{}, failure(op, "unknown token id")
			}
			return Principal{}, errs.E(errs.Internal, op, err)
		}
	}
	if subtle.ConstantTimeCompare(sum[:], e.hash[:]) != 1 {
		return Principal{}, failure(op, "secret mismatch")
	}
	if e.revoked {
		return Principal{}, failure(op, "revoked")
	}
	if !e.principal.ExpiresAt.IsZero() && !now.Before(e.principal.ExpiresAt) {
		return Principal{}, failure(op, "expired")
	}
	s.maybeTouch(e, now)
	return e.principal, nil
}

// load fetches a token from the store and caches it. Concurrent misses for
// one ID share a single query. The query runs detached from the caller's
// cancellation, so one client hanging up cannot fail the others waiting on
// the same lookup; each caller still stops waiting when its own ctx ends.
func (s *Service) load(ctx context.Context, id string, old *entry) (*entry, error) {
	ch := s.loads.DoChan(id, func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
		defer cancel()
		tok, err := s.tokens.Get(lctx, id)
		if err != nil {
			return nil, err
		}
		e := newEntry(tok, s.now())
		if old != nil && old.lastTouch.Load() > e.lastTouch.Load() {
			e.lastTouch.Store(old.lastTouch.Load())
		}
		if s.ttl >= 0 {
			s.cache.put(id, e, s.now(), s.ttl)
		}
		return e, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*entry), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// maybeTouch queues a LastUsedAt update if the token's last one is a minute
// old. It never blocks: with the queue full the update is dropped.
func (s *Service) maybeTouch(e *entry, now time.Time) {
	last := e.lastTouch.Load()
	n := now.UnixNano()
	if n-last < int64(touchEvery) || !e.lastTouch.CompareAndSwap(last, n) {
		return
	}
	select {
	case s.touches <- touch{id: e.principal.TokenID, at: now}:
	default:
	}
}

// Run writes queued LastUsedAt updates until ctx is done. The server runs it
// in its own goroutine for the Service's lifetime.
func (s *Service) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case t := <-s.touches:
			if err := s.tokens.Touch(ctx, t.id, t.at); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "recording token use", "token_id", t.id, "err", err)
			}
		}
	}
}

// Revoke revokes a token in the store and forgets it here at once. Other
// replicas notice within their CacheTTL.
func (s *Service) Revoke(ctx context.Context, id string) error {
	if err := s.tokens.Revoke(ctx, id, s.now().UTC()); err != nil {
		return errs.E(errs.Internal, "auth.Revoke", err)
	}
	s.cache.remove(id)
	return nil
}

// entry is a cached token. It is immutable once published except for
// lastTouch.
type entry struct {
	hash      [32]byte
	principal Principal
	revoked   bool
	loaded    time.Time
	lastTouch atomic.Int64 // unix nanoseconds of the last LastUsedAt write
}

func newEntry(tok registry.Token, now time.Time) *entry {
	e := &entry{
		principal: Principal{TokenID: tok.ID, Scope: tok.Scope, ExpiresAt: tok.ExpiresAt, Origin: tok.Origin},
		revoked:   !tok.RevokedAt.IsZero(),
		loaded:    now,
	}
	// A stored hash of the wrong length leaves e.hash unmatchable (zero
	// is not the sha256 of any token we would accept).
	if len(tok.SecretHash) == len(e.hash) {
		copy(e.hash[:], tok.SecretHash)
	}
	if !tok.LastUsedAt.IsZero() {
		e.lastTouch.Store(tok.LastUsedAt.UnixNano())
	}
	return e
}

// cache is a bounded map of token ID to entry. Reads are lock-free
// (sync.Map suits this read-mostly load: under an RWMutex two cores already
// fight over the reader count). When full, put first drops stale entries,
// then arbitrary ones, down to 7/8 of the bound so the sweep cost is
// amortised. Only IDs that exist in the store get cached, so outsiders
// cannot flood it with guesses.
type cache struct {
	m   sync.Map // string -> *entry
	mu  sync.Mutex
	n   int // entries, guarded by mu
	max int
}

func (c *cache) get(id string) *entry {
	v, ok := c.m.Load(id)
	if !ok {
		return nil
	}
	return v.(*entry)
}

func (c *cache) put(id string, e *entry, now time.Time, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, loaded := c.m.Swap(id, e); loaded {
		return
	}
	c.n++
	if c.n <= c.max {
		return
	}
	c.m.Range(func(k, v any) bool {
		if old := v.(*entry); k != id && (now.Sub(old.loaded) >= ttl || now.Before(old.loaded)) {
			c.m.Delete(k)
			c.n--
		}
		return true
	})
	c.m.Range(func(k, _ any) bool {
		if c.n < c.max-c.max/8 || c.n <= 1 {
			return false
		}
		if k != id {
			c.m.Delete(k)
			c.n--
		}
		return true
	})
}

func (c *cache) remove(id string) {
	c.mu.Lock()
	if _, loaded := c.m.LoadAndDelete(id); loaded {
		c.n--
	}
	c.mu.Unlock()
}

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
