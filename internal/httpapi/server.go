// Package httpapi serves the PyPI-facing HTTP API: the simple index (PEP
// 503/691), file downloads, and the legacy upload API. It owns the one table
// from error kinds to HTTP statuses, which adminapi and the UI reuse.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/blob"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/oidc"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/catalog"
	"github.com/wharf-dev/wharf/internal/registry/hosted"
	"github.com/wharf-dev/wharf/internal/store"
)

// Config holds the server's dependencies.
type Config struct {
	Repos  store.Repos
	Hosted *hosted.Service
	// Catalog answers the JSON API of hosted repositories; nil builds it
	// from the simple page as for the other kinds.
	Catalog *catalog.Service
	// Downloads counts file downloads; nil counts nothing.
	Downloads *catalog.Counter
	// Remote and Virtual serve those kinds of repository; nil answers
	// them with "not supported".
	Remote  registry.Index
	Virtual registry.Index
	// UploadTarget maps an upload to a virtual repository to its hosted
	// member; nil refuses uploads to virtual repositories.
	UploadTarget func(ctx context.Context, repo registry.Repository) (registry.Repository, error)
	Blobs        blob.Store
	Auth         *auth.Service
	Logger       *slog.Logger
	Metrics      prometheus.Registerer
	// MaxFileSize bounds one uploaded file (413 beyond it).
	MaxFileSize int64
	// BodyTimeout bounds how long a request body may take to arrive
	// (DefaultBodyTimeout when 0, none when negative); uploads get it
	// plus 1/UploadMinRate seconds per byte received.
	BodyTimeout time.Duration
	// UploadMinRate is the slowest average transfer, in bytes per second,
	// an upload may keep after BodyTimeout (DefaultUploadMinRate when 0).
	UploadMinRate int64
	// Ready reports whether the server's dependencies answer (/readyz).
	Ready func(ctx context.Context) error
	// Gatherer serves /metrics; nil disables the route.
	Gatherer prometheus.Gatherer
	// Exchanger runs trusted-publishing exchanges; nil answers the
	// endpoints with PyPI's "not enabled" 403.
	Exchanger *oidc.Exchanger
	// RepoCacheTTL bounds how long a repository's settings are cached
	// (other replicas may change them). Default 2 s.
	RepoCacheTTL time.Duration
	// Redirect answers downloads of hosted files with a 302 to a
	// time-limited URL of the blob store, when Blobs is a blob.Signer.
	Redirect bool
}

// Server is the PyPI-facing HTTP API.
type Server struct {
	cfg     Config
	hosted  registry.Index
	log     *slog.Logger
	metrics *metrics
	mux     *http.ServeMux
	pages   pageCache
	repos   repoCache
	ids     *requestIDs
	// copyBufs holds the download copy buffers (see files.go).
	copyBufs *sync.Pool
}

// New builds the server and its routes.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.BodyTimeout == 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	if cfg.UploadMinRate <= 0 {
		cfg.UploadMinRate = DefaultUploadMinRate
	}
	if cfg.RepoCacheTTL == 0 {
		cfg.RepoCacheTTL = 2 * time.Second
	}
	s := &Server{cfg: cfg, log: cfg.Logger, metrics: newMetrics(cfg.Metrics), mux: http.NewServeMux(), ids: newRequestIDs(),
		copyBufs: &sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}}
	s.pages.init(4096)
	if cfg.Hosted != nil {
		s.hosted = cfg.Hosted.Index()
	}
	s.repos = repoCache{ttl: cfg.RepoCacheTTL, repos: cfg.Repos, m: map[string]repoEntry{}}
	s.routes()
	return s
}

// Handler returns the whole HTTP handler, middleware included.
func (s *Server) Handler() http.Handler {
	if s.cfg.BodyTimeout < 0 {
		return s.instrument(s.mux)
	}
	return s.instrument(s.limitBodies(s.mux))
}

// Mount adds a handler for a pattern (the admin API, trusted publishing).
func (s *Server) Mount(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// index returns the index serving repo's kind.
func (s *Server) index(repo registry.Repository) (registry.Index, error) {
	var idx registry.Index
	switch repo.Kind {
	case registry.Hosted:
		idx = s.hosted
	case registry.Remote:
		idx = s.cfg.Remote
	case registry.Virtual:
		idx = s.cfg.Virtual
	}
	if idx == nil {
		return nil, errs.Errorf(errs.Unavailable, "httpapi", "repository '%s' is a %s repository, which this server does not serve", repo.Name, repo.Kind)
	}
	return idx, nil
}

// Repo resolves a repository through the short-lived cache (virtual
// repositories resolve their members with it).
func (s *Server) Repo(ctx context.Context, name string) (registry.Repository, error) {
	return s.repos.get(ctx, name)
}

// ForgetRepo drops a repository from the cache after it changed.
func (s *Server) ForgetRepo(name string) { s.repos.forget(name) }

func (s *Server) routes() {
	m := s.mux
	m.Handle("GET /{repo}/simple/{$}", s.handle(s.rootPage))
	m.Handle("GET /{repo}/simple/{project}/{$}", s.handle(s.projectPage))
	m.Handle("GET /{repo}/files/{sha256}/{filename}", s.handle(s.download))
	m.Handle("GET /{repo}/pypi/{project}/json", s.handle(s.pypiJSON))
	m.Handle("GET /{repo}/pypi/{project}/{version}/json", s.handle(s.pypiJSON))
	// The index is read-only. uv prints its "this is the simple index URL,
	// not the upload URL" hint only on 405, so say so rather than 404.
	m.HandleFunc("/{repo}/simple/{$}", indexMethodNotAllowed)
	m.HandleFunc("/{repo}/simple/{project}/{$}", indexMethodNotAllowed)
	// Both forms: uploaders must not be asked to re-send a body after a redirect.
	m.HandleFunc("POST /{repo}/legacy/{$}", s.upload)
	m.HandleFunc("POST /{repo}/legacy", s.upload)
	m.HandleFunc("GET /_/oidc/audience", s.oidcAudience)
	m.HandleFunc("POST /_/oidc/mint-token", s.mintToken)
	m.HandleFunc("POST /_/oidc/github/mint-token", s.mintToken) // legacy path, still used by older clients
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { writeText(w, http.StatusOK, "ok") })
	m.HandleFunc("GET /readyz", s.readyz)
	if s.cfg.Gatherer != nil {
		m.Handle("GET /metrics", promhttpHandler(s.cfg.Gatherer))
	}
	m.Handle("/", s.handle(func(w http.ResponseWriter, r *http.Request) error { return errNoRoute }))
}

// indexMethodNotAllowed answers any method but GET and HEAD on the index.
func indexMethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "GET, HEAD")
	to := "the repository's /legacy/ URL"
	if repo := r.PathValue("repo"); registry.ValidRepoName(repo) {
		to = "/" + repo + "/legacy/"
	}
	writeText(w, http.StatusMethodNotAllowed, "the simple index is read-only: upload to "+to)
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.cfg.Ready(ctx); err != nil {
			s.log.Warn("not ready", "error", err)
			writeText(w, http.StatusServiceUnavailable, "not ready: "+ClientMessage(r, err, s.cfg.Auth))
			return
		}
	}
	writeText(w, http.StatusOK, "ready")
}

// handle adapts an error-returning handler: one place turns errors into
// responses.
func (s *Server) handle(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			status := Status(err)
			logError(s.log, r, status, err)
			if sw, ok := w.(*statusWriter); ok && sw.status != 0 {
				return // the response already started
			}
			writeText(w, status, ClientMessage(r, err, s.cfg.Auth))
		}
	})
}

// principal authenticates the request's credentials. ok is false when the
// request carries none.
func (s *Server) principal(r *http.Request) (p auth.Principal, ok bool, err error) {
	secret, err := auth.ParseAuthorization(r.Header.Get("Authorization"))
	if errors.Is(err, auth.ErrNoCredentials) {
		return p, false, nil
	}
	if err != nil {
		return p, false, err
	}
	p, err = s.cfg.Auth.Authenticate(r.Context(), secret)
	return p, err == nil, err
}

// readable resolves the repository named in the path and decides what the
// caller may read of it. A public hosted or remote repository is readable
// by anyone and its credentials are not even looked at (pip sends stored
// ones everywhere). A private repository needs a token with read on it; a
// virtual one checks credentials whenever they are sent, because what it
// shows depends on which members the caller may read (a bad token is
// refused rather than served the anonymous view, which could swap a
// private project for a public one of the same name). project, when not
// "", must be readable too: a name outside a project-scoped token's
// patterns answers 404 exactly as an absent project does, so it reveals
// nothing and clients searching several indexes (uv) move on to the next.
// The returned Reader goes to the indexes in the context (withReader).
func (s *Server) readable(r *http.Request, project string) (registry.Repository, registry.Reader, error) {
	var rd registry.Reader = registry.Anonymous{}
	repo, err := s.repos.get(r.Context(), r.PathValue("repo"))
	if err != nil {
		return repo, rd, err
	}
	if repo.Public && repo.Kind != registry.Virtual {
		return repo, rd, nil
	}
	p, authed, err := s.principal(r)
	if err != nil {
		return repo, rd, err
	}
	if authed {
		rd = p.Reader()
	}
	if ok, _ := rd.CanRead(repo); !ok {
		if !authed {
			return repo, rd, errs.Errorf(errs.Unauthenticated, "httpapi", "repository '%s' is private: authenticate with __token__ and an API token", repo.Name)
		}
		if err := p.Check(registry.Read, repo.Name, ""); err != nil {
			return repo, rd, err
		}
		return repo, rd, errs.Errorf(errs.PermissionDenied, "httpapi", "The given token isn't allowed to access repository '%s'.", repo.Name)
	}
	if project != "" && !rd.CanReadProject(repo, project) {
		return repo, rd, projectNotFound(repo, project)
	}
	return repo, rd, nil
}

// projectNotFound is the 404 of a project the caller may not read: word
// for word what the repository's index answers for an absent one.
func projectNotFound(repo registry.Repository, name string) error {
	switch repo.Kind {
	case registry.Virtual:
		return errs.Errorf(errs.NotFound, "virtual", "project '%s' not found in repository '%s' or its members", name, repo.Name)
	case registry.Remote:
		return errs.Errorf(errs.NotFound, "remote", "project '%s' not found in repository '%s' (nor upstream)", name, repo.Name)
	}
	return errs.Errorf(errs.NotFound, "hosted", "project '%s' not found in repository '%s'", name, repo.Name)
}

// withReader hands the caller's Reader to the indexes through the
// request's context; anonymous is the default and needs no copy.
func withReader(r *http.Request, rd registry.Reader) *http.Request {
	if _, anon := rd.(registry.Anonymous); anon {
		return r
	}
	return r.WithContext(registry.WithReader(r.Context(), rd))
}

// repoCache keeps repository settings for a short time: every request
// needs them and they rarely change.
type repoCache struct {
	ttl   time.Duration
	repos store.Repos
	mu    sync.RWMutex
	m     map[string]repoEntry
}

type repoEntry struct {
	repo    registry.Repository
	expires time.Time
}

func (c *repoCache) get(ctx context.Context, name string) (registry.Repository, error) {
	now := time.Now()
	c.mu.RLock()
	e, ok := c.m[name]
	c.mu.RUnlock()
	if ok && now.Before(e.expires) {
		return e.repo, nil
	}
	repo, err := c.repos.Get(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return repo, errs.Errorf(errs.NotFound, "httpapi", "repository '%s' does not exist", name)
	}
	if err != nil {
		return repo, err
	}
	c.mu.Lock()
	if len(c.m) > 1024 {
		clear(c.m)
	}
	c.m[name] = repoEntry{repo: repo, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return repo, nil
}

func (c *repoCache) forget(name string) {
	c.mu.Lock()
	delete(c.m, name)
	c.mu.Unlock()
}

func promhttpHandler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}
