// Package maint holds what keeps several wharf replicas on one database
// coherent and tidy: Serials, which tells each replica's page cache about
// changes made elsewhere, and Runner, which runs background clean-up on one
// replica at a time under a lease.
package maint

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/wharf-dev/wharf/internal/store"
)

// DefaultPollInterval is how often Serials reads the change serials: the
// longest a replica serves a page that another replica made stale.
const DefaultPollInterval = 100 * time.Millisecond

// Serials mirrors the database's per-repository change serials in memory.
// Get is a lock-free map lookup, so the page cache's hot path never waits on
// the database; Run refreshes the copy with one small query per interval.
// When the database is unreachable the last copy stays (pages keep being
// served from cache).
type Serials struct {
	c        store.Cluster
	interval time.Duration
	log      *slog.Logger
	m        atomic.Pointer[map[int64]int64]
}

// NewSerials builds a Serials; interval 0 means DefaultPollInterval.
func NewSerials(c store.Cluster, interval time.Duration, log *slog.Logger) *Serials {
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Serials{c: c, interval: interval, log: log}
	s.m.Store(&map[int64]int64{})
	return s
}

// Get returns the repository's last seen serial (0 before any change).
func (s *Serials) Get(repoID int64) uint64 { return uint64((*s.m.Load())[repoID]) }

// Refresh reads the serials once.
func (s *Serials) Refresh(ctx context.Context) error {
	m, err := s.c.Serials(ctx)
	if err != nil {
		return err
	}
	s.m.Store(&m)
	return nil
}

// Run refreshes until ctx ends, logging failures once per outage.
func (s *Serials) Run(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, 5*s.interval+time.Second)
		err := s.Refresh(rctx)
		cancel()
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			s.log.Warn("cannot read repository change serials; cached pages may be stale until the database answers", "err", err)
			failing = true
		case err == nil && failing:
			s.log.Info("repository change serials readable again")
			failing = false
		}
	}
}
