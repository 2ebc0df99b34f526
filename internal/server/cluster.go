package server

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/wharf-dev/wharf/internal/blob"
	"github.com/wharf-dev/wharf/internal/blob/s3blob"
	"github.com/wharf-dev/wharf/internal/config"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/maint"
	"github.com/wharf-dev/wharf/internal/store"
)

// clusterState is what lets several replicas share one database: the
// change serials page caches follow (PostgreSQL only: one SQLite process
// sees all its own changes) and the background maintenance runner.
type clusterState struct {
	serials *maint.Serials // nil on SQLite
	runner  *maint.Runner
}

func newCluster(cfg *config.Config, st store.Store, bs blob.Store, log *slog.Logger) *clusterState {
	mc := maint.Config{Store: st, Blobs: bs, Logger: log}
	// The orphan-blob sweep runs once the remote cache's blobs count as
	// in use; blobs younger than maint.DefaultBlobGrace are never swept,
	// which covers an upload between its blob and its row.
	if rb, ok := st.(store.RemoteBlobs); ok {
		mc.SweepBlobs = true
		mc.Referenced = rb.RemoteBlobKeys
		mc.InUse = append(mc.InUse, rb.RemoteBlobInUse)
	}
	c := &clusterState{runner: maint.NewRunner(mc)}
	if cfg.Database.Driver == "postgres" {
		c.serials = maint.NewSerials(st.Cluster(), 0, log)
	}
	return c
}

// shared is hosted.Config.Shared: nil on a single process, so its page
// cache never reads the database.
func (c *clusterState) shared() func(int64) uint64 {
	if c == nil || c.serials == nil {
		return nil
	}
	return c.serials.Get
}

// loops are the replica coordination loops (server.Run supervises them).
// The serials are read once before the first request is served.
func (c *clusterState) loops() []func(context.Context) error {
	if c == nil {
		return nil
	}
	var loops []func(context.Context) error
	if c.serials != nil {
		loops = append(loops, func(ctx context.Context) error {
			c.serials.Refresh(ctx)
			c.serials.Run(ctx)
			return nil
		})
	}
	return append(loops, func(ctx context.Context) error { c.runner.Run(ctx); return nil })
}

// openS3 opens the S3 blob store the configuration names. Upload spool
// files go to the data directory's tmp/ when it can be created, else to
// the system's temporary directory.
func openS3(ctx context.Context, cfg *config.Config) (blob.Store, error) {
	c := cfg.Blobs.S3
	tmp := dataTmpDir(cfg)
	bs, err := s3blob.New(ctx, s3blob.Config{
		Bucket: c.Bucket, Prefix: c.Prefix, Region: c.Region, Endpoint: c.Endpoint, PathStyle: c.PathStyle,
		AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey.Value(), TempDir: tmp,
		Timeout: c.Timeout, MinRate: int64(c.MinRate),
	})
	if err != nil {
		return nil, fmt.Errorf("s3 bucket %q: %w", c.Bucket, err)
	}
	return bs, nil
}

// pingBlobs is the blob store's part of readiness.
func (s *Server) pingBlobs(ctx context.Context) error {
	if p, ok := s.Blobs.(blob.Pinger); ok {
		if err := p.Ping(ctx); err != nil {
			return errs.E(errs.Unavailable, "object store", err)
		}
	}
	return nil
}
