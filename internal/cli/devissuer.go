package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wharf-dev/wharf/internal/config"
	"github.com/wharf-dev/wharf/internal/devissuer"
	"github.com/wharf-dev/wharf/internal/oidc"
)

// devIssuerName is the issuer name the development issuer gets in metrics,
// audit records and token origins ("oidc:dev").
const devIssuerName = "dev"

// claimFlags set the claims of development ID tokens. They start from
// devissuer.Example, so a bare `wharf dev-issuer` mints plausible tokens.
type claimFlags struct {
	file                                                  string
	repository, repositoryID, ownerID, workflow, ref      string
	environment, event, jobWorkflowRef, actor, runID, sha string
}

func (f *claimFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.file, "claims", "", "JSON file of claims to start from (keys as in a GitHub ID token: repository, repository_id, repository_owner_id, workflow_ref, ...); flags override it")
	fs.StringVar(&f.repository, "repository", "", "repository claim, OWNER/NAME (default octo-org/octo-repo)")
	fs.StringVar(&f.repositoryID, "repository-id", "", "repository_id claim (default 100)")
	fs.StringVar(&f.ownerID, "owner-id", "", "repository_owner_id claim (default 10)")
	fs.StringVar(&f.workflow, "workflow", "", "workflow file name in workflow_ref (default release.yml)")
	fs.StringVar(&f.ref, "ref", "", "ref claim (default refs/tags/v1.0.0)")
	fs.StringVar(&f.environment, "environment", "", "environment claim (default none)")
	fs.StringVar(&f.event, "event", "", "event_name claim (default push)")
	fs.StringVar(&f.jobWorkflowRef, "job-workflow-ref", "", "job_workflow_ref claim, for a reusable workflow (default: equal to workflow_ref)")
	fs.StringVar(&f.actor, "actor", "", "actor claim (default: the owner)")
	fs.StringVar(&f.runID, "run-id", "", "run_id claim (default 4242)")
	fs.StringVar(&f.sha, "sha", "", "sha claim")
}

// defaultClaims are what a development issuer signs when nothing else is
// said: a tag push of release.yml in octo-org/octo-repo.
func defaultClaims() devissuer.GitHubClaims {
	return devissuer.Example("octo-org", "10", "octo-repo", "100", "release.yml", "refs/tags/v1.0.0")
}

// readClaims reads a JSON file of devissuer.GitHubClaims. Unknown keys are
// refused so a typo ("owner_id" for "repository_owner_id") is not silently ignored.
func readClaims(path string) (devissuer.GitHubClaims, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return devissuer.GitHubClaims{}, fmt.Errorf("reading claims: %w", err)
	}
	return parseClaims(b, path)
}

// The file is the whole claim set: a key it leaves out is absent from the
// token (job_workflow_ref then equals workflow_ref, as for a workflow that
// calls no reusable one), except repository_owner and ref_type, derived
// from repository and ref.
func parseClaims(b []byte, path string) (devissuer.GitHubClaims, error) {
	var c devissuer.GitHubClaims
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return devissuer.GitHubClaims{}, fmt.Errorf("claims file %s: %w (expected a JSON object with keys such as repository, repository_owner_id, workflow_ref)", path, err)
	}
	if c.Repository != "" && c.RepositoryOwner == "" {
		c.RepositoryOwner, _, _ = strings.Cut(c.Repository, "/")
	}
	if c.Ref != "" && c.RefType == "" {
		c.RefType = "branch"
		if strings.HasPrefix(c.Ref, "refs/tags/") {
			c.RefType = "tag"
		}
	}
	return c, nil
}

// claims builds the claims from the file (if any), then the flags.
func (f *claimFlags) claims() (devissuer.GitHubClaims, error) {
	c := defaultClaims()
	if f.file != "" {
		var err error
		if c, err = readClaims(f.file); err != nil {
			return c, err
		}
	}
	if f.repository != "" {
		owner, name, ok := strings.Cut(f.repository, "/")
		if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
			return c, fmt.Errorf("--repository %q must be OWNER/NAME", f.repository)
		}
		c.Repository, c.RepositoryOwner = f.repository, owner
		if f.actor == "" {
			c.Actor = owner
		}
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&c.RepositoryID, f.repositoryID)
	set(&c.RepositoryOwnerID, f.ownerID)
	set(&c.Ref, f.ref)
	set(&c.Environment, f.environment)
	set(&c.EventName, f.event)
	set(&c.JobWorkflowRef, f.jobWorkflowRef)
	set(&c.Actor, f.actor)
	set(&c.RunID, f.runID)
	set(&c.SHA, f.sha)
	if f.ref != "" {
		c.RefType = "branch"
		if strings.HasPrefix(f.ref, "refs/tags/") {
			c.RefType = "tag"
		}
	}
	// workflow_ref names repository, workflow and ref: rebuild it when any
	// of them came from a flag, keeping the file's otherwise.
	if f.repository != "" || f.workflow != "" || f.ref != "" || c.WorkflowRef == "" {
		wf := f.workflow
		if wf == "" {
			wf = workflowFile(c.WorkflowRef)
		}
		if wf == "" {
			wf = "release.yml"
		}
		if strings.ContainsAny(wf, "/@") {
			return c, fmt.Errorf("--workflow %q must be a file name such as release.yml, without '/' or '@'", wf)
		}
		c.WorkflowRef = c.Repository + "/.github/workflows/" + wf + "@" + c.Ref
	}
	return c, nil
}

// workflowFile extracts "release.yml" from
// "owner/repo/.github/workflows/release.yml@refs/tags/v1".
func workflowFile(workflowRef string) string {
	path, _, ok := strings.Cut(workflowRef, "@")
	if !ok {
		return ""
	}
	return path[strings.LastIndexByte(path, '/')+1:]
}

// devIssuer is a running development issuer.
type devIssuer struct {
	iss    *devissuer.Issuer
	srv    *http.Server
	claims devissuer.GitHubClaims // as started
	// reload, when set, gives the claims for each token request: a claims
	// file is read again every time.
	reload func() (devissuer.GitHubClaims, error)
}

// startDevIssuer starts a development issuer on listen (loopback only).
// When reload is set it is called at every token request, so a developer
// (or a test) can edit a claims file to try other claims without a restart.
func startDevIssuer(listen string, claims devissuer.GitHubClaims, reload func() (devissuer.GitHubClaims, error)) (*devIssuer, error) {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("dev issuer address %q: %w", listen, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("the development issuer listens on loopback only (127.0.0.1:PORT), not %q: it signs whatever claims it is told to", listen)
	}
	iss, err := devissuer.New(devissuer.Config{Claims: claims})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("dev issuer: %w", err)
	}
	iss.SetIssuer("http://" + ln.Addr().String())
	d := &devIssuer{iss: iss, claims: claims, reload: reload}
	d.srv = &http.Server{Handler: d.handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = d.srv.Serve(ln) }()
	return d, nil
}

// handler reloads the claims before each token request.
func (d *devIssuer) handler() http.Handler {
	h := d.iss.Handler()
	if d.reload == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/token") {
			c, err := d.reload()
			if err != nil {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				_ = json.NewEncoder(w).Encode(map[string]string{"message": err.Error()})
				return
			}
			d.iss.SetClaims(c)
		}
		h.ServeHTTP(w, r)
	})
}

func (d *devIssuer) Close() error { return d.srv.Close() }

// IssuerConfig is how the server trusts this issuer.
func (d *devIssuer) IssuerConfig() oidc.IssuerConfig {
	return oidc.IssuerConfig{Name: devIssuerName, URL: d.iss.URL(), Kind: oidc.KindGitHub}
}

// printEnv tells the user what to export so `wharf publish` and the
// gh-action scripts find the issuer as they would on a GitHub runner.
func (d *devIssuer) printEnv(w io.Writer, c devissuer.GitHubClaims) {
	fmt.Fprintf(w, "  Development OIDC issuer (loopback only, never for production): %s\n", d.iss.URL())
	fmt.Fprintf(w, "  Its tokens say: repository=%s repository_owner_id=%s repository_id=%s\n", c.Repository, c.RepositoryOwnerID, c.RepositoryID)
	fmt.Fprintf(w, "                  workflow_ref=%s event_name=%s", c.WorkflowRef, c.EventName)
	if c.Environment != "" {
		fmt.Fprintf(w, " environment=%s", c.Environment)
	}
	fmt.Fprintf(w, "\n\n  Export these where you run 'wharf publish' (as a GitHub runner would):\n\n")
	fmt.Fprintf(w, "    export ACTIONS_ID_TOKEN_REQUEST_URL='%s'\n", d.iss.RequestURL())
	fmt.Fprintf(w, "    export ACTIONS_ID_TOKEN_REQUEST_TOKEN='%s'\n\n", d.iss.RequestToken())
}

func newDevIssuerCmd() *cobra.Command {
	var (
		listen string
		cf     claimFlags
	)
	cmd := &cobra.Command{
		Use:   "dev-issuer",
		Short: "Run a development OIDC issuer that mints GitHub-Actions-like ID tokens (loopback only)",
		Long: `dev-issuer runs a real OpenID Connect issuer on loopback (discovery, JWKS and
a GitHub-Actions-like token endpoint) so trusted publishing can be tried on a
laptop. It prints the two variables a GitHub runner sets,
ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN; with them
exported, 'wharf publish' and the gh-action-pypi-publish scripts fetch ID tokens
from it. The claims come from the flags (or --claims FILE, read again at every
token request). It runs until interrupted.

'wharf serve --dev-issuer' starts the same issuer inside the server and trusts
it; this command is for looking at the tokens or driving other clients.`,
		Example: `  wharf dev-issuer
  wharf dev-issuer --repository acme/widgets --owner-id 1234 --repository-id 5678 \
      --workflow release.yml --ref refs/tags/v1.2.0 --environment pypi`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.claims()
			if err != nil {
				return err
			}
			var reload func() (devissuer.GitHubClaims, error)
			if cf.file != "" {
				reload = cf.claims
			}
			d, err := startDevIssuer(listen, c, reload)
			if err != nil {
				return err
			}
			defer d.Close()
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "issuer: %s\n\n", d.iss.URL())
			d.printEnv(out, c)
			fmt.Fprintf(out, "  Try it:  curl -s -H \"Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN\" \"$ACTIONS_ID_TOKEN_REQUEST_URL&audience=wharf\"\n\n")
			fmt.Fprintln(cmd.ErrOrStderr(), "running until interrupted (Ctrl-C)")
			<-ctx.Done()
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:0", "loopback address to listen on (port 0 picks a free one)")
	cf.register(cmd.Flags())
	return cmd
}

// devServeFlags are `wharf serve --dev-issuer` and its companions.
type devServeFlags struct {
	on             bool
	listen, claims string
}

func (f *devServeFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&f.on, "dev-issuer", false, "also run a development OIDC issuer on loopback and trust it for trusted publishing (never in production)")
	fs.StringVar(&f.listen, "dev-issuer-listen", "127.0.0.1:0", "loopback address of the development issuer (port 0 picks a free one)")
	fs.StringVar(&f.claims, "dev-claims", "", "JSON file of the claims the development issuer signs, read again at every token request (default: repository octo-org/octo-repo, owner id 10, repository id 100, workflow release.yml, ref refs/tags/v1.0.0, event push)")
}

// start starts the issuer when --dev-issuer is given; nil otherwise.
func (f *devServeFlags) start(fs *pflag.FlagSet) (*devIssuer, error) {
	if !f.on {
		for _, name := range []string{"dev-issuer-listen", "dev-claims"} {
			if fs.Changed(name) {
				return nil, fmt.Errorf("--%s needs --dev-issuer", name)
			}
		}
		return nil, nil
	}
	c := defaultClaims()
	if f.claims != "" {
		var err error
		if c, err = readClaims(f.claims); err != nil {
			return nil, err
		}
	}
	var reload func() (devissuer.GitHubClaims, error)
	if f.claims != "" {
		reload = func() (devissuer.GitHubClaims, error) { return readClaims(f.claims) }
	}
	return startDevIssuer(f.listen, c, reload)
}

// printServe tells the user of `wharf serve --dev-issuer` how to publish.
func (d *devIssuer) printServe(w io.Writer, base, audience, caFile string) {
	c := d.claimsNow()
	d.printEnv(w, c)
	ca := ""
	if caFile != "" {
		ca = " --ca-file " + caFile
	}
	repo := strings.TrimPrefix(c.Repository, c.RepositoryOwner+"/")
	fmt.Fprintf(w, "  Trust its tokens for a project (as the admin: WHARF_SERVER=%s WHARF_TOKEN=<admin token>), then publish:\n\n", base)
	fmt.Fprintf(w, "    # --pending: PROJECT does not exist yet, its first publish creates it\n")
	fmt.Fprintf(w, "    wharf publisher add%s --repo local --project PROJECT --pending github --issuer %s \\\n", ca, d.iss.URL())
	fmt.Fprintf(w, "        --owner %s --owner-id %s --repository %s --workflow %s\n",
		c.RepositoryOwner, c.RepositoryOwnerID, repo, cmpOrStr(workflowFile(c.WorkflowRef), "release.yml"))
	fmt.Fprintf(w, "    wharf publish --repository-url %s/local/legacy/%s dist/*\n\n", base, ca)
	fmt.Fprintf(w, "  (audience %q; the issuer answers on loopback only)\n\n", audience)
}

// claimsNow is what the token endpoint would sign now.
func (d *devIssuer) claimsNow() devissuer.GitHubClaims {
	if d.reload != nil {
		if c, err := d.reload(); err == nil {
			return c
		}
	}
	return d.claims
}

func cmpOrStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// selfSignedCert is where `wharf serve` writes its generated certificate
// (server.tlsFiles), or "" when it does not generate one.
func selfSignedCert(cfg *config.Config) string {
	if !cfg.TLS.SelfSigned || cfg.TLS.CertFile != "" {
		return ""
	}
	return filepath.Join(cfg.DataDir, "tls", "cert.pem")
}
