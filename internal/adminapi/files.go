package adminapi

import (
	"net/http"

	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/hosted"
)

// target checks the caller's permission for action on the path's project,
// then resolves the repository. The check comes first so a token without
// access cannot probe which repositories exist.
func (a *API) target(r *http.Request, p auth.Principal, action registry.Action) (hosted.Target, error) {
	name, project := r.PathValue("repo"), r.PathValue("project")
	if err := p.Check(action, name, project); err != nil {
		return hosted.Target{}, err
	}
	repo, err := repoByName(r.Context(), a.store, name)
	if err != nil {
		return hosted.Target{}, err
	}
	if repo.Kind != registry.Hosted {
		return hosted.Target{}, errs.Errorf(errs.Invalid, "adminapi",
			"repository '%s' is a %s repository: only hosted repositories have releases to %s", name, repo.Kind, action)
	}
	return hosted.Target{
		Repo: repo, Project: project, Version: r.PathValue("version"),
		Filename: r.PathValue("filename"), Actor: p.TokenID,
	}, nil
}

func (a *API) yank(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	t, err := a.target(r, p, registry.Yank)
	if err != nil {
		return err
	}
	var req YankRequest
	// The body is optional: a yank without a reason is allowed.
	if err := decodeOptional(r, &req); err != nil {
		return err
	}
	t.Reason = req.Reason
	n, err := a.hosted.SetYanked(r.Context(), t, true)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, Changed{Files: n})
}

func (a *API) unyank(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	t, err := a.target(r, p, registry.Yank)
	if err != nil {
		return err
	}
	n, err := a.hosted.SetYanked(r.Context(), t, false)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, Changed{Files: n})
}

// deleteProject, deleteRelease and deleteFile share one handler: the
// route's path values say how much to delete.
func (a *API) deleteProject(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return a.remove(w, r, p)
}

func (a *API) deleteRelease(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return a.remove(w, r, p)
}

func (a *API) deleteFile(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return a.remove(w, r, p)
}

func (a *API) remove(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	t, err := a.target(r, p, registry.Delete)
	if err != nil {
		return err
	}
	n, err := a.hosted.Delete(r.Context(), t)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, Changed{Files: n})
}
