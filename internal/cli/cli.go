// Package cli is wharf's command line: `wharf serve` runs the server, the
// other commands manage it through the admin API (or, for bootstrapping,
// directly on a data directory).
package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Env is what a command may touch of the outside world; tests pass their own.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, args []string, env Env) int {
	root := newRoot(env)
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(env.Stderr, "wharf:", err)
		return 1
	}
	return 0
}

func newRoot(env Env) *cobra.Command {
	root := &cobra.Command{
		Use:   "wharf",
		Short: "wharf is a self-hosted Python package registry",
		Long: `wharf serves Python packages to pip, uv, poetry and pdm, takes uploads from
twine, flit, poetry, pdm and uv, and lets CI publish with an OpenID Connect
ID token instead of a stored secret.

Start it with 'wharf serve'; with no configuration it keeps everything under
./wharf-data and listens on 127.0.0.1:8080.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Build().String(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(newServeCmd(env), newConfigCmd(env), newDevIssuerCmd(), newPublishCmd(env), newLoginCmd(env),
		newBackupCmd(env), newRestoreCmd(env))
	addManagementCommands(root, env)
	addCatalogCommands(root, env)
	return root
}
