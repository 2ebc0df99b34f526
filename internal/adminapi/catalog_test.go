package adminapi_test

import (
	"testing"

	"github.com/wharf-dev/wharf/internal/adminapi"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
)

// describe gives every file of the project core metadata with a summary
// and a provenance, as an upload would have.
func (e *testEnv) describe(t *testing.T, repo, project, summary string) {
	t.Helper()
	ctx := t.Context()
	r, _ := e.st.Repos().Get(ctx, repo)
	p, err := e.st.Projects().Get(ctx, r.ID, project)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := e.st.Files().ListByProject(ctx, p.ID)
	for _, f := range files {
		if err := e.st.Catalog().Put(ctx, f, registry.FileDetails{FileID: f.ID,
			Metadata:   &registry.CoreMetadata{Name: project, Version: f.Version, Summary: summary},
			Provenance: registry.Provenance{Kind: registry.ProvenanceToken, TokenID: "tok", TokenDescription: "ci"}}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCatalogListingsAndSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	pub := registry.Repository{Name: "pub", Kind: registry.Hosted, Public: true}
	if err := e.st.Repos().Create(ctx, &pub); err != nil {
		t.Fatal(err)
	}
	e.addRelease(t, "local", "acme-tools", "1.0", "acme_tools-1.0-py3-none-any.whl")
	e.addRelease(t, "local", "acme-tools", "2.0", "acme_tools-2.0-py3-none-any.whl")
	e.addRelease(t, "local", "secret", "1.0", "secret-1.0-py3-none-any.whl")
	e.addRelease(t, "pub", "acme-tools", "0.1", "acme_tools-0.1-py3-none-any.whl")
	e.describe(t, "local", "acme-tools", "Tools for acme builds")
	e.describe(t, "local", "secret", "Acme secret sauce")
	e.describe(t, "pub", "acme-tools", "A public fork")
	if _, err := e.client(e.admin).Yank(ctx, "local", "acme-tools", "1.0", "broken"); err != nil {
		t.Fatal(err)
	}

	admin := e.client(e.admin)
	page, err := admin.ListProjects(ctx, "local", adminapi.ProjectListQuery{Limit: 1})
	if err != nil || len(page.Projects) != 1 || page.Projects[0].Name != "acme-tools" || !page.More || page.NextOffset != 1 {
		t.Fatalf("ListProjects limit 1 = %+v, %v", page, err)
	}
	page, err = admin.ListProjects(ctx, "local", adminapi.ProjectListQuery{Offset: 1})
	if err != nil || len(page.Projects) != 1 || page.Projects[0].Name != "secret" || page.More {
		t.Fatalf("ListProjects offset 1 = %+v, %v", page, err)
	}
	p, err := admin.GetProject(ctx, "local", "Acme_Tools")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Releases) != 2 || p.Releases[0].Version != "2.0" || p.Releases[0].Yanked || !p.Releases[1].Yanked ||
		p.Releases[1].YankedReason != "broken" || p.Summary != "Tools for acme builds" ||
		p.Releases[0].Files[0].Provenance.TokenDescription != "ci" {
		t.Errorf("GetProject = %+v", p)
	}

	// Search: the exact name first, in every readable repository.
	res, err := admin.Search(ctx, "acme-tools", 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range res.Projects {
		got = append(got, h.Repo+"/"+h.Name)
	}
	if want := []string{"local/acme-tools", "pub/acme-tools"}; len(got) < 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("search acme-tools = %v, want %v first", got, want)
	}

	// A token limited to acme-tools of local sees nothing else.
	limited := e.client(e.mint(t, registry.Scope{Repos: []string{"local"}, Projects: []string{"acme-tools"}, Actions: []registry.Action{registry.Read}}))
	page, err = limited.ListProjects(ctx, "local", adminapi.ProjectListQuery{})
	if err != nil || len(page.Projects) != 1 || page.Projects[0].Name != "acme-tools" {
		t.Errorf("limited ListProjects = %+v, %v", page, err)
	}
	if _, err := limited.GetProject(ctx, "local", "secret"); errs.KindOf(err) != errs.PermissionDenied {
		t.Errorf("limited GetProject secret: %v, want permission denied", err)
	}
	res, err = limited.Search(ctx, "acme", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range res.Projects {
		if h.Name == "secret" {
			t.Errorf("limited search found %s/%s", h.Repo, h.Name)
		}
	}

	// Anonymous callers read public repositories only.
	anon := e.client("")
	if page, err := anon.ListProjects(ctx, "pub", adminapi.ProjectListQuery{}); err != nil || len(page.Projects) != 1 {
		t.Errorf("anonymous list of a public repository = %+v, %v", page, err)
	}
	for _, repo := range []string{"local", "missing"} {
		_, err := anon.ListProjects(ctx, repo, adminapi.ProjectListQuery{})
		if errs.KindOf(err) != errs.Unauthenticated {
			t.Errorf("anonymous list of %s: %v, want unauthenticated (same answer for private and missing)", repo, err)
		}
	}
	if _, err := anon.GetProject(ctx, "local", "secret"); errs.KindOf(err) != errs.Unauthenticated {
		t.Errorf("anonymous GetProject of a private repository: %v", err)
	}
	res, err = anon.Search(ctx, "acme", 0)
	if err != nil || len(res.Projects) != 1 || res.Projects[0].Repo != "pub" {
		t.Errorf("anonymous search = %+v, %v; want only pub's project", res, err)
	}
}
