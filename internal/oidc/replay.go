package oidc

import (
	"context"
	"sync"
	"time"
)

// ReplayStore records ID-token ids so each token is exchanged once.
//
// Claim must be atomic: of any number of concurrent calls with the same
// (issuer, jti), exactly one returns fresh == true. The record must be kept
// at least until `until` (the exchanger passes exp + leeway + a margin, after
// which the token is refused as expired anyway). A SQL implementation is an
// INSERT into a table with PRIMARY KEY (issuer, jti) and an expires_at column,
// treating a unique violation as fresh == false, with expired rows deleted by
// a sweep.
type ReplayStore interface {
	Claim(ctx context.Context, issuer, jti string, until time.Time) (fresh bool, err error)
}

// MemoryReplay is a ReplayStore for tests and single-process deployments.
// Entries are swept when their until has passed, at most once per minute.
type MemoryReplay struct {
	Now func() time.Time // nil: time.Now

	mu        sync.Mutex
	seen      map[replayKey]time.Time
	nextSweep time.Time
}

type replayKey struct{ issuer, jti string }

// NewMemoryReplay returns an empty in-memory replay store.
func NewMemoryReplay(now func() time.Time) *MemoryReplay {
	if now == nil {
		now = time.Now
	}
	return &MemoryReplay{Now: now, seen: map[replayKey]time.Time{}}
}

// Claim implements ReplayStore.
func (m *MemoryReplay) Claim(_ context.Context, issuer, jti string, until time.Time) (bool, error) {
	now := m.Now()
	k := replayKey{issuer, jti}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[replayKey]time.Time{}
	}
	if now.After(m.nextSweep) {
		for key, u := range m.seen {
			if now.After(u) {
				delete(m.seen, key)
			}
		}
		m.nextSweep = now.Add(time.Minute)
	}
	if u, ok := m.seen[k]; ok && !now.After(u) {
		return false, nil
	}
	m.seen[k] = until
	return true, nil
}

// Len returns the number of remembered ids (for tests).
func (m *MemoryReplay) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.seen)
}
