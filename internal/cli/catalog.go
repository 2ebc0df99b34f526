package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wharf-dev/wharf/internal/adminapi"
	"github.com/wharf-dev/wharf/internal/registry"
)

// addCatalogCommands adds the commands that show what wharf holds: ls,
// search, whoami.
func addCatalogCommands(root *cobra.Command, env Env) {
	root.AddCommand(newLsCmd(env), newSearchCmd(env), newWhoamiCmd(env), newCatalogCmd(env))
}

// readClient is client for the read routes, which public repositories
// answer without a token.
func (f *connFlags) readClient(env Env) (*adminapi.Client, error) {
	tok := f.token
	if tok == "" {
		tok = env.Getenv("WHARF_TOKEN")
	}
	hc, err := httpClient(f.caFile)
	if err != nil {
		return nil, err
	}
	return adminapi.NewClient(f.serverURL(env), tok, hc), nil
}

func newLsCmd(env Env) *cobra.Command {
	var (
		conn   connFlags
		q      adminapi.ProjectListQuery
		all    bool
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "ls [REPO[/PROJECT[/VERSION]]]",
		Short: "List repositories, a repository's projects, a project's releases or a release's files",
		Example: `  wharf ls                      # repositories
  wharf ls local --sort last_upload
  wharf ls local/acme-tools     # releases, newest first
  wharf ls local/acme-tools/1.2 # files with their provenance
  wharf ls local --json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.readClient(env)
			if err != nil {
				return err
			}
			ctx, out := cmd.Context(), cmd.OutOrStdout()
			var parts []string
			if len(args) == 1 {
				parts = strings.SplitN(strings.Trim(args[0], "/"), "/", 3)
			}
			switch len(parts) {
			case 0:
				repos, err := c.ListRepos(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(out, repos)
				}
				tw := table(out)
				fmt.Fprintln(tw, "REPOSITORY\tKIND\tACCESS\tDESCRIPTION")
				for _, r := range repos {
					access := "private"
					if r.Public {
						access = "public"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Kind, access, dash(r.Description))
				}
				return tw.Flush()
			case 1:
				var ps []adminapi.ProjectEntry
				for {
					page, err := c.ListProjects(ctx, parts[0], q)
					if err != nil {
						return err
					}
					ps = append(ps, page.Projects...)
					if !all || !page.More {
						if page.More && !asJSON {
							defer fmt.Fprintf(cmd.ErrOrStderr(), "more projects follow: --offset %d, or --all\n", page.NextOffset)
						}
						break
					}
					q.Offset = page.NextOffset
				}
				if asJSON {
					return printJSON(out, ps)
				}
				tw := table(out)
				fmt.Fprintln(tw, "PROJECT\tLAST UPLOAD\tSUMMARY")
				for _, p := range ps {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", p.DisplayName, when(p.LastUpload, "-"), dash(p.Summary))
				}
				return tw.Flush()
			}
			p, err := c.GetProject(ctx, parts[0], parts[1])
			if err != nil {
				return err
			}
			if len(parts) == 2 {
				if asJSON {
					return printJSON(out, p)
				}
				fmt.Fprintf(out, "%s/%s  %s\n", p.Repo, p.DisplayName, p.Summary)
				fmt.Fprintf(out, "downloads: %d last day, %d last week, %d last month\n\n", p.Downloads.LastDay, p.Downloads.LastWeek, p.Downloads.LastMonth)
				tw := table(out)
				fmt.Fprintln(tw, "VERSION\tFILES\tUPLOADED\tDOWNLOADS (30D)\tYANKED")
				for _, r := range p.Releases {
					yanked := "-"
					if r.Yanked {
						yanked = "yes " + r.YankedReason
					}
					first := ""
					if len(r.Files) > 0 {
						first = when(r.Files[0].UploadedAt, "-")
					}
					fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\n", r.Version, len(r.Files), first, r.Downloads.LastMonth, strings.TrimSpace(yanked))
				}
				return tw.Flush()
			}
			rel, ok := findRelease(p, parts[2])
			if !ok {
				return fmt.Errorf("project %s has no release %s in repository %s", p.Name, parts[2], p.Repo)
			}
			if asJSON {
				return printJSON(out, rel)
			}
			printFiles(out, rel)
			return nil
		},
	}
	conn.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&q.Prefix, "prefix", "", "only projects whose name starts with this")
	f.StringVar(&q.Sort, "sort", "", "order of projects: name (default) or last_upload")
	f.IntVar(&q.Offset, "offset", 0, "skip this many projects")
	f.IntVar(&q.Limit, "limit", 0, "projects per page (default 100, at most 1000)")
	f.BoolVar(&all, "all", false, "fetch every page")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func findRelease(p adminapi.ProjectDetail, version string) (adminapi.ReleaseDetail, bool) {
	for _, r := range p.Releases {
		if r.Version == version {
			return r, true
		}
	}
	return adminapi.ReleaseDetail{}, false
}

// printFiles shows a release's files, each with how it arrived.
func printFiles(w io.Writer, r adminapi.ReleaseDetail) {
	tw := table(w)
	fmt.Fprintln(tw, "FILE\tSIZE\tUPLOADED\tSHA256\tPROVENANCE")
	for _, f := range r.Files {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", f.Filename, f.Size, when(f.UploadedAt, "-"), f.SHA256[:12]+"…", provenanceString(f.Provenance))
	}
	tw.Flush()
}

// provenanceString is one line saying how a file arrived.
func provenanceString(p registry.Provenance) string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	switch p.Kind {
	case registry.ProvenanceTrusted:
		parts = append(parts, "trusted publishing")
		add("publisher", p.Publisher)
		add("repository", p.Repository)
		add("workflow", p.WorkflowRef)
		add("ref", p.Ref)
		add("sha", p.SHA)
		add("run", p.RunID)
		add("attempt", p.RunAttempt)
		add("environment", p.Environment)
		add("event", p.Event)
	case registry.ProvenanceToken:
		parts = append(parts, "token")
		add("id", p.TokenID)
		if p.TokenDescription != "" {
			parts = append(parts, fmt.Sprintf("%q", p.TokenDescription))
		}
	case registry.ProvenanceRemote:
		parts = append(parts, "cached")
		add("upstream", p.Upstream)
	default:
		parts = append(parts, "unknown (uploaded before provenance was recorded)")
		add("by", p.TokenID)
	}
	add("client", p.UserAgent)
	return strings.Join(parts, " ")
}

func newSearchCmd(env Env) *cobra.Command {
	var (
		conn   connFlags
		limit  int
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "search TEXT",
		Short: "Search projects by name and summary in the repositories you can read",
		Example: `  wharf search requests
  wharf search "http client" --json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.readClient(env)
			if err != nil {
				return err
			}
			res, err := c.Search(cmd.Context(), strings.Join(args, " "), limit)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), res.Projects)
			}
			tw := table(cmd.OutOrStdout())
			fmt.Fprintln(tw, "REPOSITORY\tPROJECT\tLAST UPLOAD\tSUMMARY")
			for _, p := range res.Projects {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Repo, p.DisplayName, when(p.LastUpload, "-"), dash(p.Summary))
			}
			return tw.Flush()
		},
	}
	conn.register(cmd.Flags())
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many results (default 20)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newWhoamiCmd(env Env) *cobra.Command {
	var (
		conn   connFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show the token in use: its ID, scope, origin and expiry",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client(env)
			if err != nil {
				return err
			}
			w, err := c.Whoami(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, w)
			}
			fmt.Fprintf(out, "token:   %s\nscope:   %s\norigin:  %s\nexpires: %s\n", w.TokenID, scopeString(w.Scope), dash(w.Origin), when(w.ExpiresAt, "never"))
			return nil
		},
	}
	conn.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newCatalogCmd(env Env) *cobra.Command {
	var conn connFlags
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Maintain the catalog of file details (core metadata, provenance)",
	}
	conn.register(cmd.PersistentFlags())
	cmd.AddCommand(&cobra.Command{
		Use:   "backfill",
		Short: "Record the details of files stored before wharf kept them (the server also does it at start; idempotent)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client(env)
			if err != nil {
				return err
			}
			res, err := c.Backfill(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d files filled\n", res.Filled)
			return nil
		},
	})
	return cmd
}

// writeJSONLines writes one JSON value per line.
func writeJSONLines[T any](w io.Writer, vs []T) error {
	enc := json.NewEncoder(w)
	for _, v := range vs {
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	return nil
}
