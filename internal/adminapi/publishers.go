package adminapi

import (
	"net/http"
	"strconv"

	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/oidc"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
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
	if err := p.Check(registry.Admin, repoName, pub.Project); err != nil {
		return err
	}
	pub.Project = raw // the service normalises it
	pub, err := a.publishers.Add(ctx, p.TokenID, pub)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, PublisherInfo{Publisher: pub, CreatedBy: p.TokenID})
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
	_, err = a.publishers.Remove(ctx, p.TokenID, id, func(rec registry.PublisherRecord) error {
		return p.Check(registry.Admin, rec.Repo, rec.Project)
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
