package server_test

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wharf-dev/wharf/internal/config"
	"github.com/wharf-dev/wharf/internal/server"
	"github.com/wharf-dev/wharf/internal/testenv"
)

// TestReplicasStartingTogetherDeclareOnce starts several servers at the
// same instant on one fresh PostgreSQL schema, as replicas rolled out
// together do: the declared publisher must exist once, and exactly one of
// them may mint the first admin token (neither has a unique key the
// database could enforce).
func TestReplicasStartingTogetherDeclareOnce(t *testing.T) {
	t.Parallel()
	const replicas = 4
	for round := range 3 {
		cfg := postgresConfig(t, "wharf_declare_")
		cfg.Secrets.KEK = config.Secret("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
		cfg.OIDC.Issuers = []config.Issuer{{Name: "github", URL: "https://token.actions.githubusercontent.com", Kind: "github"}}
		cfg.OIDC.Publishers = []config.Publisher{{Repo: "local", Project: "sampleproject", GitHub: &config.GitHubPublisher{
			Owner: "octo-org", OwnerID: "4242424242", Repository: "sampleproject", RepositoryID: "5151515151", Workflow: "release.yml",
		}}}
		// Migrated beforehand, as for a rollout of replicas onto an existing
		// database (a fresh one staggers them: the migrations' lock is polled
		// once a second).
		st, _, err := server.OpenStores(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		servers := make([]*server.Server, replicas)
		errs := make([]error, replicas)
		var wg sync.WaitGroup
		for i := range replicas {
			wg.Go(func() {
				servers[i], errs[i] = server.New(t.Context(), cfg, slog.New(slog.DiscardHandler))
			})
		}
		wg.Wait()
		firstTokens := 0
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: replica %d: %v", round, i, err)
			}
			defer servers[i].Close()
			if servers[i].FirstToken != "" {
				firstTokens++
			}
		}
		if firstTokens != 1 {
			t.Errorf("round %d: %d replicas minted a first admin token, want 1", round, firstTokens)
		}
		pubs, err := servers[0].Store.Publishers().List(t.Context(), "local", "sampleproject")
		if err != nil {
			t.Fatal(err)
		}
		if len(pubs) != 1 {
			t.Errorf("round %d: %d declared publishers stored, want 1", round, len(pubs))
		}
		toks, err := servers[0].Store.Tokens().List(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(toks) != 1 {
			t.Errorf("round %d: %d tokens stored, want 1", round, len(toks))
		}
	}
}

// TestPostgresNeedsASharedKEK: on a shared database a replica must not
// generate a key-encryption key of its own (the others could not open the
// secrets it wraps); it refuses to start and says what to configure.
func TestPostgresNeedsASharedKEK(t *testing.T) {
	t.Parallel()
	cfg := postgresConfig(t, "wharf_kek_")
	_, err := server.New(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "secrets.kek_file") || !strings.Contains(err.Error(), "every replica") {
		t.Fatalf("server.New on PostgreSQL without a KEK: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "kek")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a key was generated anyway: %v", err)
	}
}

// postgresConfig is embeddedConfig on a fresh PostgreSQL schema (named
// prefix plus random letters).
func postgresConfig(t *testing.T, prefix string) *config.Config {
	t.Helper()
	cfg := embeddedConfig(t)
	cfg.Database.Driver = "postgres"
	cfg.Database.DSN = config.Secret(testenv.PostgresDSN(t, prefix))
	return cfg
}

// A declared publisher is refused for the same reasons as one sent to the
// API: an issuer the server does not trust, or one of another kind.
func TestDeclaredPublisherNeedsAConfiguredIssuerOfItsKind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		issuers []config.Issuer
		pub     config.Publisher
		want    string
	}{
		{"unconfigured", nil, config.Publisher{Repo: "local", Project: "demo", GitHub: &config.GitHubPublisher{
			Owner: "acme", OwnerID: "1", Repository: "demo", Workflow: "release.yml"}}, "not an issuer this server trusts"},
		{"gitlab on a github issuer", []config.Issuer{{Name: "corp", URL: "https://git.corp.example", Kind: "github"}},
			config.Publisher{Repo: "local", Project: "demo", GitLab: &config.GitLabPublisher{
				Issuer: "https://git.corp.example", Namespace: "grp", Project: "demo", CIFilePath: ".gitlab-ci.yml"}}, `configured with kind "github"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := embeddedConfig(t)
			cfg.OIDC.Issuers, cfg.OIDC.Publishers = tc.issuers, []config.Publisher{tc.pub}
			_, err := server.New(t.Context(), cfg, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), "oidc.publishers[0]") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("server.New: %v; want oidc.publishers[0] refused: %s", err, tc.want)
			}
		})
	}
}
