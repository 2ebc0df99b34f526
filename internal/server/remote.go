package server

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wharf-dev/wharf/internal/config"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/remote"
	"github.com/wharf-dev/wharf/internal/registry/virtual"
	"github.com/wharf-dev/wharf/internal/upstream"
)

// defaultRepos is what a fresh installation with no declared repositories
// gets: a hosted repository, a pull-through cache of PyPI and a virtual
// repository serving both, local first (a local project hides PyPI's).
func defaultRepos() []config.Repository {
	return []config.Repository{
		{Name: "local", Kind: registry.Hosted, Description: "Packages uploaded to this wharf"},
		{Name: "pypi", Kind: registry.Remote, Description: "Pull-through cache of PyPI",
			Remote: &registry.RemoteSettings{Upstream: registry.DefaultUpstream}},
		{Name: "all", Kind: registry.Virtual, Description: "local, then PyPI",
			Virtual: &registry.VirtualSettings{Members: []string{"local", "pypi"}, UploadTo: "local"}},
	}
}

// declareSettings stores the settings a repository entry of the
// configuration declares; the file wins over earlier API changes, as for
// every declared object.
func (s *Server) declareSettings(ctx context.Context, r config.Repository) error {
	if r.Remote == nil && r.Virtual == nil {
		return nil
	}
	repo, err := s.Store.Repos().Get(ctx, r.Name)
	if err != nil {
		return err
	}
	if repo.Kind != r.Kind {
		return fmt.Errorf("repository %s is %s in the database but declared %s", r.Name, repo.Kind, r.Kind)
	}
	b, err := json.Marshal(registry.RepoSettings{Remote: r.Remote, Virtual: r.Virtual})
	if err != nil {
		return err
	}
	return s.Store.Remote().PutSettings(ctx, repo.ID, b)
}

// newRemoteServices builds the remote and virtual repository services.
// repo resolves repositories through the HTTP layer's cache.
func (s *Server) newRemoteServices(repo func(ctx context.Context, name string) (registry.Repository, error)) {
	// The one secret store of the server, opened at start (server.New).
	up := s.cfg.Upstream
	client := upstream.New(upstream.Config{Secrets: s.Secrets,
		PageTimeout: up.Timeout, ResponseTimeout: up.Timeout, RateWindow: up.Timeout, MinRate: int64(up.MinRate)})
	s.Remote = remote.New(remote.Config{
		Store: s.Store, Blobs: s.Blobs, Upstream: client, Logger: s.log, Metrics: s.reg,
		MaxFileSize: int64(s.cfg.Upload.MaxFileSize) * 4,
		PageTimeout: up.Timeout, RefreshWait: up.RefreshWait, ErrorBackoff: up.ErrorBackoff,
		SpoolDir: dataTmpDir(s.cfg),
	})
	s.Virtual = virtual.New(virtual.Config{
		Store: s.Store, Repo: repo,
		Index: func(kind registry.RepoKind) registry.Index {
			switch kind {
			case registry.Hosted:
				return s.Hosted.Index()
			case registry.Remote:
				return s.Remote
			case registry.Virtual:
				return s.Virtual
			}
			return nil
		},
	})
}

// forgetSettings drops the remote and virtual services' cached settings of
// a repository the admin API changed, so the change applies at once rather
// than after their settings TTL.
func (s *Server) forgetSettings(repoID int64) {
	s.Remote.Forget(repoID)
	s.Virtual.Forget(repoID)
}

// dataTmpDir is the data directory's tmp/, where upload spools (S3) and
// remote file fills go: on the disk wharf was given, where the system's
// temporary directory may be memory. "" (the system's) when it cannot be
// created.
func dataTmpDir(cfg *config.Config) string {
	if cfg.DataDir == "" {
		return ""
	}
	dir := filepath.Join(cfg.DataDir, "tmp")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ""
	}
	return dir
}
