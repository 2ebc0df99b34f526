package oidc_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/devissuer"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/oidc"
	"github.com/wharf-dev/wharf/internal/oidc/oidctest"
)

func TestPublisherValidate(t *testing.T) {
	t.Parallel()
	gh := func(mut func(*oidc.GitHubPublisher)) oidc.Publisher {
		g := oidc.GitHubPublisher{Owner: "acme", OwnerID: "1001", Repository: "widgets", Workflow: "release.yml"}
		if mut != nil {
			mut(&g)
		}
		return oidc.Publisher{Repo: "main", Project: "widgets", Kind: oidc.KindGitHub, GitHub: &g}
	}
	for _, tc := range []struct {
		name    string
		p       oidc.Publisher
		wantErr string // substring; "" = valid
	}{
		{"github ok", gh(nil), ""},
		{"github with job workflow pattern", gh(func(g *oidc.GitHubPublisher) {
			g.JobWorkflowRef = "acme/tools/.github/workflows/pypi.yml@refs/tags/v*"
		}), ""},
		{"no owner id", gh(func(g *oidc.GitHubPublisher) { g.OwnerID = "" }), "github.owner_id"},
		{"owner id not numeric", gh(func(g *oidc.GitHubPublisher) { g.OwnerID = "acme" }), "github.owner_id"},
		{"repository with owner", gh(func(g *oidc.GitHubPublisher) { g.Repository = "acme/widgets" }), "github.repository"},
		{"workflow path", gh(func(g *oidc.GitHubPublisher) { g.Workflow = ".github/workflows/release.yml" }), "github.workflow"},
		{"workflow not yaml", gh(func(g *oidc.GitHubPublisher) { g.Workflow = "release.sh" }), "github.workflow"},
		{"workflow with @", gh(func(g *oidc.GitHubPublisher) { g.Workflow = "a.yml@b.yml" }), "github.workflow"},
		{"pull_request_target allowed", gh(func(g *oidc.GitHubPublisher) { g.AllowedEvents = []string{"push", "pull_request_target"} }), "pull_request_target"},
		{"wildcard owner in job workflow", gh(func(g *oidc.GitHubPublisher) { g.JobWorkflowRef = "*/tools/.github/workflows/x.yml@refs/heads/main" }), "literal"},
		{"http issuer", gh(func(g *oidc.GitHubPublisher) { g.Issuer = "http://ghes.example/_services/token" }), "issuer"},
		{"project not normalised", func() oidc.Publisher { p := gh(nil); p.Project = "My_Widgets"; return p }(), `"my-widgets"`},
		{"bad repo", func() oidc.Publisher { p := gh(nil); p.Repo = "api"; return p }(), "repo:"},
		{"kind mismatch", func() oidc.Publisher { p := gh(nil); p.Kind = oidc.KindGitLab; return p }(), "kind"},
		{"gitlab ok", oidc.Publisher{Repo: "main", Project: "w", Kind: oidc.KindGitLab, GitLab: &oidc.GitLabPublisher{Namespace: "grp/sub", Project: "w", CIFilePath: ".gitlab-ci.yml"}}, ""},
		{"gitlab ci path", oidc.Publisher{Repo: "main", Project: "w", Kind: oidc.KindGitLab, GitLab: &oidc.GitLabPublisher{Namespace: "grp", Project: "w", CIFilePath: "ci.txt"}}, "gitlab.ci_file_path"},
		{"generic sub only", oidc.Publisher{Repo: "main", Project: "w", Kind: oidc.KindGeneric, Generic: &oidc.GenericPublisher{Issuer: "https://ci.example", Claims: map[string]string{"sub": "x"}}}, "other than sub"},
		{"generic ok", oidc.Publisher{Repo: "main", Project: "w", Kind: oidc.KindGeneric, Generic: &oidc.GenericPublisher{Issuer: "https://ci.example", Claims: map[string]string{"organization_id": "42"}}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.p.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate: %v, want an error mentioning %q", err, tc.wantErr)
			}
			if !errs.Is(err, errs.Invalid) {
				t.Errorf("Validate error kind = %v, want invalid", errs.KindOf(err))
			}
		})
	}
}

// TestMatchKinds covers GitLab, generic and job_workflow_ref matching through
// the exchanger, using the world's issuer as each kind's issuer.
func TestMatchKinds(t *testing.T) {
	t.Parallel()
	w := oidctest.NewWorld(t, nil)
	iss := w.GitHub.URL()
	host := strings.TrimPrefix(iss, "http://")
	pubs := []oidc.Publisher{
		{ID: 10, Repo: "main", Project: "lab", Kind: oidc.KindGitLab, GitLab: &oidc.GitLabPublisher{Issuer: iss, Namespace: "grp/sub", NamespaceID: "55", Project: "lab", CIFilePath: "ci/release.yml", Environment: "Prod"}},
		{ID: 11, Repo: "main", Project: "gen", Kind: oidc.KindGeneric, Generic: &oidc.GenericPublisher{Issuer: iss, Claims: map[string]string{"organization_id": "42", "pipeline": "release"}}},
		{ID: 12, Repo: "main", Project: "reuse", Kind: oidc.KindGitHub, GitHub: &oidc.GitHubPublisher{Issuer: iss, Owner: "acme", OwnerID: "1001", Repository: "widgets", Workflow: "release.yml",
			JobWorkflowRef: "acme/tools/.github/workflows/pypi.yml@refs/tags/v*"}},
	}
	w.Publishers = pubs
	lab := map[string]any{"project_path": "Grp/Sub/Lab", "namespace_id": "55", "ci_config_ref_uri": host + "/grp/sub/lab//ci/release.yml@refs/heads/main",
		"ref_path": "refs/heads/main", "sha": "abc", "environment": "Prod"}
	for _, tc := range []struct {
		name   string
		claims map[string]any
		drop   []string
		want   []oidc.Grant // nil: refused
	}{
		{"gitlab", lab, nil, []oidc.Grant{{Repo: "main", Project: "lab", PublisherID: 10}}},
		{"gitlab environment is case-sensitive", with(lab, "environment", "prod"), nil, nil},
		{"gitlab namespace id pinned", with(lab, "namespace_id", "56"), nil, nil},
		{"gitlab ci file elsewhere", with(lab, "ci_config_ref_uri", host+"/grp/sub/lab//.gitlab-ci.yml@refs/heads/main"), nil, nil},
		{"gitlab ci file at another ref", with(lab, "ci_config_ref_uri", host+"/grp/sub/lab//ci/release.yml@refs/heads/evil"), nil, nil},
		{"generic", map[string]any{"organization_id": "42", "pipeline": "release"}, nil, []oidc.Grant{{Repo: "main", Project: "gen", PublisherID: 11}}},
		{"generic numeric claim", map[string]any{"organization_id": json.Number("42"), "pipeline": "release"}, nil, []oidc.Grant{{Repo: "main", Project: "gen", PublisherID: 11}}},
		{"generic one claim differs", map[string]any{"organization_id": "43", "pipeline": "release"}, nil, nil},
		{"reusable workflow tag matches", map[string]any{"job_workflow_ref": "acme/tools/.github/workflows/pypi.yml@refs/tags/v3"}, []string{"environment"}, []oidc.Grant{{Repo: "main", Project: "reuse", PublisherID: 12}}},
		{"reusable workflow glob does not cross /", map[string]any{"job_workflow_ref": "acme/tools/.github/workflows/pypi.yml@refs/tags/v3/evil"}, nil, nil},
		{"reusable workflow on a branch", map[string]any{"job_workflow_ref": "acme/tools/.github/workflows/pypi.yml@refs/heads/main"}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x, m, _ := newExchanger(t, w)
			c := w.Claims(w.GitHub, func(mm map[string]any) {
				for k, v := range tc.claims {
					mm[k] = v
				}
				for _, k := range tc.drop {
					delete(mm, k)
				}
			})
			tok, err := w.GitHub.Sign(c, devissuerOpts())
			if err != nil {
				t.Fatal(err)
			}
			res, err := x.MintToken(context.Background(), tok)
			if tc.want == nil {
				if r := oidc.AsRefusal(err); r == nil || r.Code != oidc.CodeInvalidPublisher {
					t.Fatalf("MintToken: %v, want invalid-publisher", err)
				}
				if len(m.calls) != 0 {
					t.Errorf("minter called on a refusal")
				}
				return
			}
			if err != nil {
				t.Fatalf("MintToken: %v", err)
			}
			if diff := cmp.Diff(tc.want, res.Grants); diff != "" {
				t.Errorf("grants (-want +got):\n%s", diff)
			}
		})
	}
}

func with(m map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(m))
	for kk, vv := range m {
		out[kk] = vv
	}
	out[k] = v
	return out
}

func TestMemoryReplay(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	r := oidc.NewMemoryReplay(clk.Now)
	ctx := context.Background()
	until := clk.Now().Add(2 * time.Minute)
	var got []bool
	for _, c := range []struct{ iss, jti string }{{"a", "1"}, {"a", "1"}, {"b", "1"}, {"a", "2"}} {
		fresh, err := r.Claim(ctx, c.iss, c.jti, until)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fresh)
	}
	if diff := cmp.Diff([]bool{true, false, true, true}, got); diff != "" {
		t.Errorf("fresh (-want +got):\n%s", diff)
	}
	clk.Advance(3 * time.Minute)
	if fresh, _ := r.Claim(ctx, "c", "9", clk.Now().Add(time.Minute)); !fresh {
		t.Error("new id after sweep not fresh")
	}
	if n := r.Len(); n != 1 {
		t.Errorf("after expiry sweep %d ids remembered, want 1", n)
	}
}

func devissuerOpts() devissuer.SignOptions { return devissuer.SignOptions{} }
