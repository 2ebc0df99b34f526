package adminapi

import (
	"context"
	"errors"
	"net/http"
	"unicode/utf8"

	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

const maxRepoDescription = 500

func repoOf(r registry.Repository) Repo {
	return Repo{Name: r.Name, Kind: string(r.Kind), Public: r.Public, Description: r.Description, CreatedAt: r.CreatedAt}
}

// repoByName loads a repository from st (the API's store, or a
// transaction), turning "not found" into a message naming it.
func repoByName(ctx context.Context, st store.Store, name string) (registry.Repository, error) {
	repo, err := st.Repos().Get(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return repo, errs.Errorf(errs.NotFound, "adminapi", "repository '%s' does not exist", name)
	}
	return repo, err
}

// listRepos lists the repositories the token can read: all of them for an
// unrestricted token, the named ones for a repository-scoped one.
func (a *API) listRepos(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if !p.Scope.AllowsAction(registry.Read) {
		return errs.Errorf(errs.PermissionDenied, "adminapi", "The given token does not have the '%s' permission.", registry.Read)
	}
	repos, err := a.store.Repos().List(r.Context())
	if err != nil {
		return err
	}
	out := make([]Repo, 0, len(repos))
	for _, repo := range repos {
		if p.Check(registry.Read, repo.Name, "") == nil {
			v, err := a.repoView(r.Context(), a.store, repo)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) createRepo(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	const op = "adminapi.createRepo"
	if err := requireGlobalAdmin(p); err != nil {
		return err
	}
	var req CreateRepoRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if !registry.ValidRepoName(req.Name) {
		return errs.Errorf(errs.Invalid, op,
			"invalid repository name %q: use up to 64 lower-case letters, digits, '.', '_' and '-', starting with a letter or digit, and not one of the reserved words %v",
			req.Name, registry.ReservedNames)
	}
	kind, err := repoKind(req.Kind)
	if err != nil {
		return err
	}
	if err := checkDescription(req.Description); err != nil {
		return err
	}
	repo := registry.Repository{Name: req.Name, Kind: kind, Public: req.Public, Description: req.Description}
	var view Repo
	err = a.store.InTx(r.Context(), func(tx store.Store) error {
		settings, err := checkSettings(r.Context(), tx, req.Name, kind, req.Remote, req.Virtual)
		if err != nil {
			return err
		}
		if err := tx.Repos().Create(r.Context(), &repo); err != nil {
			if errors.Is(err, store.ErrExists) {
				return errs.Errorf(errs.Conflict, op, "repository '%s' already exists", req.Name)
			}
			return err
		}
		if settings != nil {
			if err := tx.Remote().PutSettings(r.Context(), repo.ID, settings); err != nil {
				return err
			}
		}
		detail := map[string]string{"kind": string(repo.Kind), "public": boolString(repo.Public)}
		settingsDetail(detail, settings)
		if err := a.audit(r.Context(), tx, registry.AuditEvent{
			Actor: p.TokenID, Action: "repo.create", Repo: repo.Name, Detail: detail,
		}); err != nil {
			return err
		}
		view, err = a.repoView(r.Context(), tx, repo)
		return err
	})
	if err != nil {
		return err
	}
	// A cached "does not exist" elsewhere must not outlive the creation.
	a.repoChanged(repo.Name)
	return writeJSON(w, http.StatusCreated, view)
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
	v, err := a.repoView(r.Context(), a.store, repo)
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
	if req.Description != nil {
		if err := checkDescription(*req.Description); err != nil {
			return err
		}
	}
	var repo registry.Repository
	var view Repo
	err := a.store.InTx(r.Context(), func(tx store.Store) error {
		var err error
		if repo, err = repoByName(r.Context(), tx, name); err != nil {
			return err
		}
		detail := map[string]string{}
		if req.Remote != nil || req.Virtual != nil {
			settings, err := checkSettings(r.Context(), tx, name, repo.Kind, req.Remote, req.Virtual)
			if err != nil {
				return err
			}
			if err := tx.Remote().PutSettings(r.Context(), repo.ID, settings); err != nil {
				return err
			}
			settingsDetail(detail, settings)
		}
		if req.Public != nil {
			repo.Public = *req.Public
			detail["public"] = boolString(repo.Public)
		}
		if req.Description != nil {
			repo.Description = *req.Description
			detail["description"] = repo.Description
		}
		if err := tx.Repos().Update(r.Context(), repo); err != nil {
			return err
		}
		if err := a.audit(r.Context(), tx, registry.AuditEvent{Actor: p.TokenID, Action: "repo.update", Repo: name, Detail: detail}); err != nil {
			return err
		}
		view, err = a.repoView(r.Context(), tx, repo)
		return err
	})
	if err != nil {
		return err
	}
	a.changed(repo)
	return writeJSON(w, http.StatusOK, view)
}

func (a *API) deleteRepo(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	name := r.PathValue("repo")
	if err := p.Check(registry.Admin, name, ""); err != nil {
		return err
	}
	var repo registry.Repository
	err := a.store.InTx(r.Context(), func(tx store.Store) error {
		var err error
		if repo, err = repoByName(r.Context(), tx, name); err != nil {
			return err
		}
		if err := tx.Repos().Delete(r.Context(), name); err != nil {
			return err
		}
		return a.audit(r.Context(), tx, registry.AuditEvent{Actor: p.TokenID, Action: "repo.delete", Repo: name})
	})
	if err != nil {
		return err
	}
	a.changed(repo)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func checkDescription(d string) error {
	if utf8.RuneCountInString(d) > maxRepoDescription {
		return errs.Errorf(errs.Invalid, "adminapi", "the description is longer than %d characters", maxRepoDescription)
	}
	return nil
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
