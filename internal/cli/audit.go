package cli

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wharf-dev/wharf/internal/adminapi"
)

func newAuditCmd(env Env) *cobra.Command {
	var (
		conn   connFlags
		q      adminapi.AuditQuery
		asJSON bool
		lines  bool
	)
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show the audit log, newest first",
		Example: `  wharf audit --repo local --limit 20
  wharf audit --action token.        # every token event
  wharf audit --project acme --json
  wharf audit --limit 1000 --jsonl > audit.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client(env)
			if err != nil {
				return err
			}
			evs, err := c.Audit(cmd.Context(), q)
			if err != nil {
				return err
			}
			if lines {
				return writeJSONLines(cmd.OutOrStdout(), evs)
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), evs)
			}
			tw := table(cmd.OutOrStdout())
			fmt.Fprintln(tw, "TIME\tACTOR\tACTION\tREPO\tPROJECT\tTARGET\tOUTCOME\tDETAIL")
			for _, e := range evs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format("2006-01-02 15:04:05"),
					dash(e.Actor), e.Action, dash(e.Repo), dash(e.Project), dash(e.Target), e.Outcome, detailString(e.Detail))
			}
			return tw.Flush()
		},
	}
	conn.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&q.Repo, "repo", "", "only events of this repository")
	f.StringVar(&q.Project, "project", "", "only events of this project")
	f.StringVar(&q.Action, "action", "", `only this action ("release.yank"), or a prefix ending in "." ("token.")`)
	f.IntVar(&q.Limit, "limit", 0, "at most this many events (default 100, at most 1000)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	f.BoolVar(&lines, "jsonl", false, "print one JSON object per line (an export)")
	return cmd
}

// detailString prints detail fields as key=value in key order; empty
// values are left out.
func detailString(d map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(d)) {
		if v := d[k]; v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	return dash(strings.Join(parts, " "))
}
