// Package hosted implements repositories whose packages are uploaded to
// wharf: the upload rules (names, versions, digests, archive checks,
// duplicates as PyPI treats them), yanking and deletion, and the index model
// the simple API renders.
package hosted

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wharf-dev/wharf/internal/blob"
	"github.com/wharf-dev/wharf/internal/store"
)

// Config holds the service's dependencies.
type Config struct {
	Store  store.Store
	Blobs  blob.Store
	Now    func() time.Time
	Logger *slog.Logger
	// MaxFileSize bounds one uploaded file; the HTTP layer enforces it while
	// streaming, the service checks it again.
	MaxFileSize int64
	// Shared, when set, returns a repository's change serial as stored in
	// a database other replicas also write (maint.Serials). Generation
	// adds it to the local counter, so pages cached here go stale when
	// another replica changes the repository. Nil on a single process.
	Shared func(repoID int64) uint64
}

// Service is the hosted-repository domain service.
type Service struct {
	store  store.Store
	blobs  blob.Store
	now    func() time.Time
	log    *slog.Logger
	maxLen int64
	shared func(repoID int64) uint64

	// generations counts changes per repository ID, so caches of rendered
	// pages know when they are stale without asking the database.
	mu          sync.Mutex
	generations map[int64]*atomic.Uint64

	recent recentFiles // downloads while the database is unreachable
}

// New builds a Service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{
		store:       cfg.Store,
		blobs:       cfg.Blobs,
		now:         cfg.Now,
		log:         cfg.Logger,
		maxLen:      cfg.MaxFileSize,
		shared:      cfg.Shared,
		generations: make(map[int64]*atomic.Uint64),
	}
}

func (s *Service) counter(repoID int64) *atomic.Uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.generations[repoID]
	if !ok {
		c = new(atomic.Uint64)
		s.generations[repoID] = c
	}
	return c
}

// Generation returns a number that changes whenever the repository's
// content changes in this process or, with Config.Shared, on another
// replica. Caches key rendered pages with it. Both parts only grow, so
// their sum changes whenever either does.
func (s *Service) Generation(repoID int64) uint64 {
	g := s.counter(repoID).Load()
	if s.shared != nil {
		g += s.shared(repoID)
	}
	return g
}

// Changed records a change to the repository (uploads, yanks, deletions and
// administrative changes made elsewhere call it).
func (s *Service) Changed(repoID int64) { s.counter(repoID).Add(1) }
