package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/wharf-dev/wharf/internal/adminapi"
	"github.com/wharf-dev/wharf/internal/config"
	"github.com/wharf-dev/wharf/internal/secrets"
	"github.com/wharf-dev/wharf/internal/server"
	"github.com/wharf-dev/wharf/internal/store"
)

// secretBackend is what secret commands need: the admin API of a server,
// or (--data / --config) the data directory itself, as token commands do.
type secretBackend interface {
	create(ctx context.Context, name string) error
	addVersion(ctx context.Context, name string, value []byte) (int, error)
	list(ctx context.Context) ([]secrets.Info, error)
	setState(ctx context.Context, name string, version int, action string) error
	grant(ctx context.Context, name, repo string) error
	revoke(ctx context.Context, name, repo string) error
}

type remoteSecrets struct{ c *adminapi.Client }

func (r remoteSecrets) create(ctx context.Context, name string) error {
	_, err := r.c.CreateSecret(ctx, name)
	return err
}
func (r remoteSecrets) addVersion(ctx context.Context, name string, value []byte) (int, error) {
	return r.c.AddSecretVersion(ctx, name, value)
}
func (r remoteSecrets) list(ctx context.Context) ([]secrets.Info, error) { return r.c.ListSecrets(ctx) }
func (r remoteSecrets) setState(ctx context.Context, name string, v int, action string) error {
	return r.c.SetSecretVersionState(ctx, name, v, action)
}
func (r remoteSecrets) grant(ctx context.Context, name, repo string) error {
	return r.c.GrantSecret(ctx, name, repo)
}
func (r remoteSecrets) revoke(ctx context.Context, name, repo string) error {
	return r.c.RevokeSecret(ctx, name, repo)
}

// localSecrets works on the stores directly; the audit actor is "cli".
type localSecrets struct{ svc *secrets.Service }

func cliCtx(ctx context.Context) context.Context { return secrets.WithActor(ctx, "cli") }

func (l localSecrets) create(ctx context.Context, name string) error {
	return l.svc.Create(cliCtx(ctx), name)
}
func (l localSecrets) addVersion(ctx context.Context, name string, value []byte) (int, error) {
	return l.svc.AddVersion(cliCtx(ctx), name, value)
}
func (l localSecrets) list(ctx context.Context) ([]secrets.Info, error) { return l.svc.List(ctx) }
func (l localSecrets) setState(ctx context.Context, name string, v int, action string) error {
	switch action {
	case "disable":
		return l.svc.DisableVersion(cliCtx(ctx), name, v)
	case "enable":
		return l.svc.EnableVersion(cliCtx(ctx), name, v)
	default:
		return l.svc.DestroyVersion(cliCtx(ctx), name, v)
	}
}
func (l localSecrets) grant(ctx context.Context, name, repo string) error {
	return l.svc.Grant(cliCtx(ctx), name, repo)
}
func (l localSecrets) revoke(ctx context.Context, name, repo string) error {
	return l.svc.Revoke(cliCtx(ctx), name, repo)
}

// openLocalSecrets opens the stores and keys of a data directory or
// configuration file, as `wharf serve` would.
func openLocalSecrets(ctx context.Context, f *tokenFlags, env Env) (*secrets.Service, *config.Config, store.Store, error) {
	sf := serveFlags{config: f.config, data: f.data}
	cfg, err := sf.load(env)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := requireInstallation(cfg, f.init); err != nil {
		return nil, nil, nil, err
	}
	st, _, err := server.OpenStores(ctx, cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	kek, previous, err := server.LoadKEKs(cfg, log)
	if err == nil {
		var svc *secrets.Service
		if svc, err = secrets.New(secrets.Config{Store: st, KEK: kek, PreviousKEKs: previous}); err == nil {
			return svc, cfg, st, nil
		}
	}
	st.Close()
	return nil, nil, nil, err
}

func (f *tokenFlags) openSecrets(ctx context.Context, cmd *cobra.Command, env Env) (secretBackend, func(), error) {
	if !f.local() {
		c, err := f.conn.client(env)
		if err != nil {
			return nil, nil, err
		}
		return remoteSecrets{c}, func() {}, nil
	}
	if err := f.noConnFlags(cmd); err != nil {
		return nil, nil, err
	}
	svc, _, st, err := openLocalSecrets(ctx, f, env)
	if err != nil {
		return nil, nil, err
	}
	return localSecrets{svc}, func() { st.Close() }, nil
}

func (f *tokenFlags) noConnFlags(cmd *cobra.Command) error {
	for _, name := range []string{"server", "token", "ca-file"} {
		if fl := cmd.Flags().Lookup(name); fl != nil && fl.Changed {
			return fmt.Errorf("--%s cannot be combined with --data or --config: those work on the data directory, not through a server", name)
		}
	}
	return nil
}

func newSecretCmd(env Env) *cobra.Command {
	var f tokenFlags
	cmd := &cobra.Command{
		Use:   "secret",
		Short: "Manage the encrypted secret store (upstream credentials)",
		Long: `Manage the encrypted secret store: named secrets with numbered versions,
used by remote repositories to authenticate to their upstream. Values are read
from stdin or a file, never from the command line, and no command prints them.

By default these commands talk to a server (--server, --token, an admin
token). With --data or --config they work directly on the data directory
(and its key-encryption key); rotate-kek works only that way.`,
	}
	pf := cmd.PersistentFlags()
	f.conn.register(pf)
	pf.StringVar(&f.data, "data", "", "work on this data directory instead of a server")
	pf.StringVarP(&f.config, "config", "c", "", "work on the stores of this configuration file instead of a server")

	run := func(fn func(ctx context.Context, b secretBackend, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			b, done, err := f.openSecrets(cmd.Context(), cmd, env)
			if err != nil {
				return err
			}
			defer done()
			return fn(cmd.Context(), b, cmd, args)
		}
	}

	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a secret (no versions yet: add one with add-version)",
		Args:  cobra.ExactArgs(1),
		RunE: run(func(ctx context.Context, b secretBackend, cmd *cobra.Command, args []string) error {
			if err := b.create(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created secret %s; add its value with: wharf secret add-version %s < FILE\n", args[0], args[0])
			return nil
		}),
	}

	var fromFile string
	addVersion := &cobra.Command{
		Use:   "add-version NAME",
		Short: "Add a version, reading the value from stdin (or --from-file)",
		Long: `Add a version to a secret. The value is read from stdin, or from the file
--from-file names, never from the command line (which other users can see).
One trailing newline is dropped, so 'echo' and editors do not change the value.
Repositories referring to the secret's "latest" version use it from their next
upstream request on.`,
		Example: `  wharf secret add-version pypi-token < token.txt
  wharf secret add-version pypi-token --from-file /run/secrets/pypi-token`,
		Args: cobra.ExactArgs(1),
		RunE: run(func(ctx context.Context, b secretBackend, cmd *cobra.Command, args []string) error {
			value, err := readSecretValue(cmd, env, fromFile)
			if err != nil {
				return err
			}
			defer clear(value)
			n, err := b.addVersion(ctx, args[0], value)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "added version %d of secret %s (%d bytes)\n", n, args[0], len(value))
			return nil
		}),
	}
	addVersion.Flags().StringVar(&fromFile, "from-file", "", "read the value from this file instead of stdin")

	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List secrets, their versions and grants (never values)",
		Args:  cobra.NoArgs,
		RunE: run(func(ctx context.Context, b secretBackend, cmd *cobra.Command, _ []string) error {
			infos, err := b.list(ctx)
			if err != nil {
				return err
			}
			if asJSON {
				if infos == nil {
					infos = []secrets.Info{}
				}
				return printJSON(cmd.OutOrStdout(), infos)
			}
			tw := table(cmd.OutOrStdout())
			fmt.Fprintln(tw, "NAME\tVERSIONS\tGRANTED TO\tKEK\tCREATED")
			for _, s := range infos {
				vs := ""
				for i, v := range s.Versions {
					if i > 0 {
						vs += " "
					}
					vs += strconv.Itoa(v.Version) + ":" + string(v.State)
				}
				grants := ""
				for i, g := range s.Grants {
					if i > 0 {
						grants += ","
					}
					grants += g
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Name, dash(vs), dash(grants), s.KEKID, when(s.CreatedAt, "-"))
			}
			return tw.Flush()
		}),
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	state := func(action, short string) *cobra.Command {
		return &cobra.Command{
			Use:   action + "-version NAME VERSION",
			Short: short,
			Args:  cobra.ExactArgs(2),
			RunE: run(func(ctx context.Context, b secretBackend, cmd *cobra.Command, args []string) error {
				v, err := strconv.Atoi(args[1])
				if err != nil || v < 1 {
					return fmt.Errorf("VERSION must be a version number such as 1, not %q", args[1])
				}
				if err := b.setState(ctx, args[0], v, action); err != nil {
					return err
				}
				done := map[string]string{"disable": "disabled", "enable": "enabled", "destroy": "destroyed"}[action]
				fmt.Fprintf(cmd.OutOrStdout(), "%s version %d of secret %s\n", done, v, args[0])
				return nil
			}),
		}
	}

	grantCmd := func(on bool) *cobra.Command {
		var repo string
		use, short := "grant NAME --repo REPO", "Let a repository use a secret for its upstream"
		if !on {
			use, short = "revoke NAME --repo REPO", "Withdraw a repository's access to a secret"
		}
		c := &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: run(func(ctx context.Context, b secretBackend, cmd *cobra.Command, args []string) error {
				if repo == "" {
					return errors.New("name the repository with --repo")
				}
				if on {
					if err := b.grant(ctx, args[0], repo); err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "repository %s may now use secret %s\n", repo, args[0])
					return nil
				}
				if err := b.revoke(ctx, args[0], repo); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "repository %s may no longer use secret %s\n", repo, args[0])
				return nil
			}),
		}
		c.Flags().StringVar(&repo, "repo", "", "the repository (required)")
		return c
	}

	cmd.AddCommand(create, addVersion, list,
		state("disable", "Disable a version (\"latest\" then means the newest enabled one)"),
		state("enable", "Enable a disabled version again"),
		state("destroy", "Delete a version's value for good"),
		grantCmd(true), grantCmd(false), newRotateKEKCmd(env, &f))
	return cmd
}

// readSecretValue reads a value from --from-file or stdin, bounded, and
// drops one trailing newline.
func readSecretValue(cmd *cobra.Command, env Env, fromFile string) ([]byte, error) {
	var r io.Reader = env.Stdin
	what := "stdin"
	if fromFile != "" {
		fh, err := os.Open(fromFile)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		r, what = fh, fromFile
	} else if isTerminal(env.Stdin) {
		fmt.Fprintln(cmd.ErrOrStderr(), "type the value, then Ctrl-D on a line of its own (or pipe it in / use --from-file):")
	}
	if r == nil {
		return nil, errors.New("no value: pipe it to stdin or use --from-file")
	}
	b, err := io.ReadAll(io.LimitReader(r, secrets.DefaultMaxValueSize+3))
	if err != nil {
		return nil, fmt.Errorf("reading the value from %s: %w", what, err)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) == 0 {
		return nil, fmt.Errorf("the value read from %s is empty", what)
	}
	return b, nil
}

func newRotateKEKCmd(env Env, f *tokenFlags) *cobra.Command {
	var newFile string
	cmd := &cobra.Command{
		Use:   "rotate-kek --new-kek-file FILE (--data DIR | --config FILE)",
		Short: "Re-wrap every data key under a new key-encryption key",
		Long: `Re-wrap every secret's data key under a new key-encryption key (KEK), in one
transaction. Values are not re-encrypted (their data keys stay the same); after
the rotation the old KEK can read nothing.

With a configured KEK (secrets.kek_file or secrets.kek_env), give the new key
with --new-kek-file, then point secrets.kek_file at it and restart. Servers
that must keep running during the rotation should list the new file in
secrets.previous_kek_files beforehand.

With the generated <data_dir>/kek, --new-kek-file may be left out (a new key is
generated); the new key replaces <data_dir>/kek. Restart running servers.`,
		Example: `  head -c 32 /dev/urandom | base64 > /etc/wharf/kek-2026
  wharf secret rotate-kek --new-kek-file /etc/wharf/kek-2026 --config /etc/wharf/wharf.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !f.local() {
				return errors.New("rotate-kek works on the data directory: add --data DIR or --config FILE (key material never travels through the API)")
			}
			if err := f.noConnFlags(cmd); err != nil {
				return err
			}
			ctx := secrets.WithActor(cmd.Context(), "cli")
			svc, cfg, st, err := openLocalSecrets(ctx, f, env)
			if err != nil {
				return err
			}
			defer st.Close()
			generated := cfg.Secrets.KEK == ""
			var newKEK []byte
			switch {
			case newFile != "":
				if newKEK, err = secrets.ReadKEKFile(newFile); err != nil {
					return fmt.Errorf("--new-kek-file: %w", err)
				}
			case generated:
				newKEK = make([]byte, secrets.KEKSize)
				rand.Read(newKEK)
			default:
				return errors.New("name the new key with --new-kek-file (make one with: head -c 32 /dev/urandom | base64 > FILE)")
			}
			if secrets.KEKID(newKEK) == svc.KEKID() {
				return errors.New("the new key-encryption key is the current one")
			}
			out := cmd.OutOrStdout()
			if !generated {
				n, err := svc.RotateKEK(ctx, newKEK)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "re-wrapped %d data keys under key-encryption key %s\n", n, secrets.KEKID(newKEK))
				fmt.Fprintf(out, "now set secrets.kek_file to the new key (or secrets.kek_env's variable to its content) and restart every server\n")
				return nil
			}
			// The generated key: the new key is written to kek.new before
			// the database changes, and renamed over kek after, so a crash
			// at any point leaves a key that reads every data key (the
			// server also reads with kek.new).
			current, next := server.KEKFiles(cfg)
			if k, err := secrets.ReadKEKFile(next); err == nil {
				// An interrupted rotation: finish it first.
				if _, err := svc.RotateKEK(ctx, k); err != nil {
					return err
				}
				if err := os.Rename(next, current); err != nil {
					return err
				}
			} else if !errors.Is(err, os.ErrNotExist) {
				return err
			}
			if err := secrets.WriteKEKFile(next, newKEK); err != nil {
				return err
			}
			n, err := svc.RotateKEK(ctx, newKEK)
			if err != nil {
				os.Remove(next)
				return err
			}
			if err := os.Rename(next, current); err != nil {
				return fmt.Errorf("the data keys are wrapped under %s but it could not replace %s: %w", next, current, err)
			}
			fmt.Fprintf(out, "re-wrapped %d data keys under key-encryption key %s, now in %s; restart running servers\n", n, secrets.KEKID(newKEK), current)
			return nil
		},
	}
	cmd.Flags().StringVar(&newFile, "new-kek-file", "", "file holding the new key (32 random bytes in base64 or hex)")
	return cmd
}
