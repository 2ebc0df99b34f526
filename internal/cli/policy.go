package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/wharf-dev/wharf/internal/adminapi"
	"github.com/wharf-dev/wharf/internal/oidc"
)

func newPolicyCmd(env Env) *cobra.Command {
	var conn connFlags
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Manage trust policies: which OIDC identities get which tokens from 'wharf login'",
		Long: `A trust policy says which ID tokens of one configured issuer may be exchanged
at /api/v1/token/exchange ('wharf login'), and for what: repositories,
projects, actions (read, upload, yank, delete) and a token lifetime (15m to
12h, default 1h). Claim matchers (equals, not_equals, like, in) and an
optional CEL condition must all hold. Deny policies are evaluated first and
remove what allow policies and trusted publishers grant, on every way to a
token (mint-token, 'wharf publish', 'wharf login'); a deny that cannot be
evaluated (a missing claim) denies, an allow that cannot grants nothing.
See docs/trust-policies.md.`,
	}
	conn.register(cmd.PersistentFlags())
	cmd.AddCommand(newPolicyCreateCmd(env, &conn), newPolicyListCmd(env, &conn), newPolicyShowCmd(env, &conn),
		newPolicyRemoveCmd(env, &conn), newPolicyTestCmd(env, &conn))
	return cmd
}

// readPolicy decodes one policy from YAML or JSON (JSON is YAML), refusing
// unknown keys so a typo never silently widens a policy.
func readPolicy(in io.Reader, path string) (oidc.Policy, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(io.LimitReader(in, 1<<20))
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return oidc.Policy{}, err
	}
	var p oidc.Policy
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		if errors.Is(err, io.EOF) {
			return p, fmt.Errorf("%s is empty", path)
		}
		return p, fmt.Errorf("%s: %w", path, err)
	}
	var extra any
	if dec.Decode(&extra) == nil {
		return p, fmt.Errorf("%s: one policy per file", path)
	}
	return p, nil
}

func newPolicyCreateCmd(env Env, conn *connFlags) *cobra.Command {
	var (
		file  string
		force bool
	)
	cmd := &cobra.Command{
		Use:   "create -f FILE [--force]",
		Short: "Create a trust policy from a YAML or JSON file ('-' reads stdin)",
		Long: `create saves a trust policy. The server checks it: the issuer must be
configured, the CEL condition must compile, and a policy on GitHub or GitLab
must pin an owner or namespace with an equals matcher (better by ID:
repository_owner_id, namespace_id); --force accepts a policy that does not,
and the choice is stored with it. Warnings are printed on stderr.

Event guard: on a GitHub issuer, jobs started by pull_request_target,
workflow_run or issue_comment get only read from a policy, never upload,
yank or delete, as trusted publishers refuse them; list workflow_run or
issue_comment under privileged_events to opt in (linted; never
pull_request_target).`,
		Example: `  cat > release.yaml <<'YAML'
  name: acme-release
  issuer: github
  match:
    - claim: repository_owner_id
      equals: "1234567"
    - claim: repository
      equals: acme/demo
    - claim: ref
      like: refs/tags/v*
  grant:
    repositories: [local]
    projects: [demo]
    actions: [upload]
    ttl: 30m
  YAML
  wharf policy create -f release.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return errors.New("-f FILE is required: the policy as YAML or JSON ('-' for stdin)")
			}
			p, err := readPolicy(cmd.InOrStdin(), file)
			if err != nil {
				return err
			}
			if force {
				p.Force = true
			}
			c, err := conn.client(env)
			if err != nil {
				return err
			}
			res, err := c.CreatePolicy(cmd.Context(), p)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created policy %s (%s on %s): %s\n", res.Policy.Name, res.Policy.Effect, res.Policy.Issuer, grantString(res.Policy))
			for _, w := range res.Warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "policy file, YAML or JSON ('-' reads stdin)")
	cmd.Flags().BoolVar(&force, "force", false, "accept a policy that pins no owner or namespace on a shared issuer (trusts every user of it)")
	return cmd
}

// grantString is a one-line grant: "upload local/demo,acme-* for 30m".
func grantString(p oidc.Policy) string {
	g := p.Grant
	acts := make([]string, len(g.Actions))
	for i, a := range g.Actions {
		acts[i] = string(a)
	}
	s := strings.Join(acts, ",")
	if s == "" {
		s = "all actions"
	}
	repos := strings.Join(g.Repositories, ",")
	if repos == "" {
		repos = "all repositories"
	}
	s += " " + repos
	if len(g.Projects) > 0 {
		s += " projects=" + strings.Join(g.Projects, ",")
	}
	if g.TTL != 0 {
		s += " for " + shortDuration(time.Duration(g.TTL))
	}
	return s
}

// shortDuration prints 1h0m0s as 1h and 30m0s as 30m.
func shortDuration(d time.Duration) string {
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	if s == "" {
		return "0s"
	}
	return s
}

func newPolicyListCmd(env Env, conn *connFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List trust policies",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client(env)
			if err != nil {
				return err
			}
			ps, err := c.ListPolicies(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), ps)
			}
			tw := table(cmd.OutOrStdout())
			fmt.Fprintln(tw, "NAME\tISSUER\tEFFECT\tMATCH\tGRANT\tCREATED")
			for _, p := range ps {
				name := p.Name
				if p.Force {
					name += " (forced)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, p.Issuer, p.Effect, matchString(p), grantString(p), when(p.CreatedAt, "-"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// matchString summarises matchers and condition on one line.
func matchString(p oidc.Policy) string {
	parts := make([]string, 0, len(p.Match)+1)
	for _, m := range p.Match {
		op, want := m.Op()
		parts = append(parts, m.Name()+" "+op+" "+quoteIfNeeded(want))
	}
	if p.Condition != "" {
		parts = append(parts, "condition")
	}
	return dash(strings.Join(parts, ", "))
}

func newPolicyShowCmd(env Env, conn *connFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show one trust policy as YAML (the form 'policy create' reads)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.client(env)
			if err != nil {
				return err
			}
			p, err := c.GetPolicy(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), p)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "# created %s by %s\n", when(p.CreatedAt, "-"), dash(p.CreatedBy))
			p.ID = 0
			b, err := yaml.Marshal(p)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newPolicyRemoveCmd(env Env, conn *connFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "remove NAME",
		Short:   "Remove a trust policy (tokens already minted live until they expire)",
		Example: `  wharf policy remove acme-release`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.client(env)
			if err != nil {
				return err
			}
			if err := c.RemovePolicy(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed policy %s\n", args[0])
			return nil
		},
	}
}

func newPolicyTestCmd(env Env, conn *connFlags) *cobra.Command {
	var (
		req                  adminapi.PolicyTestRequest
		claimsFile, tokenEnv string
		asJSON               bool
	)
	cmd := &cobra.Command{
		Use:   "test (--token JWT | --token-env VAR | --claims FILE) [--repo R --project P --action A]",
		Short: "Explain which trust policies an ID token (or a claims set) satisfies and what it would get",
		Long: `test evaluates every trust policy of the token's issuer and prints, for each,
whether it matched and otherwise which matcher or condition failed, with the
expected and the actual claim; a policy that cannot be evaluated for the
token (a missing claim, a failing condition) is shown as such: a deny then
denies, an allow grants nothing. Write actions the event guard removes are
named. Then what an exchange would grant. With
--repo (and --project, --action: default read) it also answers whether that
one permission would be granted.

--token is verified (signature, audience, expiry) but not spent: it can
still be exchanged afterwards. --claims takes a JSON object of claims, not
verified, for drafting policies; its "iss" must be a configured issuer.`,
		Example: `  wharf policy test --claims claims.json --repo local --project demo --action upload
  wharf policy test --token-env ID_TOKEN`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tokenEnv != "" {
				req.Token = strings.TrimSpace(env.Getenv(tokenEnv))
				if req.Token == "" {
					return fmt.Errorf("--token-env: $%s is empty or unset", tokenEnv)
				}
			}
			if claimsFile != "" {
				b, err := readFileOrStdin(cmd.InOrStdin(), claimsFile)
				if err != nil {
					return err
				}
				if err := json.Unmarshal(b, &req.Claims); err != nil {
					return fmt.Errorf("--claims %s: a JSON object of claims: %w", claimsFile, err)
				}
			}
			if (req.Token == "") == (req.Claims == nil) {
				return errors.New("give exactly one of --token, --token-env and --claims")
			}
			if req.Repo == "" && (req.Project != "" || req.Action != "") {
				return errors.New("--project and --action need --repo")
			}
			c, err := conn.client(env)
			if err != nil {
				return err
			}
			res, err := c.TestPolicies(cmd.Context(), req)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), res)
			}
			return printPolicyTest(cmd.OutOrStdout(), res)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&req.Token, "token", "", "an ID token (JWT) to verify and evaluate")
	fl.StringVar(&tokenEnv, "token-env", "", "environment variable holding the ID token")
	fl.StringVar(&claimsFile, "claims", "", "JSON file of claims to evaluate without verification ('-' reads stdin)")
	fl.StringVar(&req.Repo, "repo", "", "ask whether this repository would be granted")
	fl.StringVar(&req.Project, "project", "", "with --repo: the project")
	fl.StringVar(&req.Action, "action", "", "with --repo: read, upload, yank or delete (default read)")
	fl.BoolVar(&asJSON, "json", false, "print JSON")
	cmd.MarkFlagsMutuallyExclusive("token", "token-env", "claims")
	return cmd
}

func readFileOrStdin(in io.Reader, path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(io.LimitReader(in, 1<<20))
	}
	return os.ReadFile(path)
}

// printPolicyTest explains a decision, one policy per block.
func printPolicyTest(w io.Writer, res adminapi.PolicyTestResult) error {
	if res.Problem != "" {
		fmt.Fprintf(w, "the token does not verify: %s\n", res.Problem)
		return errors.New("the token was refused before any policy was evaluated")
	}
	how := "claims not verified"
	if res.Verified {
		how = "token verified"
	}
	fmt.Fprintf(w, "issuer %s (%s): %d policies considered\n", res.Issuer, how, len(res.Traces))
	for _, t := range res.Traces {
		verdict := "no match"
		switch {
		case t.Undetermined != "":
			verdict = strings.ToUpper(t.Outcome()[:1]) + t.Outcome()[1:]
		case t.Matched:
			verdict = "MATCH"
		}
		fmt.Fprintf(w, "\n%s %s: %s\n", t.Effect, t.Policy, verdict)
		for _, c := range t.Checks {
			mark := "ok  "
			if !c.OK {
				mark = "FAIL"
			}
			got := fmt.Sprintf("%q", c.Got)
			if !c.Present {
				got = "missing (or not a string, number or boolean)"
			}
			fmt.Fprintf(w, "  %s %s %s %q: actual %s\n", mark, c.Claim, c.Op, c.Want, got)
		}
		if t.Condition != "" {
			r := t.CondResult
			if r == "" {
				r = "not evaluated (a matcher failed first)"
			}
			fmt.Fprintf(w, "  condition %s: %s\n", t.Condition, r)
		}
		if t.Guard != "" {
			fmt.Fprintf(w, "  event guard: %s\n", t.Guard)
		}
	}
	if len(res.Traces) == 0 {
		fmt.Fprintln(w, "no policy names this issuer")
	}
	if len(res.Denied) > 0 {
		fmt.Fprintf(w, "\ndenied by: %s\n", strings.Join(res.Denied, ", "))
	}
	fmt.Fprintf(w, "\nwould be granted: %s\n", cmpOrStr(res.Granted, "nothing"))
	if res.Allowed != nil {
		verdict := "granted"
		if !*res.Allowed {
			verdict = "NOT granted"
		}
		fmt.Fprintf(w, "%s: %s\n", res.Requested, verdict)
	}
	return nil
}
