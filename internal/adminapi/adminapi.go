// Package adminapi serves wharf's management JSON API under /api/v1
// (repositories, tokens, yank and delete, trusted publishers, the audit log)
// and provides the Go
// Client the CLI uses. Every route needs a token; what it may do is decided
// by auth.Principal.Check against the route's repository and project.
//
// Routes that are not about one repository (creating repositories, tokens,
// the whole audit log) need an unrestricted admin token: one with the admin
// action and no repository or project limits. Routes about one repository
// take a token whose scope covers that repository (and project).
package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/httpapi"
	"github.com/wharf-dev/wharf/internal/oidc"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/catalog"
	"github.com/wharf-dev/wharf/internal/registry/hosted"
	"github.com/wharf-dev/wharf/internal/registry/repos"
	"github.com/wharf-dev/wharf/internal/store"
)

// maxBody bounds a request body; every admin request is a small JSON object.
const maxBody = 1 << 20

// Config holds the API's dependencies.
type Config struct {
	Store  store.Store
	Hosted *hosted.Service
	// Catalog answers listings and search; nil builds one over Store.
	Catalog *catalog.Service
	Auth    *auth.Service
	Logger  *slog.Logger
	// Repos writes repositories (the one write path every writer shares);
	// nil builds one over Store that tells RepoChanged and SettingsChanged.
	Repos *repos.Service
	// Publishers writes trusted publishers; nil builds one over Store
	// checking against Issuers.
	Publishers *oidc.PublisherService
	// RepoChanged is told when a repository's settings change or it is
	// deleted, so caches elsewhere (the PyPI API's) forget it.
	RepoChanged func(name string)
	// SettingsChanged is told when a repository's remote or virtual
	// settings change or it is deleted, so the services drop cached copies.
	SettingsChanged func(repoID int64)
	// Now is the clock for audit entries; default time.Now.
	Now func() time.Time
	// Issuers are the OIDC issuers the server trusts: a publisher must name
	// one of them, of its kind (oidc.CheckPublisherIssuer).
	Issuers []oidc.IssuerInfo
}

// API is the /api/v1 handler.
type API struct {
	store       store.Store
	hosted      *hosted.Service
	catalog     *catalog.Service
	repos       *repos.Service
	publishers  *oidc.PublisherService
	auth        *auth.Service
	log         *slog.Logger
	repoChanged func(string)
	settingsChg func(int64)
	now         func() time.Time
	issuers     []oidc.IssuerInfo
	mux         *http.ServeMux
}

// New builds the API and its routes.
func New(cfg Config) *API {
	a := &API{
		store: cfg.Store, hosted: cfg.Hosted, catalog: cfg.Catalog, repos: cfg.Repos, publishers: cfg.Publishers, auth: cfg.Auth, log: cfg.Logger,
		repoChanged: cfg.RepoChanged, settingsChg: cfg.SettingsChanged, now: cfg.Now, issuers: cfg.Issuers, mux: http.NewServeMux(),
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.repoChanged == nil {
		a.repoChanged = func(string) {}
	}
	if a.settingsChg == nil {
		a.settingsChg = func(int64) {}
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.repos == nil {
		a.repos = repos.New(repos.Config{Store: cfg.Store, Logger: a.log, Now: a.now, Changed: a.changed})
	}
	if a.publishers == nil {
		a.publishers = oidc.NewPublisherService(oidc.PublisherServiceConfig{Store: cfg.Store, Issuers: cfg.Issuers, Logger: a.log, Now: a.now})
	}
	if a.catalog == nil {
		a.catalog = catalog.New(catalog.Config{Store: cfg.Store, Now: a.now})
	}
	a.routes()
	return a
}

// Handler serves /api/v1/...; paths are matched in full, so mount it at
// "/api/v1/".
func (a *API) Handler() http.Handler { return a.mux }

// handlerFunc is an authenticated route: it gets the caller and returns an
// error that one adapter turns into the JSON response.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p auth.Principal) error

func (a *API) routes() {
	const (
		repo    = "/api/v1/repos/{repo}"
		project = repo + "/projects/{project}"
		release = project + "/releases/{version}"
	)
	m := a.mux
	m.Handle("GET /api/v1/whoami", a.handle(a.whoami))

	m.Handle("GET /api/v1/repos", a.handle(a.listRepos))
	m.Handle("POST /api/v1/repos", a.handle(a.createRepo))
	m.Handle("GET "+repo, a.handle(a.getRepo))
	m.Handle("PATCH "+repo, a.handle(a.updateRepo))
	m.Handle("DELETE "+repo, a.handle(a.deleteRepo))

	m.Handle("POST /api/v1/tokens", a.handle(a.createToken))
	m.Handle("GET /api/v1/tokens", a.handle(a.listTokens))
	m.Handle("DELETE /api/v1/tokens/{id}", a.handle(a.revokeToken))

	m.Handle("POST "+release+"/yank", a.handle(a.yank))
	m.Handle("POST "+release+"/unyank", a.handle(a.unyank))
	m.Handle("DELETE "+project, a.handle(a.deleteProject))
	m.Handle("DELETE "+release, a.handle(a.deleteRelease))
	m.Handle("DELETE "+release+"/files/{filename}", a.handle(a.deleteFile))

	m.Handle("GET /api/v1/audit", a.handle(a.listAudit))

	m.Handle("GET "+repo+"/projects", a.handleRead(a.listProjects))
	m.Handle("GET "+project, a.handleRead(a.getProject))
	m.Handle("GET /api/v1/search", a.handleRead(a.search))
	m.Handle("POST /api/v1/catalog/backfill", a.handle(a.backfill))

	m.Handle("POST "+repo+"/publishers", a.handle(a.addPublisher))
	m.Handle("GET /api/v1/publishers", a.handle(a.listPublishers))
	m.Handle("DELETE /api/v1/publishers/{id}", a.handle(a.removePublisher))

	// Everything else under /api/v1 (unknown paths and wrong methods alike)
	// gets a JSON 404 rather than the mux's plain-text answers.
	m.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		a.fail(w, r, errs.Errorf(errs.NotFound, "adminapi", "no such API route: %s %s", r.Method, r.URL.Path))
	})
}

// handle authenticates the request and adapts h's error into a response.
// Authentication comes before routing details such as "does this
// repository exist", so anonymous callers learn nothing.
func (a *API) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.authenticate(r)
		if err == nil {
			err = h(w, r, p)
		}
		if err != nil {
			a.fail(w, r, err)
		}
	})
}

func (a *API) authenticate(r *http.Request) (auth.Principal, error) {
	const op = "adminapi.authenticate"
	secret, err := auth.ParseAuthorization(r.Header.Get("Authorization"))
	if errors.Is(err, auth.ErrNoCredentials) {
		return auth.Principal{}, errs.Errorf(errs.Unauthenticated, op,
			"the admin API needs a token: send 'Authorization: Bearer <token>' (the CLI reads --token or WHARF_TOKEN)")
	}
	if err != nil {
		return auth.Principal{}, err
	}
	return a.auth.Authenticate(r.Context(), secret)
}

// fail writes err with the shared kind → status table and logs it: 5xx at
// Error, the rest at Debug with the authentication reason if there is one.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := httpapi.Status(err)
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelError
	}
	attrs := []any{"method", r.Method, "path", r.URL.Path, "status", status, "error", err.Error()}
	if reason := auth.Reason(err); reason != "" {
		attrs = append(attrs, "auth_reason", reason)
	}
	a.log.Log(r.Context(), level, "admin request failed", attrs...)
	httpapi.WriteJSONError(w, r, status, err, a.auth)
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return errs.E(errs.Internal, "adminapi.writeJSON", err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return nil
}

// decode reads a JSON body into v, rejecting unknown fields so a typo in a
// field name is an error and not a silently ignored setting.
func decode(r *http.Request, v any) error { return decodeBody(r, v, true) }

// decodeOptional is decode for routes whose body may be left out.
func decodeOptional(r *http.Request, v any) error { return decodeBody(r, v, false) }

func decodeBody(r *http.Request, v any, required bool) error {
	const op = "adminapi.decode"
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			if !required {
				return nil
			}
			return errs.Errorf(errs.Invalid, op, "the request needs a JSON body")
		}
		return errs.Errorf(errs.Invalid, op, "invalid JSON body: %v", err)
	}
	if dec.More() {
		return errs.Errorf(errs.Invalid, op, "invalid JSON body: more than one JSON value")
	}
	return nil
}

// requireGlobalAdmin checks for an unrestricted admin token: the routes
// that use it act on the whole installation, not on one repository.
func requireGlobalAdmin(p auth.Principal) error {
	if !p.Scope.AllowsAction(registry.Admin) {
		return errs.Errorf(errs.PermissionDenied, "adminapi", "The given token does not have the '%s' permission.", registry.Admin)
	}
	if len(p.Scope.Repos) > 0 || len(p.Scope.Projects) > 0 {
		return errs.Errorf(errs.PermissionDenied, "adminapi",
			"The given token is limited to some repositories or projects; this needs an admin token without limits.")
	}
	return nil
}

// audit appends an event, stamping the time.
func (a *API) audit(ctx context.Context, st store.Store, e registry.AuditEvent) error {
	e.Time = a.now().UTC()
	if e.Outcome == "" {
		e.Outcome = "ok"
	}
	if err := st.Audit().Append(ctx, e); err != nil {
		return errs.E(errs.Internal, "adminapi.audit", fmt.Errorf("recording %s: %w", e.Action, err))
	}
	return nil
}

func (a *API) whoami(w http.ResponseWriter, _ *http.Request, p auth.Principal) error {
	return writeJSON(w, http.StatusOK, Whoami{TokenID: p.TokenID, Scope: p.Scope, ExpiresAt: p.ExpiresAt, Origin: p.Origin})
}

// changed tells the caches keyed on a repository that it changed.
func (a *API) changed(repo registry.Repository) {
	a.repoChanged(repo.Name)
	a.settingsChg(repo.ID)
	if a.hosted != nil {
		a.hosted.Changed(repo.ID)
	}
}
