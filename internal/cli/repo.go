package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wharf-dev/wharf/internal/adminapi"
)

func newRepoCmd(env Env) *cobra.Command {
	var conn connFlags
	cmd := &cobra.Command{
		Use:   "repo",
		Short: "Create, list and delete repositories",
	}
	conn.register(cmd.PersistentFlags())
	cmd.AddCommand(newRepoCreateCmd(env, &conn), newRepoListCmd(env, &conn), newRepoDeleteCmd(env, &conn))
	return cmd
}

func newRepoCreateCmd(env Env, conn *connFlags) *cobra.Command {
	var (
		private     bool
		description string
		settings    repoSettingsFlags
	)
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a hosted, remote or virtual repository (public unless --private)",
		Example: `  wharf repo create team --description "Packages of the platform team"
  wharf repo create internal --private
  wharf repo create pypi-mirror --kind remote --upstream https://pypi.org/simple/ --min-release-age 72h
  wharf repo create corp --kind remote --upstream https://pkgs.example.com/simple/ \
      --auth basic --username ci --secret corp-password
  wharf repo create everything --kind virtual --member team --member pypi-mirror --upload-to team`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.client(env)
			if err != nil {
				return err
			}
			req := adminapi.CreateRepoRequest{Name: args[0], Public: !private, Description: description}
			if err := settings.apply(cmd, &req); err != nil {
				return err
			}
			r, err := c.CreateRepo(cmd.Context(), req)
			if err != nil {
				return err
			}
			vis := "public"
			if !r.Public {
				vis = "private"
			}
			kind := ""
			if r.Kind != "hosted" {
				kind = r.Kind + " "
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created %s %srepository %s\n", vis, kind, r.Name)
			fmt.Fprintf(cmd.ErrOrStderr(), "  index:  %s/%s/simple/\n", conn.serverURL(env), r.Name)
			if r.Kind == "hosted" || (r.Virtual != nil && r.Virtual.UploadTo != "") {
				fmt.Fprintf(cmd.ErrOrStderr(), "  upload: %s/%s/legacy/\n", conn.serverURL(env), r.Name)
			}
			if r.Remote != nil && r.Remote.Secret != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "  let it use its secret: wharf secret grant %s --repo %s\n", r.Remote.Secret, r.Name)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&private, "private", false, "reading needs a token too (default: anyone may read)")
	cmd.Flags().StringVar(&description, "description", "", "what the repository is for")
	settings.register(cmd.Flags())
	return cmd
}

func newRepoListCmd(env Env, conn *connFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the repositories the token can read",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client(env)
			if err != nil {
				return err
			}
			repos, err := c.ListRepos(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), repos)
			}
			tw := table(cmd.OutOrStdout())
			fmt.Fprintln(tw, "NAME\tKIND\tACCESS\tCREATED\tDESCRIPTION\tSETTINGS")
			for _, r := range repos {
				access := "public"
				if !r.Public {
					access = "private"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Kind, access, when(r.CreatedAt, "-"), dash(r.Description), settingsSummary(r))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newRepoDeleteCmd(env Env, conn *connFlags) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a repository with all its projects and files",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.client(env)
			if err != nil {
				return err
			}
			what := fmt.Sprintf("delete repository %s and every file in it", args[0])
			if err := confirm(env.Stdin, cmd.ErrOrStderr(), isTerminal(env.Stdin), yes, what); err != nil {
				return err
			}
			if err := c.DeleteRepo(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted repository %s\n", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	return cmd
}
