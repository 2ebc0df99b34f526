package server_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/adminapi"
	"github.com/wharf-dev/wharf/internal/config"
	"github.com/wharf-dev/wharf/internal/oidc"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/server"
	"github.com/wharf-dev/wharf/internal/store"
)

// declaredRepos are written once through the configuration and once
// through the admin API. Their settings need normalising (no trailing
// slash, unnormalised project names), so a path that skipped it shows.
func declaredRepos() []config.Repository {
	private := false
	return []config.Repository{
		{Name: "team", Kind: registry.Hosted, Public: &private, Description: "the team's packages"},
		{Name: "mirror", Kind: registry.Remote, Description: "a mirror",
			Remote: &registry.RemoteSettings{Upstream: "https://mirror.example/simple", CooldownExceptions: []string{"Foo_Bar", "foo-bar"}}},
		{Name: "both", Kind: registry.Virtual, Public: &private, // a public one over team is refused
			Virtual: &registry.VirtualSettings{Members: []string{"team", "mirror"}, UploadTo: "team", Merge: []string{"Baz.Qux"}}},
	}
}

// TestDeclaredAndAPICreatedRepositoriesAreTheSame: a repository declared
// in the configuration and one created through the admin API are stored
// alike (rows and settings) and audited alike, and both paths refuse a bad
// one with the same message.
func TestDeclaredAndAPICreatedRepositoriesAreTheSame(t *testing.T) {
	t.Parallel()
	cfg := embeddedConfig(t)
	cfg.Repositories = declaredRepos()
	cfg.OIDC.Issuers = githubIssuer
	cfg.OIDC.Publishers = []config.Publisher{declaredPublisher}
	declared, err := server.New(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer declared.Close()

	apiCfg := embeddedConfig(t)
	apiCfg.OIDC.Issuers = githubIssuer
	viaAPI, err := server.New(t.Context(), apiCfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer viaAPI.Close()
	api := httptest.NewServer(viaAPI.Handler())
	defer api.Close()
	for _, r := range declaredRepos() {
		req := adminapi.CreateRepoRequest{Name: r.Name, Kind: string(r.Kind), Public: r.IsPublic(), Description: r.Description, Remote: r.Remote, Virtual: r.Virtual}
		if status, msg := postAdmin(t, api.URL+"/api/v1/repos", viaAPI.FirstToken, req); status != http.StatusCreated {
			t.Fatalf("creating %s through the API: %d %s", r.Name, status, msg)
		}
	}

	pub := oidc.Publisher{Project: declaredPublisher.Project, Pending: true, Kind: oidc.KindGitHub, GitHub: &oidc.GitHubPublisher{
		Owner: "acme", OwnerID: "1234567", Repository: "new-thing", Workflow: "release.yml"}}
	if status, msg := postAdmin(t, api.URL+"/api/v1/repos/team/publishers", viaAPI.FirstToken, pub); status != http.StatusCreated {
		t.Fatalf("adding the publisher through the API: %d %s", status, msg)
	}

	for _, r := range declaredRepos() {
		a, b := stored(t, declared, r.Name), stored(t, viaAPI, r.Name)
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("repository %s, declared (-) and created through the API (+):\n%s", r.Name, diff)
		}
	}
	if diff := cmp.Diff(repoAudit(t, declared), repoAudit(t, viaAPI)); diff != "" {
		t.Errorf("audit records, declared (-) and created through the API (+):\n%s", diff)
	}

	if diff := cmp.Diff(storedPublishers(t, declared), storedPublishers(t, viaAPI)); diff != "" {
		t.Errorf("publishers, declared (-) and added through the API (+):\n%s", diff)
	}

	// The same refusal, in the same words.
	bad := config.Repository{Name: "broken", Kind: registry.Virtual, Virtual: &registry.VirtualSettings{Members: []string{"team", "nowhere"}}}
	status, apiMsg := postAdmin(t, api.URL+"/api/v1/repos", viaAPI.FirstToken,
		adminapi.CreateRepoRequest{Name: bad.Name, Kind: string(bad.Kind), Public: true, Virtual: bad.Virtual})
	if status != http.StatusBadRequest || !strings.Contains(apiMsg, "nowhere") {
		t.Fatalf("API: %d %q, want 400 naming the missing member", status, apiMsg)
	}
	cfg = embeddedConfig(t)
	cfg.Repositories = append(declaredRepos(), bad)
	_, err = server.New(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.HasSuffix(err.Error(), ": "+apiMsg) {
		t.Errorf("declared: %v\nwant the API's message %q", err, apiMsg)
	}

	// A public virtual repository over a private member: refused by both.
	open := config.Repository{Name: "open", Kind: registry.Virtual, Virtual: &registry.VirtualSettings{Members: []string{"mirror", "team"}}}
	status, apiMsg = postAdmin(t, api.URL+"/api/v1/repos", viaAPI.FirstToken,
		adminapi.CreateRepoRequest{Name: open.Name, Kind: string(open.Kind), Public: true, Virtual: open.Virtual})
	if status != http.StatusBadRequest || !strings.Contains(apiMsg, "is public but its member 'team' is private") {
		t.Fatalf("API: %d %q, want 400 naming the private member", status, apiMsg)
	}
	cfg = embeddedConfig(t)
	cfg.Repositories = append(declaredRepos(), open)
	_, err = server.New(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.HasSuffix(err.Error(), ": "+apiMsg) {
		t.Errorf("declared public virtual over a private member: %v\nwant the API's message %q", err, apiMsg)
	}
}

var githubIssuer = []config.Issuer{{Name: "github", URL: "https://token.actions.githubusercontent.com", Kind: "github"}}

var declaredPublisher = config.Publisher{Repo: "team", Project: "New_Thing", Pending: true, GitHub: &config.GitHubPublisher{
	Owner: "acme", OwnerID: "1234567", Repository: "new-thing", Workflow: "release.yml"}}

// storedPublishers are the publishers of the declared repositories,
// without IDs, times and who created them.
func storedPublishers(t *testing.T, s *server.Server) []registry.PublisherRecord {
	t.Helper()
	recs, err := s.Store.Publishers().List(t.Context(), "team", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 {
		t.Error("no publisher stored")
	}
	for i := range recs {
		recs[i].ID, recs[i].CreatedAt, recs[i].CreatedBy = 0, time.Time{}, ""
	}
	return recs
}

type storedRepo struct {
	Kind        registry.RepoKind
	Public      bool
	Description string
	Settings    string
}

func stored(t *testing.T, s *server.Server, name string) storedRepo {
	t.Helper()
	r, err := s.Store.Repos().Get(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	out := storedRepo{Kind: r.Kind, Public: r.Public, Description: r.Description}
	if r.Kind != registry.Hosted {
		raw, err := s.Store.Remote().Settings(t.Context(), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		out.Settings = string(raw)
	}
	return out
}

// repoAudit is the audit log of the declared repositories, without who
// and when.
func repoAudit(t *testing.T, s *server.Server) []registry.AuditEvent {
	t.Helper()
	var out []registry.AuditEvent
	for _, r := range declaredRepos() {
		evs, err := s.Store.Audit().List(t.Context(), store.AuditFilter{Repo: r.Name})
		// Publishers are audited under their repository too.
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			t.Errorf("no audit record for repository %s", r.Name)
		}
		for _, e := range evs {
			e.ID, e.Actor = 0, ""
			e.Time = time.Time{}
			out = append(out, e)
		}
	}
	return out
}

// postAdmin sends an admin API request and returns the status and the error
// message, if any.
func postAdmin(t *testing.T, url, token string, body any) (int, string) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct {
		Error struct{ Message string } `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.Error.Message
}
