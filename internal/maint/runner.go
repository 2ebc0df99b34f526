package maint

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/wharf-dev/wharf/internal/blob"
	"github.com/wharf-dev/wharf/internal/store"
)

// LeaseName is the lease background work runs under.
const LeaseName = "maint"

// Defaults for Config.
const (
	DefaultInterval  = 10 * time.Minute
	DefaultBlobGrace = time.Hour
)

// Config configures a Runner.
type Config struct {
	Store store.Store
	Blobs blob.Store
	// Interval between runs; DefaultInterval when zero. The lease lasts
	// twice as long, so a replica that dies mid-run hands over after that.
	Interval time.Duration
	// SweepBlobs enables the orphan-blob sweep. Off unless asked for: a
	// blob is "orphaned" when no file row references it (Files.BlobInUse),
	// so every other user of the blob store (the remote-repository cache)
	// must be listed in InUse first.
	SweepBlobs bool
	// InUse are further checks that a blob is referenced (besides files).
	InUse []func(ctx context.Context, key string) (bool, error)
	// Referenced, when set, returns keys referenced outside files in one
	// read, taken after the blob listing; a listed blob in it is kept
	// without a per-key query (InUse still re-checks the candidates left).
	// It must cover every blob whose reference is written before the
	// blob itself (the remote cache's file rows).
	Referenced func(ctx context.Context) (map[string]struct{}, error)
	// BlobGrace: only blobs older than this may be swept, so an upload
	// whose blob is stored but whose row is not yet committed keeps it.
	BlobGrace time.Duration
	// Holder names this replica in the lease; host:pid:random when empty.
	Holder string
	Now    func() time.Time
	Logger *slog.Logger
}

// Runner runs clean-up on at most one replica at a time: expired API
// tokens, expired OIDC replay entries, and blobs no file references.
type Runner struct{ cfg Config }

// Report says what one run removed.
type Report struct {
	Ran           bool // false: another replica holds the lease
	Tokens        int
	ReplayEntries int
	Blobs         int
	// Temps counts reclaimed temporaries of crashed uploads (every
	// replica sweeps its own blob directory, lease or not).
	Temps int
}

// NewRunner builds a Runner.
func NewRunner(cfg Config) *Runner {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.BlobGrace <= 0 {
		cfg.BlobGrace = DefaultBlobGrace
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Holder == "" {
		host, _ := os.Hostname()
		var b [4]byte
		rand.Read(b[:])
		cfg.Holder = fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	return &Runner{cfg: cfg}
}

// Run runs Once every interval until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		rep, err := r.Once(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			r.cfg.Logger.Warn("background maintenance failed", "err", err)
		case rep.Tokens+rep.ReplayEntries+rep.Blobs+rep.Temps > 0:
			r.cfg.Logger.Info("background maintenance", "expired_tokens", rep.Tokens,
				"expired_replay_entries", rep.ReplayEntries, "orphan_blobs", rep.Blobs,
				"crashed_upload_temporaries", rep.Temps)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Once takes the lease and, if it got it, runs every task. The lease is
// kept (not released) until it expires, so replicas that start a run in
// the same interval find it taken and skip.
func (r *Runner) Once(ctx context.Context) (Report, error) {
	now := r.cfg.Now()
	var rep Report
	// Temporaries of crashed uploads: outside the lease, since each
	// process may have a blob directory of its own; the store's owner
	// locks keep every live process's temporaries.
	if ts, ok := r.cfg.Blobs.(blob.TempSweeper); ok {
		n, err := ts.SweepTemps(ctx)
		rep.Temps = n
		if err != nil {
			return rep, fmt.Errorf("temporaries of crashed uploads: %w", err)
		}
	}
	got, err := r.cfg.Store.Cluster().AcquireLease(ctx, LeaseName, r.cfg.Holder, now, now.Add(r.cfg.Interval*2))
	if err != nil || !got {
		return rep, err
	}
	rep.Ran = true
	if rep.Tokens, err = r.cfg.Store.Tokens().DeleteExpired(ctx, now); err != nil {
		return rep, fmt.Errorf("expired tokens: %w", err)
	}
	if rep.ReplayEntries, err = r.cfg.Store.Replay().DeleteExpired(ctx, now); err != nil {
		return rep, fmt.Errorf("expired OIDC replay entries: %w", err)
	}
	if r.cfg.SweepBlobs {
		if rep.Blobs, err = r.sweep(ctx, now.Add(-r.cfg.BlobGrace)); err != nil {
			return rep, fmt.Errorf("orphan blob sweep: %w", err)
		}
	}
	return rep, nil
}

// sweep deletes blobs older than cutoff that no file references. Each
// candidate is checked again just before deletion (still unreferenced,
// still old: a re-upload of the same bytes refreshes S3's LastModified),
// which leaves only a narrow window in which a concurrent upload of
// exactly these bytes could lose its blob.
func (r *Runner) sweep(ctx context.Context, cutoff time.Time) (int, error) {
	var old []string
	for info, err := range r.cfg.Blobs.List(ctx) {
		if err != nil {
			return 0, err
		}
		if info.ModTime.Before(cutoff) {
			old = append(old, info.Key)
		}
	}
	if r.cfg.Referenced != nil && len(old) > 0 {
		refs, err := r.cfg.Referenced(ctx)
		if err != nil {
			return 0, err
		}
		kept := old[:0]
		for _, key := range old {
			if _, ok := refs[key]; !ok {
				kept = append(kept, key)
			}
		}
		old = kept
	}
	n := 0
	for _, key := range old {
		used, err := r.inUse(ctx, key)
		if err != nil {
			return n, err
		}
		if used {
			continue
		}
		info, err := r.cfg.Blobs.Stat(ctx, key)
		if err != nil || !info.ModTime.Before(cutoff) {
			continue
		}
		if used, err := r.inUse(ctx, key); err != nil || used {
			continue
		}
		if err := r.cfg.Blobs.Delete(ctx, key); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func (r *Runner) inUse(ctx context.Context, key string) (bool, error) {
	used, err := r.cfg.Store.Files().BlobInUse(ctx, key)
	if err != nil || used {
		return used, err
	}
	for _, f := range r.cfg.InUse {
		if used, err := f(ctx, key); err != nil || used {
			return used, err
		}
	}
	return false, nil
}
