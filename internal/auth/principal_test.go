package auth

import (
	"testing"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/glob"
	"github.com/wharf-dev/wharf/internal/registry"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	acts := func(a ...registry.Action) []registry.Action { return a }
	uploadAcme := Principal{TokenID: "t1", Scope: registry.Scope{Actions: acts(registry.Upload), Repos: []string{"main"}, Projects: []string{"acme-*", "tool"}}}
	readAll := Principal{Scope: registry.Scope{Actions: acts(registry.Read)}}
	admin := Principal{Scope: registry.Scope{Actions: acts(registry.Admin), Repos: []string{"main"}}}
	for _, tt := range []struct {
		name    string
		p       Principal
		action  registry.Action
		repo    string
		project string
		want    string // "" means allowed
	}{
		{"upload matching glob", uploadAcme, registry.Upload, "main", "acme-utils", ""},
		{"upload glob matches non-normalised name", uploadAcme, registry.Upload, "main", "Acme_Utils", ""},
		{"upload exact name", uploadAcme, registry.Upload, "main", "tool", ""},
		{"upload exact name other spelling", uploadAcme, registry.Upload, "main", "TOOL", ""},
		{"upload glob empty tail", uploadAcme, registry.Upload, "main", "acme-", ""},
		{"upload other project", uploadAcme, registry.Upload, "main", "foo", "The given token isn't allowed to upload to project 'foo'."},
		{"prefix is not the name", uploadAcme, registry.Upload, "main", "tools", "The given token isn't allowed to upload to project 'tools'."},
		{"glob needs its prefix", uploadAcme, registry.Upload, "main", "acme", "The given token isn't allowed to upload to project 'acme'."},
		{"upload other repo", uploadAcme, registry.Upload, "bar", "acme-utils", "The given token isn't allowed to access repository 'bar'."},
		{"missing action", uploadAcme, registry.Yank, "main", "acme-utils", "The given token does not have the 'yank' permission."},
		{"upload token cannot read", uploadAcme, registry.Read, "main", "acme-utils", "The given token does not have the 'read' permission."},
		{"project-limited repo-level read", Principal{Scope: registry.Scope{Actions: acts(registry.Read), Projects: []string{"acme-*"}}}, registry.Read, "main", "", ""},
		{"project-limited repo-level delete", Principal{Scope: registry.Scope{Actions: acts(registry.Delete), Projects: []string{"acme-*"}}}, registry.Delete, "main", "",
			"The given token is limited to some projects and isn't allowed to delete repository 'main' as a whole."},
		{"project-limited not on other project delete", Principal{Scope: registry.Scope{Actions: acts(registry.Delete), Projects: []string{"acme-*"}}}, registry.Delete, "main", "x",
			"The given token isn't allowed to delete from project 'x'."},
		{"yank message", Principal{Scope: registry.Scope{Actions: acts(registry.Yank), Projects: []string{"a"}}}, registry.Yank, "main", "b",
			"The given token isn't allowed to yank releases of project 'b'."},
		{"read message", Principal{Scope: registry.Scope{Actions: acts(registry.Read), Projects: []string{"a"}}}, registry.Read, "main", "b",
			"The given token isn't allowed to read project 'b'."},
		{"admin message", Principal{Scope: registry.Scope{Actions: acts(registry.Admin), Projects: []string{"a"}}}, registry.Admin, "main", "",
			"The given token is limited to some projects and isn't allowed to administer repository 'main' as a whole."},
		{"read all repos", readAll, registry.Read, "anything", "anyproject", ""},
		{"read all, repo level", readAll, registry.Read, "anything", "", ""},
		{"read cannot upload", readAll, registry.Upload, "main", "x", "The given token does not have the 'upload' permission."},
		{"admin implies upload", admin, registry.Upload, "main", "x", ""},
		{"admin implies delete repo", admin, registry.Delete, "main", "", ""},
		{"admin implies admin", admin, registry.Admin, "main", "", ""},
		{"admin still bound to repos", admin, registry.Upload, "other", "x", "The given token isn't allowed to access repository 'other'."},
		{"no actions at all", Principal{}, registry.Read, "main", "", "The given token does not have the 'read' permission."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.p.Check(tt.action, tt.repo, tt.project)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Check: %v, want allowed", err)
				}
				return
			}
			if !errs.Is(err, errs.PermissionDenied) {
				t.Fatalf("err = %v, want PermissionDenied", err)
			}
			if got := errs.Message(err); got != tt.want {
				t.Errorf("message = %q\nwant      %q", got, tt.want)
			}
		})
	}
}

func TestAllowsProject(t *testing.T) {
	t.Parallel()
	p := Principal{Scope: registry.Scope{Actions: []registry.Action{registry.Read}, Projects: []string{"acme-*"}}}
	if !p.AllowsProject("ACME.core") || p.AllowsProject("other") {
		t.Error("AllowsProject does not follow the patterns")
	}
	if !(Principal{}).AllowsProject("anything") {
		t.Error("no patterns should allow every project")
	}
}

func TestMatchGlob(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		pat, name string
		want      bool
	}{
		{"foo", "foo", true},
		{"foo", "foobar", false},
		{"foo", "fo", false},
		{"*", "", true},
		{"*", "anything", true},
		{"acme-*", "acme-", true},
		{"acme-*", "acme-x-y", true},
		{"acme-*", "acme", false},
		{"*-utils", "acme-utils", true},
		{"*-utils", "acme-utils-x", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYc-d", false},
		{"**", "x", true},
		{"a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
		{"", "", true},
		{"", "x", false},
	} {
		if got := glob.Match(tt.pat, tt.name); got != tt.want {
			t.Errorf("glob.Match(%q, %q) = %v, want %v", tt.pat, tt.name, got, tt.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"foo":             "foo",
		"Foo":             "foo",
		"foo_bar":         "foo-bar",
		"Foo.Bar--baz___": "foo-bar-baz-",
		"a-_.-b":          "a-b",
		"a--b":            "a-b",
		"Acme_*":          "acme-*",
		"":                "",
	} {
		if got := normalize(in); got != want {
			t.Errorf("normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

// Not parallel: AllocsPerRun refuses to run in parallel tests.
func TestNormalizeNoAlloc(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = normalize("acme-utils") }); n != 0 {
		t.Errorf("normalize of a normal name allocates %v times", n)
	}
}
