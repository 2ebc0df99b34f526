package adminapi

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/oidc"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

// Trusted publishers are managed per (repository, project). Adding or
// removing one needs admin on that repository and project: whoever may
// change who publishes a project must already be trusted with it. A token
// limited to some projects may therefore manage its own projects'
// publishers, as a PyPI project owner can.

// addPublisher creates a trusted publisher for the path's repository.
func (a *API) addPublisher(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	const op = "adminapi.addPublisher"
	ctx := r.Context()
	repoName := r.PathValue("repo")
	// Check the action before reading the body, so a token without admin
	// learns nothing from validation messages.
	if !p.Scope.AllowsAction(registry.Admin) {
		return errs.Errorf(errs.PermissionDenied, op, "The given token does not have the '%s' permission.", registry.Admin)
	}
	var pub oidc.Publisher
	if err := decode(r, &pub); err != nil {
		return err
	}
	if pub.Repo != "" && pub.Repo != repoName {
		return errs.Errorf(errs.Invalid, op, "repo: the body names %q but the path names %q: leave it out of the body", pub.Repo, repoName)
	}
	raw := pub.Project
	pub.Repo, pub.Project = repoName, pypi.Normalize(raw)
	// The server decides these, whatever the body says.
	pub.ID, pub.CreatedAt = 0, time.Time{}
	if err := p.Check(registry.Admin, repoName, pub.Project); err != nil {
		return err
	}
	pub.SetDefaults()
	if err := validatePublisher(pub, raw); err != nil {
		return err
	}
	if err := oidc.CheckPublisherIssuer(pub, a.issuers); err != nil {
		return err
	}
	rec, err := pub.Record()
	if err != nil {
		return errs.E(errs.Internal, op, err)
	}
	rec.CreatedBy = p.TokenID
	err = a.store.InTx(ctx, func(tx store.Store) error {
		repo, err := repoByName(ctx, tx, repoName)
		if err != nil {
			return err
		}
		if repo.Kind != registry.Hosted {
			return errs.Errorf(errs.Invalid, op,
				"repository '%s' is a %s repository: trusted publishers upload, so they belong to hosted repositories", repoName, repo.Kind)
		}
		exists, err := projectExists(ctx, tx, repo.ID, pub.Project)
		if err != nil {
			return err
		}
		switch {
		case pub.Pending && exists:
			return errs.Errorf(errs.Invalid, op,
				"project exists: add a normal publisher (without pending) for '%s' in repository '%s'", pub.Project, repoName)
		case !pub.Pending && !exists:
			// A normal publisher only trusts a CI job with a project that
			// someone already owns; creating one is what pending is for,
			// so the two cannot be confused (PyPI draws the same line).
			return errs.Errorf(errs.Invalid, op,
				"project '%s' does not exist in repository '%s': add a pending publisher (\"pending\": true, or --pending) so its first publish creates it",
				pub.Project, repoName)
		}
		same, err := tx.Publishers().List(ctx, repoName, pub.Project)
		if err != nil {
			return err
		}
		for _, e := range same {
			if e.Kind == rec.Kind && e.Issuer == rec.Issuer && string(e.Config) == string(rec.Config) {
				return errs.Errorf(errs.Conflict, op, "an identical publisher already exists for '%s' in repository '%s' (id %d)", pub.Project, repoName, e.ID)
			}
		}
		if err := tx.Publishers().Create(ctx, &rec); err != nil {
			return err
		}
		pub.ID, pub.CreatedAt = rec.ID, rec.CreatedAt
		return a.audit(ctx, tx, registry.AuditEvent{
			Actor: p.TokenID, Action: "publisher.add", Repo: repoName, Project: pub.Project,
			Target: strconv.FormatInt(rec.ID, 10), Detail: publisherDetail(pub),
		})
	})
	if err != nil {
		return err
	}
	a.log.InfoContext(ctx, "trusted publisher added", "publisher_id", pub.ID, "repo", pub.Repo,
		"project", pub.Project, "kind", pub.Kind, "issuer", pub.IssuerURL(), "by", p.TokenID)
	return writeJSON(w, http.StatusCreated, PublisherInfo{Publisher: pub, CreatedBy: rec.CreatedBy})
}

// validatePublisher runs oidc's checks and adds the project-name rule the
// upload form applies (raw is the name as given, before normalising).
func validatePublisher(pub oidc.Publisher, raw string) error {
	err := pub.Validate()
	if raw != "" && !pypi.ValidName(raw) {
		nameErr := fmt.Errorf("project: %q is not a valid project name: use ASCII letters and digits, with '.', '_' and '-' inside", raw)
		if err == nil {
			return errs.E(errs.Invalid, "adminapi.addPublisher", nameErr)
		}
		return errs.E(errs.Invalid, "adminapi.addPublisher", errors.Join(nameErr, errors.Unwrap(err)))
	}
	return err
}

func projectExists(ctx context.Context, st store.Store, repoID int64, project string) (bool, error) {
	_, err := st.Projects().Get(ctx, repoID, project)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// listPublishers lists publishers, ordered by ID. An unrestricted admin
// sees all of them; a narrower admin token sees those of the repositories
// and projects it administers.
func (a *API) listPublishers(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	const op = "adminapi.listPublishers"
	ctx := r.Context()
	q := r.URL.Query()
	repo, project := q.Get("repo"), q.Get("project")
	if project != "" {
		project = pypi.Normalize(project)
	}
	if !p.Scope.AllowsAction(registry.Admin) {
		return errs.Errorf(errs.PermissionDenied, op, "The given token does not have the '%s' permission.", registry.Admin)
	}
	if repo != "" {
		// Say so when the token cannot see the named repository at all.
		// A project-limited token asking for the whole repository is not
		// refused but filtered below.
		if err := p.Check(registry.Admin, repo, project); err != nil && (project != "" || len(p.Scope.Projects) == 0) {
			return err
		}
		if _, err := repoByName(ctx, a.store, repo); err != nil {
			return err
		}
	}
	recs, err := a.store.Publishers().List(ctx, repo, project)
	if err != nil {
		return err
	}
	out := make([]PublisherInfo, 0, len(recs))
	for _, rec := range recs {
		if p.Check(registry.Admin, rec.Repo, rec.Project) != nil {
			continue
		}
		pub, err := oidc.FromRecord(rec)
		if err != nil {
			// Show what is known rather than hiding a publisher that no
			// longer decodes: it still has to be removable.
			a.log.ErrorContext(ctx, "stored publisher does not decode", "publisher_id", rec.ID, "error", err)
			pub = oidc.Publisher{ID: rec.ID, Repo: rec.Repo, Project: rec.Project, Pending: rec.Pending, Kind: rec.Kind, CreatedAt: rec.CreatedAt}
		}
		out = append(out, PublisherInfo{Publisher: pub, CreatedBy: rec.CreatedBy})
	}
	return writeJSON(w, http.StatusOK, out)
}

// removePublisher deletes a publisher by ID.
func (a *API) removePublisher(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	const op = "adminapi.removePublisher"
	ctx := r.Context()
	if !p.Scope.AllowsAction(registry.Admin) {
		return errs.Errorf(errs.PermissionDenied, op, "The given token does not have the '%s' permission.", registry.Admin)
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return errs.Errorf(errs.Invalid, op, "publisher ID %q is not a number ('wharf publisher list' shows the IDs)", r.PathValue("id"))
	}
	notFound := errs.Errorf(errs.NotFound, op, "publisher %d does not exist ('wharf publisher list' shows the IDs)", id)
	var pub oidc.Publisher
	err = a.store.InTx(ctx, func(tx store.Store) error {
		rec, err := tx.Publishers().Get(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return notFound
		}
		if err != nil {
			return err
		}
		if err := p.Check(registry.Admin, rec.Repo, rec.Project); err != nil {
			return err
		}
		if pub, err = oidc.FromRecord(rec); err != nil {
			pub = oidc.Publisher{ID: rec.ID, Repo: rec.Repo, Project: rec.Project, Pending: rec.Pending, Kind: rec.Kind}
		}
		if err := tx.Publishers().Delete(ctx, id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return notFound
			}
			return err
		}
		return a.audit(ctx, tx, registry.AuditEvent{
			Actor: p.TokenID, Action: "publisher.remove", Repo: rec.Repo, Project: rec.Project,
			Target: strconv.FormatInt(id, 10), Detail: publisherDetail(pub),
		})
	})
	if err != nil {
		return err
	}
	a.log.InfoContext(ctx, "trusted publisher removed", "publisher_id", id, "repo", pub.Repo, "project", pub.Project, "by", p.TokenID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// publisherDetail describes a publisher for the audit log: the identity it
// trusts, never claim values of generic publishers (only their names), so
// the log says what changed without copying configuration wholesale.
func publisherDetail(p oidc.Publisher) map[string]string {
	d := map[string]string{"kind": p.Kind, "issuer": p.IssuerURL(), "pending": boolString(p.Pending)}
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
