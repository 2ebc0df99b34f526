// Package server is wharf's composition root: it builds the stores, the
// services and the HTTP handlers from a configuration, bootstraps a fresh
// installation, and runs the listener until its context ends.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/wharf-dev/wharf/internal/adminapi"
	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/blob"
	"github.com/wharf-dev/wharf/internal/blob/fsblob"
	"github.com/wharf-dev/wharf/internal/config"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/httpapi"
	"github.com/wharf-dev/wharf/internal/obs"
	"github.com/wharf-dev/wharf/internal/oidc"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/catalog"
	"github.com/wharf-dev/wharf/internal/registry/hosted"
	"github.com/wharf-dev/wharf/internal/registry/remote"
	"github.com/wharf-dev/wharf/internal/registry/repos"
	"github.com/wharf-dev/wharf/internal/registry/virtual"
	"github.com/wharf-dev/wharf/internal/secrets"
	"github.com/wharf-dev/wharf/internal/store"
	"github.com/wharf-dev/wharf/internal/store/sqlstore"
	"github.com/wharf-dev/wharf/internal/ui"
)

// Server is a running wharf: stores, services and the HTTP handler.
type Server struct {
	cfg     *config.Config
	log     *slog.Logger
	reg     *prometheus.Registry
	Store   store.Store
	Blobs   blob.Store
	Auth    *auth.Service
	Hosted  *hosted.Service
	Catalog *catalog.Service
	// Downloads counts file downloads, flushed by Run.
	Downloads *catalog.Counter
	Remote    *remote.Service
	Virtual   *virtual.Service
	// Repos and Publishers write repositories and trusted publishers, for
	// the admin API and the declarations alike.
	Repos      *repos.Service
	Publishers *oidc.PublisherService
	api        *httpapi.Server
	handler    http.Handler
	// Exchanger runs trusted publishing; nil when no issuer is configured.
	Exchanger *oidc.Exchanger
	// Secrets is the encrypted secret store (upstream credentials).
	Secrets *secrets.Service
	cluster *clusterState // replica coordination (cluster.go)
	// FirstToken is the admin token minted at the first start of a new
	// installation ("" otherwise). It is shown once and never stored.
	FirstToken string
}

// OpenStores opens the metadata and blob stores the configuration names,
// creating the data directory for the embedded default.
func OpenStores(ctx context.Context, cfg *config.Config) (store.Store, blob.Store, error) {
	if cfg.Database.Driver == "sqlite" || cfg.Blobs.Driver == "fs" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, nil, fmt.Errorf("creating data directory %s: %w", cfg.DataDir, err)
		}
	}
	st, err := OpenDatabase(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	bs, err := OpenBlobs(ctx, cfg)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, bs, nil
}

// OpenDatabase opens the metadata store, applying pending migrations.
func OpenDatabase(ctx context.Context, cfg *config.Config) (*sqlstore.Store, error) {
	st, err := sqlstore.Open(ctx, sqlstore.Config{Driver: cfg.Database.Driver, DSN: cfg.Database.DSN.Value(),
		Timeout: cfg.Database.Timeout, LockWait: cfg.Database.LockWait})
	if err != nil {
		return nil, fmt.Errorf("opening %s database: %w", cfg.Database.Driver, err)
	}
	return st, nil
}

// OpenBlobs opens the blob store; an S3 store is not contacted.
func OpenBlobs(ctx context.Context, cfg *config.Config) (blob.Store, error) {
	var bs blob.Store
	var err error
	switch cfg.Blobs.Driver {
	case "fs":
		bs, err = fsblob.New(cfg.Blobs.Dir)
	case "s3":
		bs, err = openS3(ctx, cfg)
	default:
		err = fmt.Errorf("blob driver %q is not supported yet", cfg.Blobs.Driver)
	}
	if err != nil {
		return nil, fmt.Errorf("opening blob store: %w", err)
	}
	return bs, nil
}

// Options are what a server needs beyond its configuration file.
type Options struct {
	// ExtraIssuers are trusted in addition to the configured ones (the
	// development issuer of `wharf serve --dev-issuer`).
	ExtraIssuers []oidc.IssuerConfig
	// Now is the clock of token verification; nil means time.Now (tests
	// inject one).
	Now func() time.Time
	// Sleep is how token verification waits for the next key refresh; nil
	// means a timer (tests whose clock stands still inject one that does
	// not wait).
	Sleep func(ctx context.Context, d time.Duration) error
}

// New builds a server from cfg. It opens the stores, runs migrations,
// creates declared repositories and publishers and, on a new installation,
// the `local` repository and a first admin token.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger, opts ...Options) (*Server, error) {
	var o Options
	for _, x := range opts {
		o.ExtraIssuers = append(o.ExtraIssuers, x.ExtraIssuers...)
		if x.Now != nil {
			o.Now = x.Now
		}
		if x.Sleep != nil {
			o.Sleep = x.Sleep
		}
	}
	st, bs, err := OpenStores(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, reg: obs.NewRegistry(), Store: st, Blobs: bs}
	s.Auth = auth.New(auth.Config{Tokens: st.Tokens(), Logger: log})
	s.cluster = newCluster(cfg, st, bs, log)
	s.Hosted = hosted.New(hosted.Config{Store: st, Blobs: bs, Logger: log, MaxFileSize: int64(cfg.Upload.MaxFileSize), Shared: s.cluster.shared()})
	s.Catalog = catalog.New(catalog.Config{Store: st})
	s.Repos = repos.New(repos.Config{Store: st, Logger: log, Changed: s.repoChanged})
	s.Downloads = catalog.NewCounter(catalog.CounterConfig{Store: st.Downloads(), Logger: log, Metrics: s.reg})
	if s.Secrets, err = newSecrets(cfg, st, log); err != nil {
		s.Close()
		return nil, fmt.Errorf("secret store: %w", err)
	}
	// Trusted publishing first: declared publishers are checked against
	// its issuers.
	if s.Exchanger, err = s.newExchanger(o); err != nil {
		s.Close()
		return nil, fmt.Errorf("trusted publishing: %w", err)
	}
	s.Publishers = oidc.NewPublisherService(oidc.PublisherServiceConfig{Store: st, Issuers: s.issuers(), Logger: log})
	if err := s.underDeclarationLock(ctx, s.bootstrap); err != nil {
		s.Close()
		return nil, err
	}
	s.newRemoteServices(func(ctx context.Context, name string) (registry.Repository, error) { return s.api.Repo(ctx, name) })
	s.api = httpapi.New(httpapi.Config{
		Remote: s.Remote, Virtual: s.Virtual, UploadTarget: s.Virtual.UploadTarget,
		Repos: st.Repos(), Hosted: s.Hosted, Catalog: s.Catalog, Downloads: s.Downloads, Blobs: bs, Auth: s.Auth, Logger: log,
		Metrics: s.reg, Gatherer: s.reg, MaxFileSize: int64(cfg.Upload.MaxFileSize),
		BodyTimeout: cfg.HTTP.BodyTimeout, UploadMinRate: int64(cfg.Upload.MinRate),
		Ready: s.ready, Exchanger: s.Exchanger,
		Redirect: cfg.Blobs.Driver == "s3" && cfg.Blobs.S3.Redirect,
	})
	admin := adminapi.New(adminapi.Config{
		Store: st, Hosted: s.Hosted, Catalog: s.Catalog, Auth: s.Auth, Logger: log,
		Repos: s.Repos, Publishers: s.Publishers, Issuers: s.issuers(),
	})
	admin.MountSecrets(s.Secrets)
	if s.Exchanger != nil {
		admin.MountPolicies(s.Exchanger)
	} else {
		admin.MountPolicies(nil) // listed and removable; the exchange says it is not enabled
	}
	if err := s.underDeclarationLock(ctx, func(ctx context.Context) error { return s.declarePolicies(ctx, s.Exchanger) }); err != nil {
		s.Close()
		return nil, err
	}
	s.api.Mount("/api/v1/", admin.Handler())
	webUI, err := ui.New(ui.Config{Auth: s.Auth, Read: ui.CatalogReader{Service: s.Catalog, Store: st}, Admin: ui.InProcessAdmin(admin.Handler()),
		PublicURL: cfg.PublicURL, SecureCookies: cfg.TLS.Enabled(), Logger: log})
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("web UI: %w", err)
	}
	s.handler = webUI.Wrap(s.api.Handler())
	return s, nil
}

// Handler is the whole HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Close releases the metadata and blob stores. Call it after Run has
// returned: no loop or request writes to them any more.
func (s *Server) Close() error {
	err := s.Store.Close()
	if c, ok := s.Blobs.(io.Closer); ok {
		err = errors.Join(err, c.Close())
	}
	return err
}

func (s *Server) ready(ctx context.Context) error {
	if err := s.Store.Ping(ctx); err != nil {
		return errs.E(errs.Unavailable, "database", err)
	}
	return s.pingBlobs(ctx)
}

// underDeclarationLock runs one of the start-up steps that check what the
// database holds and create what is missing (repositories, publishers, the
// first admin token, policies) under a lock every replica of the database
// shares. Replicas started together would otherwise both see "missing" and
// both create: publishers have no natural unique key, and each replica
// would mint its own first admin token.
func (s *Server) underDeclarationLock(ctx context.Context, fn func(context.Context) error) error {
	if l, ok := s.Store.(store.Locker); ok {
		return l.WithLock(ctx, "wharf:start-up declarations", fn)
	}
	return fn(ctx)
}

// bootstrap creates what a new installation needs and what the
// configuration declares.
func (s *Server) bootstrap(ctx context.Context) error {
	existing, err := s.Store.Repos().List(ctx)
	if err != nil {
		return err
	}
	fresh := len(existing) == 0
	want, actor := s.cfg.Repositories, repos.ActorConfig
	if fresh && len(want) == 0 {
		want, actor = defaultRepos(), repos.ActorBootstrap
	}
	for _, r := range want {
		// The same write path as the admin API's: a declared repository
		// is validated, audited and stored exactly as one created there.
		err := s.Repos.Declare(ctx, actor, repos.Spec{
			Name: r.Name, Kind: r.Kind, Public: r.IsPublic(), Description: r.Description, Remote: r.Remote, Virtual: r.Virtual,
		})
		if err != nil {
			return fmt.Errorf("repository %s: %w", r.Name, err)
		}
	}
	if err := s.declarePublishers(ctx); err != nil {
		return err
	}
	toks, err := s.Store.Tokens().List(ctx)
	if err != nil {
		return err
	}
	if len(toks) == 0 {
		secret, _, err := s.Auth.Mint(ctx, auth.MintRequest{
			Scope:       registry.Scope{Actions: []registry.Action{registry.Admin}},
			Description: "first admin token, created at first start",
			Origin:      "bootstrap",
		})
		if err != nil {
			return fmt.Errorf("creating the first admin token: %w", err)
		}
		s.FirstToken = secret
	}
	return nil
}

// Run serves HTTP (or HTTPS) on the configured address and runs the
// background loops (token use, key-set refresh, change serials,
// maintenance, the file-details backfill) under one errgroup until ctx
// ends or one of them fails.
// Shutdown is ordered: the listener stops and in-flight requests finish
// first, then the loops are stopped (they may still be writing what those
// requests queued), and Run returns once every one of them has. ready, if
// not nil, receives the bound address.
func (s *Server) Run(ctx context.Context, ready func(addr string)) error {
	tlsCert, tlsKey, err := s.tlsFiles()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.cfg.Listen, err)
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.HTTP.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.HTTP.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	g, gctx := errgroup.WithContext(ctx)
	// The loops outlive gctx until the HTTP server has drained.
	loops, stopLoops := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLoops()
	for _, loop := range s.loops() {
		g.Go(func() error { return loop(loops) })
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	g.Go(func() error {
		var err error
		if tlsCert != "" {
			err = srv.ServeTLS(ln, tlsCert, tlsKey)
		} else {
			err = srv.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	})
	g.Go(func() error {
		<-gctx.Done()
		defer stopLoops()
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdown); err != nil {
			return fmt.Errorf("shutting down: %w", err)
		}
		return nil
	})
	err = g.Wait()
	if err != nil {
		s.log.Error("wharf stopped", "error", err)
	} else {
		s.log.Info("wharf stopped")
	}
	return err
}

// loops are the server's background loops; each runs until its context
// ends.
func (s *Server) loops() []func(context.Context) error {
	loops := []func(context.Context) error{s.Auth.Run, func(ctx context.Context) error { s.backfill(ctx); return nil },
		func(ctx context.Context) error { s.Downloads.Run(ctx, catalog.DefaultFlushEvery); return nil }}
	if s.Exchanger != nil {
		v := s.Exchanger.Verifier()
		loops = append(loops, func(ctx context.Context) error { v.Run(ctx); return nil })
	}
	return append(loops, s.cluster.loops()...)
}

// Scheme is "https" when TLS is configured.
func (s *Server) Scheme() string {
	if s.cfg.TLS.Enabled() {
		return "https"
	}
	return "http"
}

func (s *Server) tlsFiles() (cert, key string, err error) {
	t := s.cfg.TLS
	if t.CertFile != "" {
		return t.CertFile, t.KeyFile, nil
	}
	if !t.SelfSigned {
		return "", "", nil
	}
	cert, key = filepath.Join(s.cfg.DataDir, "tls", "cert.pem"), filepath.Join(s.cfg.DataDir, "tls", "key.pem")
	created, err := selfSigned(cert, key, s.cfg.Listen, s.cfg.PublicURL)
	if err != nil {
		return "", "", fmt.Errorf("creating a self-signed certificate: %w", err)
	}
	if created {
		s.log.Warn("generated a self-signed development certificate: point clients at it with REQUESTS_CA_BUNDLE / SSL_CERT_FILE",
			"cert_file", cert)
	}
	return cert, key, nil
}
