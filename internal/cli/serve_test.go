package cli

import (
	"testing"

	"github.com/wharf-dev/wharf/internal/registry"
)

// The start banner names only repositories that exist.
func TestStartHints(t *testing.T) {
	t.Parallel()
	repo := func(name string, kind registry.RepoKind) registry.Repository {
		return registry.Repository{Name: name, Kind: kind}
	}
	for _, tc := range []struct {
		name        string
		repos       []registry.Repository
		index, upld string
	}{
		{"embedded default", []registry.Repository{repo("all", registry.Virtual), repo("local", registry.Hosted), repo("pypi", registry.Remote)}, "all", "local"},
		{"no all", []registry.Repository{repo("internal", registry.Hosted), repo("pypi", registry.Remote)}, "internal", "internal"},
		{"another virtual", []registry.Repository{repo("prod", registry.Hosted), repo("team", registry.Virtual), repo("local", registry.Hosted)}, "team", "local"},
		{"remote only", []registry.Repository{repo("mirror", registry.Remote)}, "mirror", ""},
		{"nothing", nil, "", ""},
	} {
		index, upload := startHints(tc.repos)
		if index.Name != tc.index || upload != tc.upld {
			t.Errorf("%s: startHints = %q, %q; want %q, %q", tc.name, index.Name, upload, tc.index, tc.upld)
		}
	}
}
