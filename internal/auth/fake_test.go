package auth

import (
	"context"
	"sync"
	"time"

	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

// memTokens is an in-memory store.Tokens that counts lookups.
type memTokens struct {
	mu      sync.Mutex
	m       map[string]registry.Token
	gets    int
	getErr  error         // returned by Get when set
	exists  int           // Create answers ErrExists this many times first
	touched chan string   // receives the ID of every Touch, if set
	block   chan struct{} // Get waits on it when set
}

var _ store.Tokens = (*memTokens)(nil)

func newMem() *memTokens { return &memTokens{m: map[string]registry.Token{}} }

func (s *memTokens) Create(_ context.Context, t registry.Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.exists > 0 {
		s.exists--
		return store.ErrExists
	}
	if _, ok := s.m[t.ID]; ok {
		return store.ErrExists
	}
	s.m[t.ID] = t
	return nil
}

func (s *memTokens) Get(ctx context.Context, id string) (registry.Token, error) {
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return registry.Token{}, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	if s.getErr != nil {
		return registry.Token{}, s.getErr
	}
	t, ok := s.m[id]
	if !ok {
		return registry.Token{}, store.ErrNotFound
	}
	return t, nil
}

func (s *memTokens) List(context.Context) ([]registry.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []registry.Token
	for _, t := range s.m {
		out = append(out, t)
	}
	return out, nil
}

func (s *memTokens) Revoke(_ context.Context, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.m[id]
	if !ok {
		return store.ErrNotFound
	}
	t.RevokedAt = at
	s.m[id] = t
	return nil
}

func (s *memTokens) Touch(_ context.Context, id string, at time.Time) error {
	s.mu.Lock()
	t, ok := s.m[id]
	if ok {
		t.LastUsedAt = at
		s.m[id] = t
	}
	ch := s.touched
	s.mu.Unlock()
	if ch != nil {
		ch <- id
	}
	if !ok {
		return store.ErrNotFound
	}
	return nil
}

func (s *memTokens) DeleteExpired(_ context.Context, cutoff time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, t := range s.m {
		if !t.ExpiresAt.IsZero() && t.ExpiresAt.Before(cutoff) {
			delete(s.m, id)
			n++
		}
	}
	return n, nil
}

func (s *memTokens) getCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets
}

// clock is a settable fake time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
