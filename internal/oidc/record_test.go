package oidc

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/registry"
)

func TestRecordRoundTrip(t *testing.T) {
	t.Parallel()
	for _, p := range []Publisher{
		{ID: 1, Repo: "local", Project: "demo", Kind: KindGitHub, GitHub: &GitHubPublisher{
			Owner: "acme", OwnerID: "42", Repository: "demo", Workflow: "release.yml", Environment: "pypi",
			JobWorkflowRef: "acme/shared/.github/workflows/publish.yml@refs/heads/main", AllowedEvents: []string{"push"}}},
		{ID: 2, Repo: "local", Project: "demo", Pending: true, Kind: KindGitLab, GitLab: &GitLabPublisher{
			Namespace: "grp/sub", Project: "demo", CIFilePath: ".gitlab-ci.yml"}},
		{ID: 3, Repo: "local", Project: "demo", Kind: KindGeneric, Generic: &GenericPublisher{
			Issuer: "https://ci.example.com", Claims: map[string]string{"project": "demo"}}},
	} {
		rec, err := p.Record()
		if err != nil {
			t.Fatal(err)
		}
		if rec.Issuer != p.IssuerURL() || rec.Issuer == "" {
			t.Errorf("record issuer = %q", rec.Issuer)
		}
		got, err := FromRecord(rec)
		if err != nil {
			t.Fatal(err)
		}
		p.SetDefaults()
		if diff := cmp.Diff(p, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
	if _, err := FromRecord(registryRecord("bogus")); err == nil {
		t.Error("unknown kind decoded")
	}
}

func registryRecord(kind string) (r registry.PublisherRecord) {
	r.Kind = kind
	r.Config = []byte("{}")
	return r
}
