package adminapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/adminapi"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

func TestCreateRemoteAndVirtual(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	c := e.client(e.admin)

	// Defaults are shown filled in; the upstream gets its trailing slash
	// and cooldown exceptions their normalised names.
	made, err := c.CreateRepo(ctx, adminapi.CreateRepoRequest{Name: "corp", Kind: "remote", Public: true,
		Remote: &registry.RemoteSettings{Upstream: "https://pkgs.example.com/simple", Auth: "basic", Username: "ci",
			Secret: "corp-pw", SecretVersion: "2", MinReleaseAge: registry.Duration(72 * time.Hour),
			CooldownExceptions: []string{"Foo_Bar", "foo-bar"}}})
	if err != nil {
		t.Fatal(err)
	}
	wantRemote := &registry.RemoteSettings{Upstream: "https://pkgs.example.com/simple/", Auth: "basic", Username: "ci",
		Secret: "corp-pw", SecretVersion: "2", TTL: registry.Duration(10 * time.Minute), NegativeTTL: registry.Duration(time.Minute),
		StaleMaxAge: registry.Duration(7 * 24 * time.Hour), MinReleaseAge: registry.Duration(72 * time.Hour),
		CooldownExceptions: []string{"foo-bar"}}
	if diff := cmp.Diff(adminapi.Repo{Name: "corp", Kind: "remote", Public: true, CreatedAt: epoch, Remote: wantRemote}, made); diff != "" {
		t.Errorf("created remote (-want +got):\n%s", diff)
	}
	pypiRepo, err := c.CreateRepo(ctx, adminapi.CreateRepoRequest{Name: "pypi", Kind: "remote", Public: true})
	if err != nil {
		t.Fatal(err)
	}
	if pypiRepo.Remote == nil || pypiRepo.Remote.Upstream != registry.DefaultUpstream || pypiRepo.Remote.Auth != "none" {
		t.Errorf("remote without settings: %+v, want a cache of %s without auth", pypiRepo.Remote, registry.DefaultUpstream)
	}

	// local is private: a public virtual repository over it is refused
	// (see TestRepoSettingsRefused), a private one is fine.
	v, err := c.CreateRepo(ctx, adminapi.CreateRepoRequest{Name: "all", Kind: "virtual", Public: false,
		Virtual: &registry.VirtualSettings{Members: []string{"local", "corp", "pypi"}, UploadTo: "local", Merge: []string{"Zope.Interface"}}})
	if err != nil {
		t.Fatal(err)
	}
	wantVirtual := &registry.VirtualSettings{Members: []string{"local", "corp", "pypi"}, UploadTo: "local", Merge: []string{"zope-interface"}}
	if diff := cmp.Diff(wantVirtual, v.Virtual); diff != "" {
		t.Errorf("created virtual (-want +got):\n%s", diff)
	}
	got, err := c.GetRepo(ctx, "all")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(v, got); diff != "" {
		t.Errorf("get virtual (-created +got):\n%s", diff)
	}
	list, err := c.ListRepos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, r := range list {
		kinds[r.Name] = r.Kind
		if (r.Kind == "remote") != (r.Remote != nil) || (r.Kind == "virtual") != (r.Virtual != nil) {
			t.Errorf("list: %s is %s with settings remote=%v virtual=%v", r.Name, r.Kind, r.Remote, r.Virtual)
		}
	}
	if diff := cmp.Diff(map[string]string{"all": "virtual", "corp": "remote", "local": "hosted", "other": "hosted", "pypi": "remote"}, kinds); diff != "" {
		t.Errorf("list kinds (-want +got):\n%s", diff)
	}

	// PATCH replaces the settings and checks them as creation does.
	upd, err := c.UpdateRepo(ctx, "corp", adminapi.UpdateRepoRequest{Remote: &registry.RemoteSettings{
		Upstream: "https://pkgs.example.com/simple/", Auth: "token", Secret: "corp-token", TTL: registry.Duration(time.Minute)}})
	if err != nil {
		t.Fatal(err)
	}
	if upd.Remote.Auth != "token" || upd.Remote.Secret != "corp-token" || upd.Remote.TTL.D() != time.Minute || upd.Remote.MinReleaseAge != 0 {
		t.Errorf("after PATCH: %+v", upd.Remote)
	}
	if _, err := c.UpdateRepo(ctx, "all", adminapi.UpdateRepoRequest{Virtual: &registry.VirtualSettings{Members: []string{"pypi", "local"}}}); err != nil {
		t.Fatal(err)
	}
	got, err = c.GetRepo(ctx, "all")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&registry.VirtualSettings{Members: []string{"pypi", "local"}}, got.Virtual); diff != "" {
		t.Errorf("virtual after PATCH (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"repo.create ", "repo.update "}, e.auditActions(t, store.AuditFilter{Repo: "corp"})); diff != "" {
		t.Errorf("audit of corp (-want +got):\n%s", diff)
	}
}

func TestRepoSettingsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	c := e.client(e.admin)
	mk := func(name string, members ...string) {
		t.Helper()
		if _, err := c.CreateRepo(ctx, adminapi.CreateRepoRequest{Name: name, Kind: "virtual", Virtual: &registry.VirtualSettings{Members: members}}); err != nil {
			t.Fatal(err)
		}
	}
	mk("v1", "local")
	mk("v2", "v1", "other")
	if _, err := c.CreateRepo(ctx, adminapi.CreateRepoRequest{Name: "cache", Kind: "remote", Public: true}); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name string
		call func() error
		msg  string
	}{
		{"unknown kind", func() error {
			_, err := c.CreateRepo(ctx, adminapi.CreateRepoRequest{Name: "x", Kind: "mirror"})
			return err
		}, `unknown repository kind "mirror"`},
		{"hosted with settings", func() error {
			_, err := c.CreateRepo(ctx, adminapi.CreateRepoRequest{Name: "x", Remote: &registry.RemoteSettings{}})
			return err
		}, "is hosted"},
		{"remote with virtual settings", func() error {
			_, err := c.CreateRepo(ctx, adminapi.CreateRepoRequest{Name: "x", Kind: "remote", Virtual: &registry.VirtualSettings{Members: []string{"local"}}})
			return err
		}, "give remote settings"},
		{"bad upstream", func() error {
			_, err := c.CreateRepo(ctx, adminapi.CreateRepoRequest{Name: "x", Kind: "remote", Remote: &registry.RemoteSettings{Upstream: "ftp://example.com/"}})
			return err
		}, "is not an http(s) URL"},
		{"credentials in the URL", func() error {
			_, err := c.CreateRepo(ctx, adminapi.CreateRepoRequest{Name: "x", Kind: "remote", Remote: &registry.RemoteSettings{Upstream: "https://u:p@example.com/simple/"}})
			return err
		}, "put the password in a secret"},
		{"basic without secret", func() error {
			_, err := c.CreateRepo(ctx, adminapi.CreateRepoRequest{Name: "x", Kind: "remote", Remote: &registry.RemoteSettings{Auth: "basic", Username: "u"}})
			return err
		}, "auth basic needs a username and a secret"},
		{"missing member", func() error {
			_, err := c.CreateRepo(ctx, adminapi.CreateRepoRequest{Name: "x", Kind: "virtual", Virtual: &registry.VirtualSettings{Members: []string{"local", "nope"}}})
			return err
		}, "member 'nope' of virtual repository 'x' does not exist"},
		{"self member", func() error {
			_, err := c.CreateRepo(ctx, adminapi.CreateRepoRequest{Name: "x", Kind: "virtual", Virtual: &registry.VirtualSettings{Members: []string{"x"}}})
			return err
		}, "cycle"},
		{"cycle through PATCH", func() error {
			_, err := c.UpdateRepo(ctx, "v1", adminapi.UpdateRepoRequest{Virtual: &registry.VirtualSettings{Members: []string{"local", "v2"}}})
			return err
		}, "would form a cycle: v1 -> v2 -> v1"},
		{"upload to a remote member", func() error {
			_, err := c.CreateRepo(ctx, adminapi.CreateRepoRequest{Name: "x", Kind: "virtual", Virtual: &registry.VirtualSettings{Members: []string{"local", "cache"}, UploadTo: "cache"}})
			return err
		}, "must be a hosted repository"},
		{"virtual settings on a remote", func() error {
			_, err := c.UpdateRepo(ctx, "cache", adminapi.UpdateRepoRequest{Virtual: &registry.VirtualSettings{Members: []string{"local"}}})
			return err
		}, "give remote settings"},
		{"public virtual over a private member", func() error {
			_, err := c.CreateRepo(ctx, adminapi.CreateRepoRequest{Name: "x", Kind: "virtual", Public: true, Virtual: &registry.VirtualSettings{Members: []string{"cache", "local"}}})
			return err
		}, "virtual repository 'x' is public but its member 'local' is private"},
		{"public virtual over a private one", func() error {
			_, err := c.CreateRepo(ctx, adminapi.CreateRepoRequest{Name: "x", Kind: "virtual", Public: true, Virtual: &registry.VirtualSettings{Members: []string{"v2"}}})
			return err
		}, "its member 'v2' is private"},
		{"made public over a private member", func() error {
			pub := true
			_, err := c.UpdateRepo(ctx, "v1", adminapi.UpdateRepoRequest{Public: &pub})
			return err
		}, "Make 'v1' private"},
		{"settings on a hosted repository", func() error {
			_, err := c.UpdateRepo(ctx, "local", adminapi.UpdateRepoRequest{Remote: &registry.RemoteSettings{}})
			return err
		}, "is hosted"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("got %v (%v), want invalid containing %q", err, errs.KindOf(err), tt.msg)
			}
		})
	}
	// Nothing refused was created, and v1 kept its members.
	if _, err := c.GetRepo(ctx, "x"); !errs.Is(err, errs.NotFound) {
		t.Errorf("refused repository exists: %v", err)
	}
	v1, err := c.GetRepo(ctx, "v1")
	if err != nil || v1.Virtual == nil || !cmp.Equal(v1.Virtual.Members, []string{"local"}) {
		t.Errorf("v1 after a refused PATCH: %+v, %v", v1.Virtual, err)
	}
}
