package catalog

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

// DefaultFlushEvery is how often counted downloads are written: at most
// this much counting is lost when a replica crashes.
const DefaultFlushEvery = 5 * time.Second

type countKey struct {
	repo    int64
	project string
	version string // canonical
	day     int64  // days since the epoch, UTC
}

// Counter counts file downloads in memory and adds them to the store every
// few seconds, so a download never waits for a database write. Every
// replica adds its own counts, so the stored sums are right across
// replicas.
type Counter struct {
	store store.Downloads
	now   func() time.Time
	log   *slog.Logger
	total *prometheus.CounterVec

	mu sync.Mutex
	m  map[countKey]int64
}

// CounterConfig holds a Counter's dependencies; Metrics may be nil.
type CounterConfig struct {
	Store   store.Downloads
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics prometheus.Registerer
}

// NewCounter builds a Counter; run Run to flush it.
func NewCounter(cfg CounterConfig) *Counter {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Counter{store: cfg.Store, now: cfg.Now, log: cfg.Logger, m: map[countKey]int64{},
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wharf_downloads_total",
			Help: "Distribution files served (core metadata files and partial requests not counted), by repository.",
		}, []string{"repo"})}
	if cfg.Metrics != nil {
		cfg.Metrics.MustRegister(c.total)
	}
	return c
}

// Count records one download of filename from repo. Filenames that do not
// parse as a distribution are not counted.
func (c *Counter) Count(repo registry.Repository, filename string) {
	if c == nil {
		return
	}
	d, err := pypi.ParseFilename(filename)
	if err != nil {
		return
	}
	version := d.Version
	if v, err := pypi.ParseVersion(d.Version); err == nil {
		version = v.Canonical()
	}
	k := countKey{repo: repo.ID, project: pypi.Normalize(d.Name), version: version, day: c.now().Unix() / 86400}
	c.mu.Lock()
	c.m[k]++
	c.mu.Unlock()
	c.total.WithLabelValues(repo.Name).Inc()
}

// Flush adds the counts so far to the store. On failure they are kept for
// the next flush.
func (c *Counter) Flush(ctx context.Context) error {
	c.mu.Lock()
	m := c.m
	c.m = make(map[countKey]int64, len(m))
	c.mu.Unlock()
	if len(m) == 0 {
		return nil
	}
	counts := make([]store.DownloadCount, 0, len(m))
	for k, n := range m {
		counts = append(counts, store.DownloadCount{RepoID: k.repo, Project: k.project, Version: k.version,
			Day: time.Unix(k.day*86400, 0).UTC(), Count: n})
	}
	if err := c.store.Add(ctx, counts); err != nil {
		c.mu.Lock()
		for k, n := range m {
			c.m[k] += n
		}
		c.mu.Unlock()
		return err
	}
	return nil
}

// Run flushes every interval until ctx ends, then once more.
func (c *Counter) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = DefaultFlushEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := c.Flush(final); err != nil {
				c.log.Error("writing download counts at shutdown failed", "error", err)
			}
			cancel()
			return
		case <-t.C:
			if err := c.Flush(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("writing download counts failed; kept for the next try", "error", err)
			}
		}
	}
}

// Metric is the per-repository download counter (for tests and dashboards).
func (c *Counter) Metric() *prometheus.CounterVec { return c.total }
