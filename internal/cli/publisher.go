package cli

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wharf-dev/wharf/internal/adminapi"
	"github.com/wharf-dev/wharf/internal/oidc"
)

func newPublisherCmd(env Env) *cobra.Command {
	var conn connFlags
	cmd := &cobra.Command{
		Use:   "publisher",
		Short: "Manage trusted publishers: CI workflows that publish with an OIDC ID token",
		Long: `A trusted publisher lets one CI workflow upload one project of one repository
with nothing but its OpenID Connect ID token: no stored password or API token.
The job exchanges its ID token at /_/oidc/mint-token for an upload token that
lives 15 minutes, exactly as with PyPI's trusted publishing.

A pending publisher (--pending) is for a project that does not exist yet: its
first publish creates the project, and from then on it is a normal publisher.`,
	}
	conn.register(cmd.PersistentFlags())
	cmd.AddCommand(newPublisherAddCmd(env, &conn), newPublisherListCmd(env, &conn), newPublisherRemoveCmd(env, &conn))
	return cmd
}

// addFlags are shared by every "publisher add" kind.
type addFlags struct {
	repo, project string
	pending       bool
}

func newPublisherAddCmd(env Env, conn *connFlags) *cobra.Command {
	var f addFlags
	cmd := &cobra.Command{
		Use:   "add --repo REPO --project PROJECT [--pending] (github|gitlab|generic) ...",
		Short: "Trust a CI workflow to publish a project",
		Example: `  # GitHub Actions: .github/workflows/release.yml of acme/demo, in environment "pypi"
  wharf publisher add --repo local --project demo github \
      --owner acme --owner-id 1234567 --repository demo --workflow release.yml --environment pypi

  # GitLab CI: the .gitlab-ci.yml of group/subgroup/demo on gitlab.com
  wharf publisher add --repo local --project demo gitlab \
      --namespace group/subgroup --gitlab-project demo --ci-file .gitlab-ci.yml

  # Any other OIDC issuer (configured on the server), matched by claims
  wharf publisher add --repo local --project demo generic \
      --issuer https://ci.example.com --claim repository=infra/demo --claim ref=refs/heads/main

  # A project that does not exist yet: the first publish creates it
  wharf publisher add --repo local --project new-thing --pending github ...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errors.New("name the CI system: 'wharf publisher add github', 'gitlab' or 'generic' (see --help)")
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.repo, "repo", "", "repository the publisher may upload to (required)")
	pf.StringVar(&f.project, "project", "", "project the publisher may upload (required; any spelling, it is normalised)")
	pf.BoolVar(&f.pending, "pending", false, "the project does not exist yet: let the first publish create it")
	cmd.AddCommand(newAddGitHubCmd(env, conn, &f), newAddGitLabCmd(env, conn, &f), newAddGenericCmd(env, conn, &f))
	return cmd
}

func newAddGitHubCmd(env Env, conn *connFlags, f *addFlags) *cobra.Command {
	var g oidc.GitHubPublisher
	cmd := &cobra.Command{
		Use:   "github",
		Short: "Trust a GitHub Actions workflow",
		Long: `Trust a GitHub Actions workflow of one repository. The workflow must be the
one that runs (the caller, read from the token's workflow_ref), so a workflow
file elsewhere in the repository cannot publish.

--owner-id is required. It is the numeric ID of the owning user or
organisation: open https://api.github.com/users/OWNER and take "id" (or run
'gh api users/OWNER --jq .id'). It pins the owner: if the account is deleted
and someone registers the same name, their tokens carry another ID and are
refused ("account resurrection").

The job needs 'permissions: id-token: write'. Pull-request-target and other
events that run on behalf of forks are refused.`,
		Example: `  wharf publisher add --repo local --project demo github \
      --owner acme --owner-id 1234567 --repository demo --workflow release.yml --environment pypi

  # also require the job to run in a shared release workflow of another repository
  wharf publisher add --repo local --project demo github --owner acme --owner-id 1234567 \
      --repository demo --workflow release.yml \
      --job-workflow-ref 'acme/shared/.github/workflows/publish.yml@refs/tags/v*'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.OwnerID == "" {
				if g.Owner == "" {
					g.Owner = "OWNER"
				}
				return fmt.Errorf("--owner-id is required: the numeric ID of %s, the \"id\" at https://api.github.com/users/%s "+
					"(it stops someone who re-registers the name from inheriting the trust)", g.Owner, g.Owner)
			}
			return addPublisher(cmd, env, conn, f, oidc.Publisher{Kind: oidc.KindGitHub, GitHub: &g})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&g.Owner, "owner", "", "user or organisation that owns the repository (required)")
	fl.StringVar(&g.OwnerID, "owner-id", "", "numeric ID of the owner, from https://api.github.com/users/OWNER (required)")
	fl.StringVar(&g.Repository, "repository", "", "repository name, without the owner (required)")
	fl.StringVar(&g.Workflow, "workflow", "", "workflow file name in .github/workflows, e.g. release.yml (required)")
	fl.StringVar(&g.Environment, "environment", "", "GitHub environment the job must run in (recommended; default: any)")
	fl.StringVar(&g.RepositoryID, "repository-id", "", "numeric repository ID to pin as well (https://api.github.com/repos/OWNER/REPO → id)")
	fl.StringVar(&g.JobWorkflowRef, "job-workflow-ref", "", "require the job to run in this reusable workflow: OWNER/REPO/.github/workflows/FILE@REF, '*' matches within one path segment")
	fl.StringSliceVar(&g.AllowedEvents, "allow-event", nil, "accept only these event_name values (default: any but workflow_run and issue_comment)")
	fl.StringVar(&g.Issuer, "issuer", "", "issuer for GitHub Enterprise (default "+oidc.GitHubIssuer+")")
	return cmd
}

func newAddGitLabCmd(env Env, conn *connFlags, f *addFlags) *cobra.Command {
	var g oidc.GitLabPublisher
	cmd := &cobra.Command{
		Use:   "gitlab",
		Short: "Trust a GitLab CI pipeline",
		Long: `Trust the CI pipeline of one GitLab project. The job declares an ID token
with this server's audience ('id_tokens:' in .gitlab-ci.yml); the pipeline's
CI file and the project path must both match.`,
		Example: `  wharf publisher add --repo local --project demo gitlab \
      --namespace group/subgroup --gitlab-project demo --environment release

  # a self-managed GitLab (its issuer must be configured on the server)
  wharf publisher add --repo local --project demo gitlab --issuer https://gitlab.example.com \
      --namespace infra --gitlab-project demo --ci-file ci/release.yml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// "group/sub/demo" as --gitlab-project alone is the full path.
			if g.Namespace == "" {
				if i := strings.LastIndexByte(g.Project, '/'); i > 0 {
					g.Namespace, g.Project = g.Project[:i], g.Project[i+1:]
				}
			}
			return addPublisher(cmd, env, conn, f, oidc.Publisher{Kind: oidc.KindGitLab, GitLab: &g})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&g.Namespace, "namespace", "", "group path, with subgroups: group/subgroup (required)")
	fl.StringVar(&g.Project, "gitlab-project", "", "GitLab project name, without the namespace (required)")
	fl.StringVar(&g.CIFilePath, "ci-file", ".gitlab-ci.yml", "path of the pipeline's CI file in the repository")
	fl.StringVar(&g.Environment, "environment", "", "GitLab environment the job must deploy to (recommended; default: any)")
	fl.StringVar(&g.NamespaceID, "namespace-id", "", "numeric namespace ID to pin as well")
	fl.StringVar(&g.Issuer, "issuer", "", "issuer URL of a self-managed GitLab (default "+oidc.GitLabIssuer+")")
	return cmd
}

func newAddGenericCmd(env Env, conn *connFlags, f *addFlags) *cobra.Command {
	var (
		g      oidc.GenericPublisher
		claims []string
	)
	cmd := &cobra.Command{
		Use:   "generic",
		Short: "Trust any OIDC issuer's tokens by exact claim values",
		Long: `Trust ID tokens of any OIDC issuer configured on the server whose claims have
exactly the given values. Name the claims that identify the job (repository,
branch, pipeline); 'sub' alone is refused because its format is often set by
the caller.`,
		Example: `  wharf publisher add --repo local --project demo generic \
      --issuer https://ci.example.com --claim repository=infra/demo --claim ref=refs/heads/main`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			g.Claims = map[string]string{}
			for _, c := range claims {
				k, v, ok := strings.Cut(c, "=")
				if !ok || k == "" {
					return fmt.Errorf("--claim %q: write it as name=value", c)
				}
				if _, dup := g.Claims[k]; dup {
					return fmt.Errorf("--claim %s is given twice: a claim has one value", k)
				}
				g.Claims[k] = v
			}
			return addPublisher(cmd, env, conn, f, oidc.Publisher{Kind: oidc.KindGeneric, Generic: &g})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&g.Issuer, "issuer", "", "exact issuer URL, as configured on the server (required)")
	fl.StringArrayVar(&claims, "claim", nil, "name=value a token's claim must equal (repeat for more; required)")
	return cmd
}

// addPublisher sends p with the shared flags and reports the result.
func addPublisher(cmd *cobra.Command, env Env, conn *connFlags, f *addFlags, p oidc.Publisher) error {
	if f.repo == "" || f.project == "" {
		return errors.New("--repo and --project are required: the repository and project the publisher may upload")
	}
	c, err := conn.client(env)
	if err != nil {
		return err
	}
	p.Repo, p.Project, p.Pending = f.repo, f.project, f.pending
	got, err := c.AddPublisher(cmd.Context(), p)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "added publisher %d for %s/%s: %s\n", got.ID, got.Repo, got.Project, identity(got.Publisher))
	if got.Pending {
		fmt.Fprintf(cmd.ErrOrStderr(), "  pending: its first publish creates project %s\n", got.Project)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "  upload URL for the publish step: %s/%s/legacy/\n", conn.serverURL(env), got.Repo)
	return nil
}

func newPublisherListCmd(env Env, conn *connFlags) *cobra.Command {
	var (
		q      adminapi.PublisherQuery
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List trusted publishers",
		Example: `  wharf publisher list
  wharf publisher list --repo local --project demo --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client(env)
			if err != nil {
				return err
			}
			pubs, err := c.ListPublishers(cmd.Context(), q)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), pubs)
			}
			tw := table(cmd.OutOrStdout())
			fmt.Fprintln(tw, "ID\tREPO\tPROJECT\tPENDING\tPUBLISHER")
			for _, p := range pubs {
				pending := "no"
				if p.Pending {
					pending = "yes"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", p.ID, p.Repo, p.Project, pending, identity(p.Publisher))
			}
			return tw.Flush()
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&q.Repo, "repo", "", "only publishers of this repository")
	fl.StringVar(&q.Project, "project", "", "only publishers of this project")
	fl.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newPublisherRemoveCmd(env Env, conn *connFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "remove ID",
		Short:   "Remove a trusted publisher ('wharf publisher list' shows the IDs)",
		Example: `  wharf publisher remove 3`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return fmt.Errorf("%q is not a publisher ID: give the number 'wharf publisher list' shows", args[0])
			}
			c, err := conn.client(env)
			if err != nil {
				return err
			}
			if err := c.RemovePublisher(cmd.Context(), id); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed publisher %d\n", id)
			return nil
		},
	}
}

// identity is a one-line summary of whom a publisher trusts, such as
// "github acme/demo release.yml env=pypi". Issuers are shown only when
// they are not the kind's default.
func identity(p oidc.Publisher) string {
	var b strings.Builder
	b.WriteString(p.Kind)
	add := func(k, v string) {
		if v != "" {
			b.WriteByte(' ')
			if k != "" {
				b.WriteString(k + "=")
			}
			b.WriteString(v)
		}
	}
	switch {
	case p.GitHub != nil:
		g := p.GitHub
		add("", g.Owner+"/"+g.Repository)
		add("", g.Workflow)
		add("env", g.Environment)
		add("repository_id", g.RepositoryID)
		add("job", g.JobWorkflowRef)
		add("events", strings.Join(g.AllowedEvents, ","))
		if g.Issuer != oidc.GitHubIssuer {
			add("issuer", g.Issuer)
		}
	case p.GitLab != nil:
		g := p.GitLab
		add("", g.Namespace+"/"+g.Project)
		add("", g.CIFilePath)
		add("env", g.Environment)
		add("namespace_id", g.NamespaceID)
		if g.Issuer != oidc.GitLabIssuer {
			add("issuer", g.Issuer)
		}
	case p.Generic != nil:
		add("", p.Generic.Issuer)
		for _, k := range slices.Sorted(maps.Keys(p.Generic.Claims)) {
			add(k, quoteIfNeeded(p.Generic.Claims[k]))
		}
	default:
		add("", "(configuration unreadable)")
	}
	return b.String()
}

// quoteIfNeeded quotes claim values that would be ambiguous on one line.
func quoteIfNeeded(v string) string {
	if v == "" || strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == '"' || r >= 0x7f }) {
		return strconv.Quote(v)
	}
	return v
}
