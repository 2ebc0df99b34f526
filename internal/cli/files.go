package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// newYankCmd builds `wharf yank` (yank true) or `wharf unyank`.
func newYankCmd(env Env, yank bool) *cobra.Command {
	var (
		conn   connFlags
		repo   string
		reason string
	)
	cmd := &cobra.Command{
		Use:     "yank --repo REPO PROJECT VERSION",
		Short:   "Yank a release (PEP 592): installers skip it unless pinned to it",
		Example: `  wharf yank --repo local acme 1.2.0 --reason "breaks on Python 3.13"`,
		Args:    cobra.ExactArgs(2),
	}
	if !yank {
		cmd.Use = "unyank --repo REPO PROJECT VERSION"
		cmd.Short = "Undo a yank"
		cmd.Example = "  wharf unyank --repo local acme 1.2.0"
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := conn.client(env)
		if err != nil {
			return err
		}
		project, version := args[0], args[1]
		verb := "yanked"
		var n int
		if yank {
			n, err = c.Yank(cmd.Context(), repo, project, version, reason)
		} else {
			verb = "unyanked"
			n, err = c.Unyank(cmd.Context(), repo, project, version)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s %s %s in %s (%s)\n", verb, project, version, repo, files(n))
		return nil
	}
	conn.register(cmd.Flags())
	cmd.Flags().StringVar(&repo, "repo", "", "repository (required)")
	_ = cmd.MarkFlagRequired("repo")
	if yank {
		cmd.Flags().StringVar(&reason, "reason", "", "why, shown to people who install it anyway")
	}
	return cmd
}

func newDeleteCmd(env Env) *cobra.Command {
	var (
		conn connFlags
		repo string
		yes  bool
	)
	cmd := &cobra.Command{
		Use:   "delete --repo REPO PROJECT [VERSION [FILENAME]] --yes",
		Short: "Delete a project, a release or one file for good",
		Long: `Delete a project, a release or one file. A deleted filename can never be
uploaded again, so prefer 'wharf yank' for a release that is merely broken.`,
		Example: `  wharf delete --repo local acme 1.2.0 acme-1.2.0.tar.gz --yes
  wharf delete --repo local acme 1.2.0 --yes
  wharf delete --repo local acme --yes`,
		Args: cobra.RangeArgs(1, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.client(env)
			if err != nil {
				return err
			}
			what := "delete project " + args[0]
			switch len(args) {
			case 2:
				what = fmt.Sprintf("delete release %s %s", args[0], args[1])
			case 3:
				what = fmt.Sprintf("delete file %s of %s %s", args[2], args[0], args[1])
			}
			what += " from " + repo
			if err := confirm(env.Stdin, cmd.ErrOrStderr(), isTerminal(env.Stdin), yes, what); err != nil {
				return err
			}
			var n int
			switch len(args) {
			case 1:
				n, err = c.DeleteProject(cmd.Context(), repo, args[0])
			case 2:
				n, err = c.DeleteRelease(cmd.Context(), repo, args[0], args[1])
			default:
				n, err = c.DeleteFile(cmd.Context(), repo, args[0], args[1], args[2])
			}
			if err != nil {
				return err
			}
			done, _ := strings.CutPrefix(what, "delete ")
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %s (%s)\n", done, files(n))
			return nil
		},
	}
	conn.register(cmd.Flags())
	cmd.Flags().StringVar(&repo, "repo", "", "repository (required)")
	_ = cmd.MarkFlagRequired("repo")
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	return cmd
}

func files(n int) string {
	if n == 1 {
		return "1 file"
	}
	return fmt.Sprintf("%d files", n)
}
