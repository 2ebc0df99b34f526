package adminapi

import (
	"context"

	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/repos"
)

// repoView is a repository as the API shows it, with its effective
// settings (defaults filled in, so a reader sees the TTLs in force).
func (a *API) repoView(ctx context.Context, r registry.Repository) (Repo, error) {
	rs, err := repos.StoredSettings(ctx, a.store, r)
	if err != nil {
		return repoOf(r), err
	}
	return repoView(r, rs), nil
}

func repoView(r registry.Repository, rs registry.RepoSettings) Repo {
	out := repoOf(r)
	eff := repos.Effective(r, rs)
	out.Remote, out.Virtual = eff.Remote, eff.Virtual
	return out
}
