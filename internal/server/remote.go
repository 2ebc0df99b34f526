package server

import (
	"context"
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

// repoChanged tells the caches keyed on a repository (the HTTP layer's
// repository cache, the remote and virtual services' settings, the hosted
// page cache) that a repository was created, changed or deleted. Before
// they exist (declarations at start) there is nothing to forget.
func (s *Server) repoChanged(r registry.Repository) {
	if s.api != nil {
		s.api.ForgetRepo(r.Name)
	}
	if s.Remote != nil {
		s.Remote.Forget(r.ID)
	}
	if s.Virtual != nil {
		s.Virtual.Forget(r.ID)
	}
	if s.Hosted != nil {
		s.Hosted.Changed(r.ID)
	}
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
