package adminapi

import (
	"context"
	"net/http"

	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/repos"
	"github.com/wharf-dev/wharf/internal/store"
)

func repoOf(r registry.Repository) Repo {
	return Repo{Name: r.Name, Kind: string(r.Kind), Public: r.Public, Description: r.Description, CreatedAt: r.CreatedAt}
}

// repoByName loads a repository from st (the API's store, or a
// transaction), turning "not found" into a message naming it.
func repoByName(ctx context.Context, st store.Store, name string) (registry.Repository, error) {
	return repos.ByName(ctx, st, name)
}

// listRepos lists the repositories the token can read: all of them for an
// unrestricted token, the named ones for a repository-scoped one.
func (a *API) listRepos(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if !p.Scope.AllowsAction(registry.Read) {
		return errs.Errorf(errs.PermissionDenied, "adminapi", "The given token does not have the '%s' permission.", registry.Read)
	}
	all, err := a.store.Repos().List(r.Context())
	if err != nil {
		return err
	}
	out := make([]Repo, 0, len(all))
	for _, repo := range all {
		if p.Check(registry.Read, repo.Name, "") == nil {
			v, err := a.repoView(r.Context(), repo)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) createRepo(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if err := requireGlobalAdmin(p); err != nil {
		return err
	}
	var req CreateRepoRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	repo, err := a.repos.Create(r.Context(), p.TokenID, repos.Spec{
		Name: req.Name, Kind: registry.RepoKind(req.Kind), Public: req.Public, Description: req.Description,
		Remote: req.Remote, Virtual: req.Virtual,
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, repoView(repo.Repository, repo.Settings))
}

func (a *API) getRepo(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	name := r.PathValue("repo")
	if err := p.Check(registry.Read, name, ""); err != nil {
		return err
	}
	repo, err := repoByName(r.Context(), a.store, name)
	if err != nil {
		return err
	}
	v, err := a.repoView(r.Context(), repo)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (a *API) updateRepo(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	name := r.PathValue("repo")
	if err := p.Check(registry.Admin, name, ""); err != nil {
		return err
	}
	var req UpdateRepoRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	repo, err := a.repos.Update(r.Context(), p.TokenID, name, repos.Change{
		Public: req.Public, Description: req.Description, Remote: req.Remote, Virtual: req.Virtual,
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, repoView(repo.Repository, repo.Settings))
}

func (a *API) deleteRepo(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	name := r.PathValue("repo")
	if err := p.Check(registry.Admin, name, ""); err != nil {
		return err
	}
	if err := a.repos.Delete(r.Context(), p.TokenID, name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
