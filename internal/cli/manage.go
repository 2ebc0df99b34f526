package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/wharf-dev/wharf/internal/registry"
)

// addManagementCommands adds the commands that manage a running wharf
// through its admin API: repo, token, publisher, yank, unyank, delete and
// audit.
func addManagementCommands(root *cobra.Command, env Env) {
	root.AddCommand(
		newRepoCmd(env),
		newTokenCmd(env),
		newPublisherCmd(env),
		newYankCmd(env, true),
		newYankCmd(env, false),
		newDeleteCmd(env),
		newAuditCmd(env),
		newSecretCmd(env),
		newPolicyCmd(env),
		newMigrateCmd(env),
	)
}

// table returns a tabwriter for aligned columns; call Flush when done.
func table(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// when formats a time for tables: UTC to the minute, or dflt when zero.
func when(t time.Time, dflt string) string {
	if t.IsZero() {
		return dflt
	}
	return t.UTC().Format("2006-01-02 15:04")
}

// dash shows empty cells as "-" so columns stay readable.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// scopeString is a one-line description of a scope:
// "read,upload repos=local projects=acme-*".
func scopeString(s registry.Scope) string {
	acts := make([]string, len(s.Actions))
	for i, a := range s.Actions {
		acts[i] = string(a)
	}
	out := strings.Join(acts, ",")
	if len(s.Repos) > 0 {
		out += " repos=" + strings.Join(s.Repos, ",")
	}
	if len(s.Projects) > 0 {
		out += " projects=" + strings.Join(s.Projects, ",")
	}
	return out
}

// isTerminal reports whether r is a terminal: only then may a command ask
// a question. (A character-device test is not enough: /dev/null is one.)
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// confirm asks before something that cannot be undone. With --yes it does
// not ask; without a terminal to ask on it refuses, so a script that forgot
// --yes fails instead of hanging or deleting.
func confirm(in io.Reader, out io.Writer, terminal, yes bool, what string) error {
	if yes {
		return nil
	}
	if !terminal {
		return fmt.Errorf("refusing to %s without --yes: input is not a terminal to confirm on", what)
	}
	fmt.Fprintf(out, "%s? This cannot be undone. Type 'yes' to go on: ", capitalize(what))
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if a := strings.ToLower(strings.TrimSpace(line)); a != "yes" && a != "y" {
		return errors.New("cancelled, nothing was changed")
	}
	return nil
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
