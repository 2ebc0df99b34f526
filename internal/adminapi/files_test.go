package adminapi_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/adminapi"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

func TestYankPermissions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addRelease(t, "local", "acme", "1.0", "acme-1.0-py3-none-any.whl")
	e.addRelease(t, "local", "other-lib", "2.0", "other_lib-2.0-py3-none-any.whl")
	e.addRelease(t, "other", "acme", "1.0", "acme-1.0-py3-none-any.whl")
	acmeYank := e.client(e.mint(t, registry.Scope{Repos: []string{"local"}, Projects: []string{"acme"}, Actions: []registry.Action{registry.Yank}}))
	uploader := e.client(e.mint(t, registry.Scope{Actions: []registry.Action{registry.Upload, registry.Read}}))
	ctx := t.Context()

	for _, tt := range []struct {
		name string
		c    *adminapi.Client
		repo string
		proj string
		kind errs.Kind
		msg  string
	}{
		{"other project", acmeYank, "local", "other-lib", errs.PermissionDenied, "isn't allowed to yank releases of project 'other-lib'"},
		{"other repo", acmeYank, "other", "acme", errs.PermissionDenied, "repository 'other'"},
		{"no yank action", uploader, "local", "acme", errs.PermissionDenied, "'yank' permission"},
		{"missing repo is not revealed", acmeYank, "secret", "acme", errs.PermissionDenied, "repository 'secret'"},
	} {
		_, err := tt.c.Yank(ctx, tt.repo, tt.proj, "1.0", "")
		if errs.KindOf(err) != tt.kind || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: %v, want %v containing %q", tt.name, err, tt.kind, tt.msg)
		}
	}

	// Any spelling of the project name works, as everywhere in PyPI.
	n, err := acmeYank.Yank(ctx, "local", "ACME", "1.0.0", "broken build")
	if err != nil || n != 1 {
		t.Fatalf("yank: %d, %v", n, err)
	}
	f, err := e.file(t, "local", "acme-1.0-py3-none-any.whl")
	if err != nil {
		t.Fatal(err)
	}
	if !f.Yanked || f.YankedReason != "broken build" {
		t.Errorf("after yank: yanked=%v reason=%q", f.Yanked, f.YankedReason)
	}
	if _, err := acmeYank.Yank(ctx, "local", "acme", "9.9", ""); !errs.Is(err, errs.NotFound) {
		t.Errorf("yanking a missing release: %v, want not found", err)
	}
	if _, err := acmeYank.Yank(ctx, "local", "acme", "not a version", ""); !errs.Is(err, errs.Invalid) {
		t.Errorf("yanking a bad version: %v, want invalid", err)
	}
	if _, err := acmeYank.DeleteRelease(ctx, "local", "acme", "1.0"); !errs.Is(err, errs.PermissionDenied) {
		t.Errorf("delete with a yank token: %v, want permission denied", err)
	}
	if n, err := acmeYank.Unyank(ctx, "local", "acme", "1.0"); err != nil || n != 1 {
		t.Fatalf("unyank: %d, %v", n, err)
	}
	if f, _ := e.file(t, "local", "acme-1.0-py3-none-any.whl"); f.Yanked {
		t.Error("still yanked after unyank")
	}

	evs, err := e.st.Audit().List(ctx, store.AuditFilter{Repo: "local", Project: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	who, _ := acmeYank.Whoami(ctx)
	var got []string
	for _, ev := range evs {
		got = append(got, ev.Action+" "+ev.Target+" "+ev.Actor)
	}
	want := []string{"release.unyank 1.0 " + who.TokenID, "release.yank 1.0.0 " + who.TokenID}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	e.addRelease(t, "local", "acme", "1.0", "acme-1.0-py3-none-any.whl", "acme-1.0.tar.gz")
	e.addRelease(t, "local", "acme", "2.0", "acme-2.0-py3-none-any.whl", "acme-2.0.tar.gz")
	deleter := e.client(e.mint(t, registry.Scope{Projects: []string{"acme*"}, Actions: []registry.Action{registry.Delete}}))

	if n, err := deleter.DeleteFile(ctx, "local", "acme", "1.0", "acme-1.0.tar.gz"); err != nil || n != 1 {
		t.Fatalf("delete file: %d, %v", n, err)
	}
	if _, err := e.file(t, "local", "acme-1.0.tar.gz"); !errs.Is(err, errs.NotFound) {
		t.Errorf("deleted file still there: %v", err)
	}
	if _, err := deleter.DeleteFile(ctx, "local", "acme", "1.0", "acme-1.0.tar.gz"); !errs.Is(err, errs.NotFound) {
		t.Errorf("deleting twice: %v, want not found", err)
	}
	if n, err := deleter.DeleteRelease(ctx, "local", "acme", "2.0"); err != nil || n != 2 {
		t.Fatalf("delete release: %d, %v", n, err)
	}
	if n, err := deleter.DeleteProject(ctx, "local", "acme"); err != nil || n != 1 {
		t.Fatalf("delete project: %d, %v", n, err)
	}
	if _, err := deleter.DeleteProject(ctx, "local", "acme"); !errs.Is(err, errs.NotFound) {
		t.Errorf("deleting a deleted project: %v, want not found", err)
	}
	if _, err := deleter.DeleteProject(ctx, "local", "zeta"); !errs.Is(err, errs.PermissionDenied) {
		t.Errorf("deleting outside the project scope: %v, want permission denied", err)
	}
	want := []string{"file.delete acme-1.0.tar.gz", "project.delete ", "release.delete 2.0"}
	if diff := cmp.Diff(want, e.auditActions(t, store.AuditFilter{Repo: "local"})); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

func TestAudit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	e.addRelease(t, "local", "acme", "1.0", "acme-1.0-py3-none-any.whl")
	e.addRelease(t, "other", "acme", "1.0", "acme-1.0-py3-none-any.whl")
	admin := e.client(e.admin)
	for _, repo := range []string{"local", "other"} {
		if _, err := admin.Yank(ctx, repo, "acme", "1.0", "r"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := admin.CreateToken(ctx, adminapi.CreateTokenRequest{Actions: []registry.Action{registry.Read}}); err != nil {
		t.Fatal(err)
	}
	localAdmin := e.client(e.mint(t, registry.Scope{Repos: []string{"local"}, Actions: []registry.Action{registry.Admin}}))
	reader := e.client(e.mint(t, registry.Scope{Actions: []registry.Action{registry.Read}}))

	for _, tt := range []struct {
		name string
		c    *adminapi.Client
		q    adminapi.AuditQuery
		want []string // action repo
		kind errs.Kind
	}{
		{"all", admin, adminapi.AuditQuery{}, []string{"token.create ", "release.yank other", "release.yank local"}, 0},
		{"by repo", admin, adminapi.AuditQuery{Repo: "local"}, []string{"release.yank local"}, 0},
		{"by project spelling", admin, adminapi.AuditQuery{Project: "ACME"}, []string{"release.yank other", "release.yank local"}, 0},
		{"by action prefix", admin, adminapi.AuditQuery{Action: "token."}, []string{"token.create "}, 0},
		{"limit", admin, adminapi.AuditQuery{Limit: 1}, []string{"token.create "}, 0},
		{"repo admin on its repo", localAdmin, adminapi.AuditQuery{Repo: "local"}, []string{"release.yank local"}, 0},
		{"repo admin on everything", localAdmin, adminapi.AuditQuery{}, nil, errs.PermissionDenied},
		{"repo admin on other repo", localAdmin, adminapi.AuditQuery{Repo: "other"}, nil, errs.PermissionDenied},
		{"reader", reader, adminapi.AuditQuery{}, nil, errs.PermissionDenied},
		{"limit too big", admin, adminapi.AuditQuery{Limit: 5000}, nil, errs.Invalid},
	} {
		evs, err := tt.c.Audit(ctx, tt.q)
		if tt.kind != 0 {
			if errs.KindOf(err) != tt.kind {
				t.Errorf("%s: %v, want %v", tt.name, err, tt.kind)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		var got []string
		for _, ev := range evs {
			got = append(got, ev.Action+" "+ev.Repo)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}
