package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/wharf-dev/wharf/internal/config"
	"github.com/wharf-dev/wharf/internal/obs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/server"
)

// serveFlags override the configuration file.
type serveFlags struct {
	config, data, listen, publicURL string
	selfSigned                      bool
	dev                             devServeFlags // --dev-issuer: devissuer.go
}

func (f *serveFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.config, "config", "c", "", "configuration file (YAML); without one wharf runs its embedded default")
	cmd.Flags().StringVar(&f.data, "data", "", "data directory for the embedded database and files (default ./wharf-data)")
	cmd.Flags().StringVar(&f.listen, "listen", "", "address to listen on (default 127.0.0.1:8080)")
	cmd.Flags().StringVar(&f.publicURL, "public-url", "", "URL clients reach this server at, when behind a proxy")
	cmd.Flags().BoolVar(&f.selfSigned, "self-signed", false, "serve https with a generated development certificate")
	f.dev.register(cmd.Flags())
}

// load reads the configuration file (or the default) and applies flags.
// requireInstallation refuses to work on an embedded installation that does
// not exist yet (a mistyped --data would otherwise create an empty one, and
// a token for it), unless create is set. PostgreSQL databases are checked
// by connecting.
func requireInstallation(cfg *config.Config, create bool) error {
	if create || cfg.Database.Driver == "postgres" {
		return nil
	}
	db := cfg.Database.DSN.Value()
	if i := strings.IndexByte(db, '?'); i >= 0 {
		db = db[:i]
	}
	if _, err := os.Stat(db); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s holds no wharf installation (no %s): check the path, or pass --init to create a new one there", cfg.DataDir, filepath.Base(db))
	}
	return nil
}

func (f *serveFlags) load(env Env) (*config.Config, error) {
	var (
		cfg *config.Config
		err error
	)
	if f.config != "" {
		cfg, err = config.Load(f.config, env.Getenv)
	} else {
		cfg, err = config.Default(env.Getenv)
	}
	if err != nil {
		return nil, err
	}
	if f.data != "" {
		cfg.DataDir = f.data
		cfg.Database.DSN = ""
		cfg.Blobs.Dir = ""
	}
	if f.listen != "" {
		cfg.Listen = f.listen
	}
	if f.publicURL != "" {
		cfg.PublicURL = f.publicURL
	}
	if f.selfSigned {
		cfg.TLS.SelfSigned = true
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
}

func newServeCmd(env Env) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the registry",
		Example: `  wharf serve                          # embedded default: ./wharf-data, 127.0.0.1:8080
  wharf serve --config /etc/wharf.yaml
  wharf serve --listen 0.0.0.0:8443 --self-signed
  wharf serve --self-signed --dev-issuer --dev-claims claims.json   # try trusted publishing locally`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(env)
			if err != nil {
				return err
			}
			log, err := obs.NewLogger(env.Stderr, cfg.Log.Level, cfg.Log.Format)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			dev, err := f.dev.start(cmd.Flags())
			if err != nil {
				return err
			}
			var opts server.Options
			if dev != nil {
				defer dev.Close()
				opts.ExtraIssuers = append(opts.ExtraIssuers, dev.IssuerConfig())
				log.Warn("development OIDC issuer enabled: whoever holds its request token can publish as its claims say", "issuer", dev.IssuerConfig().URL)
			}
			srv, err := server.New(ctx, cfg, log, opts)
			if err != nil {
				return err
			}
			defer srv.Close()
			if f.config == "" {
				abs, _ := filepath.Abs(cfg.DataDir)
				log.Info("no configuration file: running the embedded default (SQLite and local files)", "data_dir", abs)
			}
			return srv.Run(ctx, func(addr string) {
				base := cfg.PublicURL
				if base == "" {
					base = srv.Scheme() + "://" + addr
				}
				log.Info("wharf is listening", "addr", addr, "data_dir", cfg.DataDir,
					"database", cfg.Database.Driver, "blobs", cfg.Blobs.Driver)
				out := cmd.ErrOrStderr()
				repos, err := srv.Store.Repos().List(ctx)
				if err != nil {
					log.Warn("listing repositories for the start banner", "error", err)
				}
				index, upload := startHints(repos)
				fmt.Fprintln(out)
				if index.Name != "" {
					fmt.Fprintf(out, "  pip install --index-url %s/%s/simple/ PROJECT%s\n", base, index.Name, indexNote(index))
				}
				if upload != "" {
					fmt.Fprintf(out, "  twine upload --repository-url %s/%s/legacy/ -u __token__ -p TOKEN dist/*\n", base, upload)
				}
				fmt.Fprintln(out)
				if srv.FirstToken != "" {
					fmt.Fprintf(out, "  First admin token (shown once, keep it safe):\n\n    %s\n\n", srv.FirstToken)
					if upload != "" {
						fmt.Fprintf(out, "  Create an upload token:  WHARF_TOKEN=<admin token> wharf token create --repo %s --actions upload,read\n\n", upload)
					}
				}
				if dev != nil {
					dev.printServe(out, base, cfg.OIDC.Audience, selfSignedCert(cfg))
				}
			})
		},
	}
	f.register(cmd)
	return cmd
}

// startHints picks the repositories the start banner shows: the index to
// install from (a virtual repository, "all" first, else a hosted one) and
// the hosted repository to upload to ("local" first), so the banner never
// names a repository the configuration does not have.
func startHints(repos []registry.Repository) (index registry.Repository, upload string) {
	pick := func(kind registry.RepoKind, preferred string) (registry.Repository, bool) {
		var first registry.Repository
		for _, r := range repos {
			if r.Kind != kind {
				continue
			}
			if r.Name == preferred {
				return r, true
			}
			if first.Name == "" {
				first = r
			}
		}
		return first, first.Name != ""
	}
	hosted, hasHosted := pick(registry.Hosted, "local")
	if hasHosted {
		upload = hosted.Name
	}
	if v, ok := pick(registry.Virtual, "all"); ok {
		return v, upload
	}
	if hasHosted {
		return hosted, upload
	}
	r, _ := pick(registry.Remote, "pypi")
	return r, upload
}

// indexNote says what kind of index the banner shows.
func indexNote(r registry.Repository) string {
	if r.Kind == registry.Virtual {
		return "      (its member repositories, in order)"
	}
	return ""
}

func newConfigCmd(env Env) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with the configuration file"}
	check := &cobra.Command{
		Use:   "check FILE",
		Short: "Validate a configuration file and name every bad field",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(args[0], env.Getenv)
			if err != nil {
				return err
			}
			cfg.ApplyDefaults()
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("%s is invalid:\n%w", args[0], err)
			}
			if err := server.CheckSharedKEK(cfg); err != nil {
				return fmt.Errorf("%s is invalid:\n%w", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s is valid\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(check)
	return cmd
}
