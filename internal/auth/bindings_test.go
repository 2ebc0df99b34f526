package auth

import (
	"testing"

	"github.com/wharf-dev/wharf/internal/registry"
)

func TestCheckBindings(t *testing.T) {
	t.Parallel()
	p := Principal{TokenID: "t", Scope: registry.Scope{
		Repos:    []string{"x", "y"},
		Projects: []string{"a", "b"},
		Actions:  []registry.Action{registry.Upload, registry.Read},
		Bindings: []registry.Binding{{Repo: "x", Project: "a"}, {Repo: "y", Project: "b"}},
	}}
	for _, tt := range []struct {
		action        registry.Action
		repo, project string
		ok            bool
	}{
		{registry.Upload, "x", "a", true},
		{registry.Upload, "x", "A", true}, // normalised
		{registry.Upload, "y", "b", true},
		{registry.Upload, "y", "a", false}, // cartesian product of Repos × Projects is not enough
		{registry.Upload, "x", "b", false},
		{registry.Read, "x", "", true},
		{registry.Upload, "x", "", false},
		{registry.Read, "z", "", false},
	} {
		err := p.Check(tt.action, tt.repo, tt.project)
		if (err == nil) != tt.ok {
			t.Errorf("Check(%s, %s, %q) = %v, want ok=%v", tt.action, tt.repo, tt.project, err, tt.ok)
		}
	}
	if _, err := NormalizeScope(registry.Scope{Actions: []registry.Action{registry.Upload}, Bindings: []registry.Binding{{Repo: "x", Project: "a*"}}}); err == nil {
		t.Error("NormalizeScope accepted a glob in a binding")
	}
}
