package oidc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

// PublisherService is the one write path of trusted publishers: the admin
// API, the configuration's declarations and the web UI call it, so a
// publisher is validated, audited and stored the same way whoever writes
// it.
type PublisherService struct {
	st      store.Store
	issuers []IssuerInfo
	log     *slog.Logger
	now     func() time.Time
}

// PublisherServiceConfig holds the service's dependencies.
type PublisherServiceConfig struct {
	Store store.Store
	// Issuers are the issuers the server trusts (CheckPublisherIssuer).
	Issuers []IssuerInfo
	Logger  *slog.Logger
	Now     func() time.Time // audit clock; default time.Now
}

// NewPublisherService builds the service.
func NewPublisherService(cfg PublisherServiceConfig) *PublisherService {
	s := &PublisherService{st: cfg.Store, issuers: cfg.Issuers, log: cfg.Logger, now: cfg.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// ActorConfig is the audit actor of what the configuration file declares.
const ActorConfig = "config"

// Add creates a publisher on behalf of actor. pub.Project is the name as
// given; it is stored normalised. A normal publisher needs an existing
// project and a pending one a missing project; an identical publisher is
// a conflict.
func (s *PublisherService) Add(ctx context.Context, actor string, pub Publisher) (Publisher, error) {
	return s.add(ctx, actor, pub, false)
}

// Declare creates a publisher the configuration declares unless an
// identical one exists. It is checked as Add checks, except for the
// project's existence: declarations are applied at every start, and a
// pending one stays declared after its first publish created the project.
func (s *PublisherService) Declare(ctx context.Context, pub Publisher) error {
	_, err := s.add(ctx, ActorConfig, pub, true)
	return err
}

func (s *PublisherService) add(ctx context.Context, actor string, pub Publisher, declared bool) (Publisher, error) {
	const op = "oidc.AddPublisher"
	raw := pub.Project
	pub.Project = pypi.Normalize(raw)
	// The service decides these, whatever the writer says.
	pub.ID, pub.CreatedAt = 0, time.Time{}
	pub.SetDefaults()
	if err := validatePublisher(pub, raw); err != nil {
		return pub, err
	}
	if err := CheckPublisherIssuer(pub, s.issuers); err != nil {
		return pub, err
	}
	rec, err := pub.Record()
	if err != nil {
		return pub, errs.E(errs.Internal, op, err)
	}
	rec.CreatedBy = actor
	exists := false
	err = s.st.InTx(ctx, func(tx store.Store) error {
		repo, err := tx.Repos().Get(ctx, pub.Repo)
		if errors.Is(err, store.ErrNotFound) {
			return errs.Errorf(errs.NotFound, op, "repository '%s' does not exist", pub.Repo)
		}
		if err != nil {
			return err
		}
		if repo.Kind != registry.Hosted {
			return errs.Errorf(errs.Invalid, op,
				"repository '%s' is a %s repository: trusted publishers upload, so they belong to hosted repositories", pub.Repo, repo.Kind)
		}
		if !declared {
			if err := checkProjectState(ctx, tx, repo.ID, pub); err != nil {
				return err
			}
		}
		same, err := tx.Publishers().List(ctx, pub.Repo, pub.Project)
		if err != nil {
			return err
		}
		for _, e := range same {
			if e.Kind == rec.Kind && e.Issuer == rec.Issuer && string(e.Config) == string(rec.Config) {
				if declared {
					exists = true
					return nil
				}
				return errs.Errorf(errs.Conflict, op, "an identical publisher already exists for '%s' in repository '%s' (id %d)", pub.Project, pub.Repo, e.ID)
			}
		}
		if err := tx.Publishers().Create(ctx, &rec); err != nil {
			return err
		}
		pub.ID, pub.CreatedAt = rec.ID, rec.CreatedAt
		return s.audit(ctx, tx, registry.AuditEvent{
			Actor: actor, Action: "publisher.add", Repo: pub.Repo, Project: pub.Project,
			Target: strconv.FormatInt(rec.ID, 10), Detail: PublisherDetail(pub),
		})
	})
	if err != nil || exists {
		return pub, err
	}
	s.log.InfoContext(ctx, "trusted publisher added", "publisher_id", pub.ID, "repo", pub.Repo,
		"project", pub.Project, "kind", pub.Kind, "issuer", pub.IssuerURL(), "by", actor)
	return pub, nil
}

// checkProjectState: a normal publisher only trusts a CI job with a
// project that someone already owns; creating one is what pending is for,
// so the two cannot be confused (PyPI draws the same line).
func checkProjectState(ctx context.Context, st store.Store, repoID int64, pub Publisher) error {
	const op = "oidc.AddPublisher"
	_, err := st.Projects().Get(ctx, repoID, pub.Project)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	switch {
	case pub.Pending && exists:
		return errs.Errorf(errs.Invalid, op,
			"project exists: add a normal publisher (without pending) for '%s' in repository '%s'", pub.Project, pub.Repo)
	case !pub.Pending && !exists:
		return errs.Errorf(errs.Invalid, op,
			"project '%s' does not exist in repository '%s': add a pending publisher (\"pending\": true, or --pending) so its first publish creates it",
			pub.Project, pub.Repo)
	}
	return nil
}

// Remove deletes publisher id on behalf of actor; allow (nil: anyone)
// decides, from the stored record, whether actor may.
func (s *PublisherService) Remove(ctx context.Context, actor string, id int64, allow func(registry.PublisherRecord) error) (Publisher, error) {
	const op = "oidc.RemovePublisher"
	notFound := errs.Errorf(errs.NotFound, op, "publisher %d does not exist ('wharf publisher list' shows the IDs)", id)
	var pub Publisher
	err := s.st.InTx(ctx, func(tx store.Store) error {
		rec, err := tx.Publishers().Get(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return notFound
		}
		if err != nil {
			return err
		}
		if allow != nil {
			if err := allow(rec); err != nil {
				return err
			}
		}
		if pub, err = FromRecord(rec); err != nil {
			pub = Publisher{ID: rec.ID, Repo: rec.Repo, Project: rec.Project, Pending: rec.Pending, Kind: rec.Kind}
		}
		if err := tx.Publishers().Delete(ctx, id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return notFound
			}
			return err
		}
		return s.audit(ctx, tx, registry.AuditEvent{
			Actor: actor, Action: "publisher.remove", Repo: rec.Repo, Project: rec.Project,
			Target: strconv.FormatInt(id, 10), Detail: PublisherDetail(pub),
		})
	})
	if err != nil {
		return pub, err
	}
	s.log.InfoContext(ctx, "trusted publisher removed", "publisher_id", id, "repo", pub.Repo, "project", pub.Project, "by", actor)
	return pub, nil
}

func (s *PublisherService) audit(ctx context.Context, st store.Store, e registry.AuditEvent) error {
	e.Time, e.Outcome = s.now().UTC(), "ok"
	if err := st.Audit().Append(ctx, e); err != nil {
		return errs.E(errs.Internal, "oidc.audit", fmt.Errorf("recording %s: %w", e.Action, err))
	}
	return nil
}

// validatePublisher runs Validate and adds the project-name rule the
// upload form applies (raw is the name as given, before normalising).
func validatePublisher(pub Publisher, raw string) error {
	err := pub.Validate()
	if raw != "" && !pypi.ValidName(raw) {
		nameErr := fmt.Errorf("project: %q is not a valid project name: use ASCII letters and digits, with '.', '_' and '-' inside", raw)
		if err == nil {
			return errs.E(errs.Invalid, "oidc.AddPublisher", nameErr)
		}
		return errs.E(errs.Invalid, "oidc.AddPublisher", errors.Join(nameErr, errors.Unwrap(err)))
	}
	return err
}

// PublisherDetail describes a publisher for the audit log: the identity it
// trusts, never claim values of generic publishers (only their names), so
// the log says what changed without copying configuration wholesale.
func PublisherDetail(p Publisher) map[string]string {
	d := map[string]string{"kind": p.Kind, "issuer": p.IssuerURL(), "pending": strconv.FormatBool(p.Pending)}
	set := func(k, v string) {
		if v != "" {
			d[k] = v
		}
	}
	switch {
	case p.GitHub != nil:
		g := p.GitHub
		set("owner", g.Owner)
		set("owner_id", g.OwnerID)
		set("repository", g.Repository)
		set("repository_id", g.RepositoryID)
		set("workflow", g.Workflow)
		set("environment", g.Environment)
		set("job_workflow_ref", g.JobWorkflowRef)
		set("allowed_events", strings.Join(g.AllowedEvents, ","))
	case p.GitLab != nil:
		g := p.GitLab
		set("namespace", g.Namespace)
		set("namespace_id", g.NamespaceID)
		set("gitlab_project", g.Project)
		set("ci_file_path", g.CIFilePath)
		set("environment", g.Environment)
	case p.Generic != nil:
		set("claims", strings.Join(slices.Sorted(maps.Keys(p.Generic.Claims)), ","))
	}
	return d
}
