package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/wharf-dev/wharf/internal/backup"
	"github.com/wharf-dev/wharf/internal/server"
)

func newBackupCmd(env Env) *cobra.Command {
	var (
		f         serveFlags
		to        string
		noKEK     bool
		mbPerSec  = func(bytes int64, secs float64) float64 { return float64(bytes) / 1e6 / max(secs, 1e-3) }
		filesRate = func(n int64, secs float64) float64 { return float64(n) / max(secs, 1e-3) }
	)
	cmd := &cobra.Command{
		Use:   "backup --to DIR|FILE.tar [--data DIR | --config FILE]",
		Short: "Take a consistent online backup of an embedded installation (SQLite + files)",
		Long: `backup snapshots an embedded installation while it runs: the SQLite database
as of one instant (VACUUM INTO: uploads go on meanwhile) and every blob that
snapshot references, each re-hashed as it is copied. Files uploaded after
that instant are not in the backup; nothing in it lacks its file.

--to DIR writes a data directory (in an emergency 'wharf serve --data DIR'
serves it as it is, but then it is no longer a pristine backup: restore a
copy instead); --to FILE.tar writes the same files as one archive. The backup is
written under DIR.partial (FILE.tar.partial) and renamed when complete; its
manifest, wharf-backup.json, is written last. A backup interrupted midway
keeps the .partial name and 'wharf restore' refuses it.

The key-encryption key that seals the secret store is copied when it is the
generated <data_dir>/kek (the embedded default), so the restored secrets
open; --without-kek leaves it out (keep it elsewhere, then). A key named by
secrets.kek_file or kek_env is never copied: back it up on its own.

PostgreSQL + S3 installations are backed up with those systems' tools (see
docs/operations.md).`,
		Example: `  wharf backup --data ./wharf-data --to /backups/wharf-$(date +%F).tar
  wharf restore /backups/wharf-2026-12-03.tar --data ./wharf-restored
  wharf serve --data ./wharf-restored`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return errors.New("say where to write the backup with --to DIR or --to FILE.tar")
			}
			cfg, err := f.load(env)
			if err != nil {
				return err
			}
			if cfg.Database.Driver == "postgres" {
				return errors.New("this installation runs on PostgreSQL: back it up with pg_dump (or pg_basebackup) and the bucket with the object store's replication or versioning; see docs/operations.md")
			}
			if _, err := os.Stat(cfg.Database.DSN.Value()); err != nil {
				return fmt.Errorf("no installation to back up: %w", err)
			}
			ctx := cmd.Context()
			st, bs, err := server.OpenStores(ctx, cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			bc := backup.Config{Store: st, Blobs: bs, Progress: env.Stderr}
			if cfg.Secrets.KEK == "" && !noKEK {
				bc.KEKFile, _ = server.KEKFiles(cfg)
			}
			rep, err := backup.Create(ctx, bc, to)
			if err != nil {
				return err
			}
			secs := rep.Duration.Seconds()
			fmt.Fprintf(cmd.OutOrStdout(), "backup complete: %s\n  database %.1f MB, %d files (%.1f MB) in %.1fs: %.0f files/s, %.1f MB/s\n",
				rep.Path, float64(rep.DatabaseSize)/1e6, rep.Blobs, float64(rep.BlobBytes)/1e6, secs,
				filesRate(rep.Blobs, secs), mbPerSec(rep.BlobBytes, secs))
			switch {
			case rep.KEK:
				fmt.Fprintln(cmd.OutOrStdout(), "  it holds the key-encryption key: keep it as safe as the data directory")
			case cfg.Secrets.KEK != "":
				fmt.Fprintln(cmd.OutOrStdout(), "  the key-encryption key (secrets.kek_file / kek_env) is not in it: back that up on its own")
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.data, "data", "", "data directory of the installation (default ./wharf-data)")
	fl.StringVar(&f.config, "config", "", "configuration file of the installation")
	fl.StringVar(&to, "to", "", "new directory, or FILE.tar, to write the backup to")
	fl.BoolVar(&noKEK, "without-kek", false, "leave the generated key-encryption key out of the backup")
	cmd.MarkFlagsMutuallyExclusive("data", "config")
	return cmd
}

func newRestoreCmd(env Env) *cobra.Command {
	var data string
	cmd := &cobra.Command{
		Use:   "restore BACKUP --data NEWDIR",
		Short: "Restore a backup taken by 'wharf backup' into a new data directory",
		Long: `restore unpacks a backup (a directory or .tar written by 'wharf backup') into a
new data directory, checking the database and every file against the
backup's manifest. An incomplete backup (interrupted, no manifest) is
refused. Start the restored installation with 'wharf serve --data NEWDIR'.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if data == "" {
				return errors.New("name the new data directory with --data NEWDIR")
			}
			rep, err := backup.Restore(cmd.Context(), args[0], data, env.Stderr)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "restored the backup of %s into %s: %d files (%.1f MB) in %.1fs\nstart it with: wharf serve --data %s\n",
				rep.Created.Format("2006-01-02 15:04:05 MST"), rep.Path, rep.Blobs, float64(rep.BlobBytes)/1e6, rep.Duration.Seconds(), rep.Path)
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "new (or empty) directory to restore into")
	return cmd
}
