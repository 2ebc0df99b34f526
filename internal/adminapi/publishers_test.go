package adminapi_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/adminapi"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/oidc"
	"github.com/wharf-dev/wharf/internal/registry"
)

// ghPub is a valid GitHub publisher for repo/project.
func ghPub(repo, project string) oidc.Publisher {
	return oidc.Publisher{
		Repo: repo, Project: project, Kind: oidc.KindGitHub,
		GitHub: &oidc.GitHubPublisher{Owner: "acme", OwnerID: "1234", Repository: "demo", Workflow: "release.yml", Environment: "pypi"},
	}
}

func with(p oidc.Publisher, f func(*oidc.Publisher)) oidc.Publisher {
	if p.GitHub != nil {
		g := *p.GitHub
		p.GitHub = &g
	}
	f(&p)
	return p
}

// wantErr checks err against kind and message; kind 0 means success.
func wantErr(t *testing.T, err error, kind errs.Kind, msgs ...string) {
	t.Helper()
	if kind == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("succeeded, want %v error containing %q", kind, msgs)
	}
	if got := errs.KindOf(err); got != kind {
		t.Errorf("kind %v (%v), want %v", got, err, kind)
	}
	for _, m := range msgs {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not contain %q", err, m)
		}
	}
}

func TestAddPublisherPermissions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addRelease(t, "local", "acme", "1.0", "acme-1.0-py3-none-any.whl")
	e.addRelease(t, "local", "beta", "1.0", "beta-1.0-py3-none-any.whl")
	e.addRelease(t, "other", "acme", "1.0", "acme-1.0-py3-none-any.whl")
	tokens := map[string]string{
		"admin":         e.admin,
		"local admin":   e.mint(t, registry.Scope{Repos: []string{"local"}, Actions: []registry.Action{registry.Admin}}),
		"other admin":   e.mint(t, registry.Scope{Repos: []string{"other"}, Actions: []registry.Action{registry.Admin}}),
		"acme admin":    e.mint(t, registry.Scope{Repos: []string{"local"}, Projects: []string{"acme"}, Actions: []registry.Action{registry.Admin}}),
		"upload+read":   e.mint(t, registry.Scope{Actions: []registry.Action{registry.Upload, registry.Read}}),
		"local uploads": e.mint(t, registry.Scope{Repos: []string{"local"}, Actions: []registry.Action{registry.Upload}}),
	}
	// The parallel cases run inside one group, so the count below sees
	// them all finished.
	t.Run("cases", func(group *testing.T) {
		for _, tt := range []struct {
			token, repo, project string
			kind                 errs.Kind
			msg                  string
		}{
			{"admin", "local", "acme", 0, ""},
			{"local admin", "local", "beta", 0, ""},
			{"other admin", "local", "acme", errs.PermissionDenied, "repository 'local'"},
			{"other admin", "other", "acme", 0, ""},
			{"acme admin", "local", "Acme", 0, ""}, // any spelling of its project
			{"acme admin", "local", "beta", errs.PermissionDenied, "project 'beta'"},
			{"acme admin", "other", "acme", errs.PermissionDenied, "repository 'other'"},
			{"upload+read", "local", "acme", errs.PermissionDenied, "'admin' permission"},
			{"local uploads", "local", "acme", errs.PermissionDenied, "'admin' permission"},
		} {
			group.Run(tt.token+" on "+tt.repo+"/"+tt.project, func(t *testing.T) {
				t.Parallel()
				// Each case a distinct identity, so duplicates never interfere.
				p := with(ghPub(tt.repo, tt.project), func(p *oidc.Publisher) { p.GitHub.Repository = strings.ReplaceAll(tt.token, " ", "-") })
				got, err := e.client(tokens[tt.token]).AddPublisher(t.Context(), p)
				wantErr(t, err, tt.kind, tt.msg)
				if tt.kind == 0 && (got.ID == 0 || got.Project != strings.ToLower(tt.project) || got.CreatedBy == "" || !strings.Contains(tokens[tt.token], got.CreatedBy)) {
					t.Errorf("stored %+v", got)
				}
			})
		}
	})
	// Nothing the refused calls tried was stored.
	all, err := e.client(e.admin).ListPublishers(t.Context(), adminapi.PublisherQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 {
		t.Errorf("%d publishers stored, want 4: %+v", len(all), all)
	}
}

func TestAddPublisherValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addRelease(t, "local", "acme", "1.0", "acme-1.0-py3-none-any.whl")
	ctx := t.Context()
	admin := e.client(e.admin)
	if err := e.st.Repos().Create(ctx, &registry.Repository{Name: "mirror", Kind: registry.Remote}); err != nil {
		t.Fatal(err)
	}
	base := ghPub("local", "acme")
	for _, tt := range []struct {
		name string
		p    oidc.Publisher
		kind errs.Kind
		msgs []string
	}{
		{"ok, issuer defaulted", base, 0, nil},
		{"missing owner id", with(base, func(p *oidc.Publisher) { p.GitHub.OwnerID = ""; p.GitHub.Repository = "x" }), errs.Invalid,
			[]string{"github.owner_id: required", "gh api users/acme"}},
		{"each bad field named", with(base, func(p *oidc.Publisher) {
			p.GitHub.Owner, p.GitHub.Workflow, p.GitHub.RepositoryID = "ac me", ".github/workflows/release.yml", "x1"
		}), errs.Invalid, []string{"github.owner:", "github.workflow:", "github.repository_id:"}},
		{"bad job workflow ref", with(base, func(p *oidc.Publisher) { p.GitHub.JobWorkflowRef = "*/shared/.github/workflows/r.yml@main" }),
			errs.Invalid, []string{"github.job_workflow_ref"}},
		{"pull_request_target", with(base, func(p *oidc.Publisher) { p.GitHub.AllowedEvents = []string{"pull_request_target"} }),
			errs.Invalid, []string{"github.allowed_events"}},
		{"http issuer", with(base, func(p *oidc.Publisher) { p.GitHub.Issuer = "http://example.com" }), errs.Invalid, []string{"issuer:"}},
		{"kind mismatch", with(base, func(p *oidc.Publisher) { p.Kind = oidc.KindGitLab }), errs.Invalid, []string{"kind:"}},
		{"no block", oidc.Publisher{Repo: "local", Project: "acme", Kind: "github"}, errs.Invalid, []string{"kind:"}},
		{"generic with only sub", oidc.Publisher{Repo: "local", Project: "acme", Kind: oidc.KindGeneric,
			Generic: &oidc.GenericPublisher{Issuer: "https://ci.example.com", Claims: map[string]string{"sub": "x"}}},
			errs.Invalid, []string{"generic.claims: at least one claim other than sub"}},
		{"generic without issuer", oidc.Publisher{Repo: "local", Project: "acme", Kind: oidc.KindGeneric,
			Generic: &oidc.GenericPublisher{Claims: map[string]string{"team": "x"}}},
			errs.Invalid, []string{"generic.issuer: required"}},
		{"gitlab bad ci file", oidc.Publisher{Repo: "local", Project: "acme", Kind: oidc.KindGitLab,
			GitLab: &oidc.GitLabPublisher{Namespace: "grp", Project: "demo", CIFilePath: "/ci.txt"}},
			errs.Invalid, []string{"gitlab.ci_file_path"}},
		{"invalid project name", with(base, func(p *oidc.Publisher) { p.Project = "-acme!" }), errs.Invalid,
			[]string{`project: "-acme!" is not a valid project name`}},
		{"unconfigured issuer", with(base, func(p *oidc.Publisher) { p.GitHub.Issuer = "https://ghes.example.com/_services/token" }), errs.Invalid,
			[]string{"not an issuer this server trusts", "oidc.issuers (url: https://ghes.example.com/_services/token, kind: github)"}},
		{"gitlab publisher on a github issuer", oidc.Publisher{Repo: "local", Project: "acme", Kind: oidc.KindGitLab,
			GitLab: &oidc.GitLabPublisher{Issuer: oidc.GitHubIssuer, Namespace: "grp", Project: "demo", CIFilePath: ".gitlab-ci.yml"}},
			errs.Invalid, []string{`configured with kind "github"`, "kind: gitlab"}},
		{"missing repository", ghPub("nope", "acme"), errs.NotFound, []string{"repository 'nope' does not exist"}},
		{"no repository", ghPub("", "acme"), errs.Invalid, []string{"names no repository"}},
		{"remote repository", ghPub("mirror", "acme"), errs.Invalid, []string{"'mirror' is a remote repository"}},
		{"duplicate", base, errs.Conflict, []string{"identical publisher already exists", "(id 1)"}},
	} {
		// In order: "duplicate" depends on the first case.
		_, err := admin.AddPublisher(ctx, tt.p)
		t.Run(tt.name, func(t *testing.T) { wantErr(t, err, tt.kind, tt.msgs...) })
	}
	got, err := admin.ListPublishers(ctx, adminapi.PublisherQuery{})
	if err != nil || len(got) != 1 || got[0].GitHub.Issuer != oidc.GitHubIssuer {
		t.Errorf("stored %+v, %v; want one with the default issuer", got, err)
	}

	// Raw bodies: the repository comes from the path, fields are strict.
	for _, tt := range []struct{ name, path, body, msg string }{
		{"repo differs", "/api/v1/repos/local/publishers",
			`{"repo":"other","project":"acme","kind":"generic","generic":{"issuer":"https://ci.example.com","claims":{"a":"b"}}}`,
			`the body names "other" but the path names "local"`},
		{"unknown field", "/api/v1/repos/local/publishers", `{"project":"acme","kind":"github","github":{"ownr":"x"}}`, `unknown field "ownr"`},
		{"no body", "/api/v1/repos/local/publishers", ``, "needs a JSON body"},
	} {
		status, code, msg := raw(t, "POST", e.url+tt.path, "Bearer "+e.admin, tt.body)
		if status != 400 || code != "invalid" || !strings.Contains(msg, tt.msg) {
			t.Errorf("%s: %d %q %q, want 400 containing %q", tt.name, status, code, msg, tt.msg)
		}
	}
}

func TestPendingPublishers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addRelease(t, "local", "acme", "1.0", "acme-1.0-py3-none-any.whl")
	ctx := t.Context()
	admin := e.client(e.admin)
	pending := func(project string) oidc.Publisher {
		return with(ghPub("local", project), func(p *oidc.Publisher) { p.Pending = true })
	}
	// A pending publisher for a new project, under any spelling.
	got, err := admin.AddPublisher(ctx, pending("New_Thing"))
	wantErr(t, err, 0)
	if !got.Pending || got.Project != "new-thing" {
		t.Errorf("stored %+v, want pending for new-thing", got)
	}
	_, err = admin.AddPublisher(ctx, pending("ACME"))
	wantErr(t, err, errs.Invalid, "project exists: add a normal publisher")
	_, err = admin.AddPublisher(ctx, ghPub("local", "brand-new"))
	wantErr(t, err, errs.Invalid, "project 'brand-new' does not exist in repository 'local'", "pending")
	// The same project in another repository is another project.
	_, err = admin.AddPublisher(ctx, with(pending("acme"), func(p *oidc.Publisher) { p.Repo = "other" }))
	wantErr(t, err, 0)
}

func TestListPublishers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	e.addRelease(t, "local", "acme", "1.0", "acme-1.0-py3-none-any.whl")
	e.addRelease(t, "local", "beta", "1.0", "beta-1.0-py3-none-any.whl")
	e.addRelease(t, "other", "acme", "1.0", "acme-1.0-py3-none-any.whl")
	admin := e.client(e.admin)
	for _, p := range []oidc.Publisher{
		ghPub("local", "acme"), // 1
		ghPub("local", "beta"), // 2
		ghPub("other", "acme"), // 3
		{Repo: "local", Project: "acme", Kind: oidc.KindGitLab, // 4
			GitLab: &oidc.GitLabPublisher{Namespace: "grp/sub", Project: "demo", CIFilePath: ".gitlab-ci.yml"}},
	} {
		if _, err := admin.AddPublisher(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	localAdmin := e.client(e.mint(t, registry.Scope{Repos: []string{"local"}, Actions: []registry.Action{registry.Admin}}))
	acmeAdmin := e.client(e.mint(t, registry.Scope{Repos: []string{"local"}, Projects: []string{"acme"}, Actions: []registry.Action{registry.Admin}}))
	reader := e.client(e.mint(t, registry.Scope{Actions: []registry.Action{registry.Read}}))
	for _, tt := range []struct {
		name string
		c    *adminapi.Client
		q    adminapi.PublisherQuery
		want []string // "id repo/project kind"
		kind errs.Kind
		msg  string
	}{
		{"all", admin, adminapi.PublisherQuery{}, []string{"1 local/acme github", "2 local/beta github", "3 other/acme github", "4 local/acme gitlab"}, 0, ""},
		{"by repo", admin, adminapi.PublisherQuery{Repo: "other"}, []string{"3 other/acme github"}, 0, ""},
		{"by project spelling", admin, adminapi.PublisherQuery{Project: "ACME"}, []string{"1 local/acme github", "3 other/acme github", "4 local/acme gitlab"}, 0, ""},
		{"by both", admin, adminapi.PublisherQuery{Repo: "local", Project: "beta"}, []string{"2 local/beta github"}, 0, ""},
		{"none", admin, adminapi.PublisherQuery{Repo: "local", Project: "gamma"}, []string{}, 0, ""},
		{"repo admin sees its repo", localAdmin, adminapi.PublisherQuery{}, []string{"1 local/acme github", "2 local/beta github", "4 local/acme gitlab"}, 0, ""},
		{"repo admin on other repo", localAdmin, adminapi.PublisherQuery{Repo: "other"}, nil, errs.PermissionDenied, "repository 'other'"},
		{"project admin sees its project", acmeAdmin, adminapi.PublisherQuery{Repo: "local"}, []string{"1 local/acme github", "4 local/acme gitlab"}, 0, ""},
		{"project admin on other project", acmeAdmin, adminapi.PublisherQuery{Repo: "local", Project: "beta"}, nil, errs.PermissionDenied, "project 'beta'"},
		{"reader", reader, adminapi.PublisherQuery{}, nil, errs.PermissionDenied, "'admin' permission"},
		{"unknown repo", admin, adminapi.PublisherQuery{Repo: "nope"}, nil, errs.NotFound, "repository 'nope' does not exist"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pubs, err := tt.c.ListPublishers(t.Context(), tt.q)
			wantErr(t, err, tt.kind, tt.msg)
			if tt.kind != 0 {
				return
			}
			got := []string{}
			for _, p := range pubs {
				got = append(got, strconv.FormatInt(p.ID, 10)+" "+p.Repo+"/"+p.Project+" "+p.Kind)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRemovePublisherAndAudit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	e.addRelease(t, "local", "acme", "1.0", "acme-1.0-py3-none-any.whl")
	admin := e.client(e.admin)
	gh, err := admin.AddPublisher(ctx, ghPub("local", "acme"))
	if err != nil {
		t.Fatal(err)
	}
	gen, err := admin.AddPublisher(ctx, oidc.Publisher{Repo: "local", Project: "acme", Kind: oidc.KindGeneric,
		Generic: &oidc.GenericPublisher{Issuer: "https://ci.example.com", Claims: map[string]string{"team": "s3cr3t-team", "sub": "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	otherAdmin := e.client(e.mint(t, registry.Scope{Repos: []string{"other"}, Actions: []registry.Action{registry.Admin}}))
	localAdmin := e.client(e.mint(t, registry.Scope{Repos: []string{"local"}, Actions: []registry.Action{registry.Admin}}))

	wantErr(t, otherAdmin.RemovePublisher(ctx, gh.ID), errs.PermissionDenied, "repository 'local'")
	wantErr(t, localAdmin.RemovePublisher(ctx, 99), errs.NotFound, "publisher 99 does not exist")
	wantErr(t, localAdmin.RemovePublisher(ctx, gh.ID), 0)
	wantErr(t, localAdmin.RemovePublisher(ctx, gh.ID), errs.NotFound, "does not exist")
	if status, _, msg := raw(t, "DELETE", e.url+"/api/v1/publishers/abc", "Bearer "+e.admin, ""); status != 400 || !strings.Contains(msg, "not a number") {
		t.Errorf("DELETE abc: %d %q", status, msg)
	}
	left, err := admin.ListPublishers(ctx, adminapi.PublisherQuery{})
	if err != nil || len(left) != 1 || left[0].ID != gen.ID {
		t.Errorf("left %+v, %v; want only the generic publisher", left, err)
	}

	evs, err := admin.Audit(ctx, adminapi.AuditQuery{Action: "publisher."})
	if err != nil {
		t.Fatal(err)
	}
	type ev struct {
		Action, Repo, Project, Target, Outcome string
		Detail                                 map[string]string
	}
	var got []ev
	for _, x := range evs {
		got = append(got, ev{x.Action, x.Repo, x.Project, x.Target, x.Outcome, x.Detail})
	}
	ghDetail := map[string]string{
		"kind": "github", "issuer": oidc.GitHubIssuer, "pending": "false", "owner": "acme", "owner_id": "1234",
		"repository": "demo", "workflow": "release.yml", "environment": "pypi",
	}
	want := []ev{ // newest first
		{"publisher.remove", "local", "acme", strconv.FormatInt(gh.ID, 10), "ok", ghDetail},
		{"publisher.add", "local", "acme", strconv.FormatInt(gen.ID, 10), "ok",
			map[string]string{"kind": "generic", "issuer": "https://ci.example.com", "pending": "false", "claims": "sub,team"}},
		{"publisher.add", "local", "acme", strconv.FormatInt(gh.ID, 10), "ok", ghDetail},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
	for _, x := range evs {
		for _, v := range x.Detail {
			if strings.Contains(v, "s3cr3t") {
				t.Errorf("audit detail copies a claim value: %v", x.Detail)
			}
		}
	}
}

// The client sends a publisher and gets the same publisher back, ID and
// defaults added.
func TestPublisherRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	admin := e.client(e.admin)
	in := oidc.Publisher{Repo: "local", Project: "new-proj", Pending: true, Kind: oidc.KindGitHub, GitHub: &oidc.GitHubPublisher{
		Issuer: "https://token.actions.githubusercontent.com/acme-corp", Owner: "Acme", OwnerID: "42", Repository: "Demo.py",
		RepositoryID: "7", Workflow: "release.yaml", Environment: "PyPI",
		JobWorkflowRef: "acme/shared/.github/workflows/publish.yml@refs/tags/v*", AllowedEvents: []string{"push", "release"},
	}}
	created, err := admin.AddPublisher(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	listed, err := admin.ListPublishers(ctx, adminapi.PublisherQuery{Repo: "local"})
	if err != nil || len(listed) != 1 {
		t.Fatalf("listed %+v, %v", listed, err)
	}
	if diff := cmp.Diff(created, listed[0]); diff != "" {
		t.Errorf("created and listed differ (-created +listed):\n%s", diff)
	}
	want := in
	want.ID, want.CreatedAt = created.ID, created.CreatedAt
	if diff := cmp.Diff(want, created.Publisher); diff != "" || created.ID == 0 || !created.CreatedAt.Equal(epoch) {
		t.Errorf("created %v (-want +got):\n%s", created.CreatedAt, diff)
	}
}
