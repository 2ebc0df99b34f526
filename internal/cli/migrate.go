package cli

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wharf-dev/wharf/internal/blob"
	"github.com/wharf-dev/wharf/internal/config"
	"github.com/wharf-dev/wharf/internal/migrate"
	"github.com/wharf-dev/wharf/internal/secrets"
	"github.com/wharf-dev/wharf/internal/server"
	"github.com/wharf-dev/wharf/internal/store"
)

func newMigrateCmd(env Env) *cobra.Command {
	var (
		fromData, fromConfig, toConfig string
		dryRun, force, prune           bool
	)
	cmd := &cobra.Command{
		Use:   "migrate (--from-data DIR | --from-config OLD.yaml) --to-config NEW.yaml",
		Short: "Copy an installation to other backends (SQLite + files to PostgreSQL + S3)",
		Long: `migrate copies everything an installation stores to the database and blob
store of another configuration: repositories and their settings, projects,
files (the blobs rows reference, each re-hashed on the way), tombstones, tokens (as hashes),
publishers, trust policies, secrets (as ciphertexts), the remote cache and
the audit log. It then checks the copy: rows counted per table and every
blob in the target re-read and hashed.

Run it before the first start of the new configuration. It can run next to
the old server; run it again after stopping the old server, then start the
new one. The re-run copies only what is missing or changed; add --prune to
it so that what the old server deleted in between (files, tokens,
publishers, policies, secrets, expired replay records) is deleted from the
copy too. A target holding data the source does not have is otherwise
refused, unless --force (which keeps that data).

Secrets are copied sealed: the target must be configured with the same
key-encryption key (secrets.kek_file; the embedded default keeps it in
<data_dir>/kek), or the copy is refused before anything is written.`,
		Example: `  wharf migrate --from-data ./wharf-data --to-config /etc/wharf/wharf.yaml --dry-run
  wharf migrate --from-data ./wharf-data --to-config /etc/wharf/wharf.yaml
  # at the cut-over, with the old server stopped:
  wharf migrate --from-data ./wharf-data --to-config /etc/wharf/wharf.yaml --prune`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (fromData == "") == (fromConfig == "") {
				return errors.New("name the installation to copy with exactly one of --from-data DIR or --from-config FILE")
			}
			if toConfig == "" {
				return errors.New("name the target with --to-config FILE (its database and blobs sections say where to copy)")
			}
			ctx := cmd.Context()
			src, err := (&serveFlags{data: fromData, config: fromConfig}).load(env)
			if err != nil {
				return fmt.Errorf("source: %w", err)
			}
			dst, err := (&serveFlags{config: toConfig}).load(env)
			if err != nil {
				return fmt.Errorf("target: %w", err)
			}
			if fromData != "" {
				if _, err := os.Stat(fromData); err != nil {
					return fmt.Errorf("source: %w", err)
				}
			}
			if sameStores(src, dst) {
				return errors.New("the source and the target name the same database; --to-config must point at the new backends")
			}
			from, fromBlobs, err := server.OpenStores(ctx, src)
			if err != nil {
				return fmt.Errorf("source: %w", err)
			}
			defer from.Close()
			// Everything that can refuse is checked before the target is
			// opened: opening its database creates the schema.
			if err := checkKEK(cmd, from, src, dst); err != nil {
				return err
			}
			toBlobs, err := server.OpenBlobs(ctx, dst)
			if err != nil {
				return fmt.Errorf("target: %w", err)
			}
			if p, ok := toBlobs.(blob.Pinger); ok {
				if err := p.Ping(ctx); err != nil {
					return fmt.Errorf("target: the object store does not answer: %w", err)
				}
			}
			if dst.Database.Driver == "sqlite" {
				if err := os.MkdirAll(dst.DataDir, 0o700); err != nil {
					return fmt.Errorf("target: %w", err)
				}
			}
			to, err := server.OpenDatabase(ctx, dst)
			if err != nil {
				return fmt.Errorf("target: %w", err)
			}
			defer to.Close()
			rep, err := migrate.Run(ctx, migrate.Config{
				From: from, To: to, FromBlobs: fromBlobs, ToBlobs: toBlobs,
				DryRun: dryRun, Force: force, Prune: prune, Progress: env.Stderr,
			})
			out := cmd.OutOrStdout()
			if rep.Tables != nil && (err == nil || errors.Is(err, migrate.ErrVerify)) {
				tw := table(out)
				fmt.Fprintln(tw, "TABLE\tSOURCE\tNEW\tCHANGED\tDELETED\tTARGET")
				for _, t := range rep.Tables {
					fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", t.Table, t.Source, t.Inserted, t.Updated, t.Deleted, t.Target)
				}
				tw.Flush()
				fmt.Fprintf(out, "blobs: %d in the source, %d copied (%d bytes), %d already there, %d verified in the target\n",
					rep.Blobs.Source, rep.Blobs.Copied, rep.Blobs.Bytes, rep.Blobs.Present, rep.Blobs.Verified)
			}
			if err != nil {
				if errors.Is(err, migrate.ErrVerify) {
					for _, p := range rep.Problems {
						fmt.Fprintln(env.Stderr, "problem:", p)
					}
					return errors.New("the copy did not verify; fix the problems above and run migrate again")
				}
				return err
			}
			if dryRun {
				fmt.Fprintln(out, "dry run: nothing was written")
			} else {
				fmt.Fprintln(out, "copied and verified; start wharf with --config", toConfig)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&fromData, "from-data", "", "data directory of the embedded installation to copy")
	f.StringVar(&fromConfig, "from-config", "", "configuration file of the installation to copy")
	f.StringVar(&toConfig, "to-config", "", "configuration file of the target (its database and blobs)")
	f.BoolVar(&dryRun, "dry-run", false, "report what would be copied, write nothing")
	f.BoolVar(&force, "force", false, "copy into a target that already holds other data (kept as it is)")
	f.BoolVar(&prune, "prune", false, "delete from the target the rows the source no longer has (the re-run at the cut-over)")
	cmd.MarkFlagsMutuallyExclusive("force", "prune")
	return cmd
}

// sameStores reports whether both configurations name one database.
func sameStores(a, b *config.Config) bool {
	return a.Database.Driver == b.Database.Driver && a.Database.DSN.Value() == b.Database.DSN.Value()
}

// checkKEK refuses a copy whose secrets the target could not open: each
// stored data key names the key-encryption key that wraps it, and the
// target must be configured with one of those.
func checkKEK(cmd *cobra.Command, from store.Store, src, dst *config.Config) error {
	recs, err := from.Secrets().List(cmd.Context())
	if err != nil {
		return fmt.Errorf("source secrets: %w", err)
	}
	var need []string
	for _, r := range recs {
		if !slices.Contains(need, r.KEKID) {
			need = append(need, r.KEKID)
		}
	}
	if len(need) == 0 {
		return nil
	}
	var have []string
	if dst.Secrets.KEK != "" {
		if k, err := secrets.ParseKEK(dst.Secrets.KEK.Value()); err == nil {
			have = append(have, secrets.KEKID(k))
		}
	} else {
		cur, _ := server.KEKFiles(dst)
		if k, err := secrets.ReadKEKFile(cur); err == nil {
			have = append(have, secrets.KEKID(k))
		}
	}
	for _, f := range dst.Secrets.PreviousKEKFiles {
		if k, err := secrets.ReadKEKFile(f); err == nil {
			have = append(have, secrets.KEKID(k))
		}
	}
	for _, id := range need {
		if !slices.Contains(have, id) {
			where := "the source's secrets.kek_file"
			if src.Secrets.KEK == "" {
				where, _ = server.KEKFiles(src)
			}
			return fmt.Errorf("the source's %d secrets are sealed under key-encryption key %s, which the target is not configured with; "+
				"give the target the same key (secrets.kek_file pointing at a copy of %s) and run migrate again",
				len(recs), strings.Join(need, ", "), where)
		}
	}
	return nil
}
