package ui

import (
	"context"

	"github.com/wharf-dev/wharf/internal/registry"
)

// What a viewer may see is decided exactly as the PyPI API decides it
// (httpapi's readable): public repositories are open to everyone; a
// private one needs a token whose auth.Principal.Check allows reading it,
// and a token limited to some projects sees only those.

// canRead reports whether the viewer may read the repository's pages.
func (v *viewer) canRead(repo registry.Repository) bool {
	if repo.Public {
		return true
	}
	return v.principal != nil && v.principal.Check(registry.Read, repo.Name, "") == nil
}

// canReadProject reports whether the viewer may read one project.
func (v *viewer) canReadProject(repo registry.Repository, project string) bool {
	if repo.Public {
		return true
	}
	return v.principal != nil && v.principal.Check(registry.Read, repo.Name, project) == nil
}

// only is the listing filter for the viewer in repo: nil when the viewer
// may read every project there.
func (v *viewer) only(repo registry.Repository) func(project string) bool {
	p := v.principal
	if repo.Public || p == nil || (len(p.Scope.Projects) == 0 && len(p.Scope.Bindings) == 0) {
		return nil
	}
	return func(project string) bool { return p.Check(registry.Read, repo.Name, project) == nil }
}

// may reports whether the viewer's token allows action on the project
// (buttons are shown only then; the write path checks again).
func (v *viewer) may(action registry.Action, repo, project string) bool {
	return v.principal != nil && v.principal.Check(action, repo, project) == nil
}

// readableRepos lists the repositories the viewer may read.
func (u *UI) readableRepos(ctx context.Context, v *viewer) ([]registry.Repository, error) {
	all, err := u.cfg.Read.Repos(ctx)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, r := range all {
		if v.canRead(r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// repo returns a repository the viewer may read. One that exists but is
// not readable is "does not exist", the answer for a missing one, so
// nobody learns private names by guessing.
func (u *UI) repo(ctx context.Context, v *viewer, name string) (registry.Repository, error) {
	r, err := u.cfg.Read.Repo(ctx, name)
	if err != nil {
		return r, err
	}
	if !v.canRead(r) {
		return registry.Repository{}, errNoRepo(name)
	}
	return r, nil
}
