package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wharf-dev/wharf/internal/adminapi"
	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/server"
	"github.com/wharf-dev/wharf/internal/store"
)

// tokenFlags choose where token commands work: on a server through the
// admin API, or (--data / --config) directly on a data directory, which is
// how the first admin token is made. SQLite's WAL lets that run next to a
// live server.
type tokenFlags struct {
	conn         connFlags
	data, config string
	init         bool // --init: create the installation when --data holds none
}

func (f *tokenFlags) local() bool { return f.data != "" || f.config != "" }

// tokenBackend is what token commands need, from either place.
type tokenBackend interface {
	create(ctx context.Context, req adminapi.CreateTokenRequest) (adminapi.CreatedToken, error)
	list(ctx context.Context) ([]adminapi.TokenInfo, error)
	revoke(ctx context.Context, id string) error
}

// open returns the backend the flags name and a function releasing it.
func (f *tokenFlags) open(ctx context.Context, cmd *cobra.Command, env Env) (tokenBackend, func(), error) {
	if !f.local() {
		c, err := f.conn.client(env)
		if err != nil {
			return nil, nil, err
		}
		return remoteTokens{c}, func() {}, nil
	}
	for _, name := range []string{"server", "token", "ca-file"} {
		if fl := cmd.Flags().Lookup(name); fl != nil && fl.Changed {
			return nil, nil, fmt.Errorf("--%s cannot be combined with --data or --config: those work on the data directory, not through a server", name)
		}
	}
	// The same configuration logic as `wharf serve`, so --data and
	// --config name exactly the stores the server uses.
	sf := serveFlags{config: f.config, data: f.data}
	cfg, err := sf.load(env)
	if err != nil {
		return nil, nil, err
	}
	if err := requireInstallation(cfg, f.init); err != nil {
		return nil, nil, err
	}
	st, _, err := server.OpenStores(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return localTokens{st: st, auth: auth.New(auth.Config{Tokens: st.Tokens()})}, func() { st.Close() }, nil
}

type remoteTokens struct{ c *adminapi.Client }

func (r remoteTokens) create(ctx context.Context, req adminapi.CreateTokenRequest) (adminapi.CreatedToken, error) {
	return r.c.CreateToken(ctx, req)
}
func (r remoteTokens) list(ctx context.Context) ([]adminapi.TokenInfo, error) {
	return r.c.ListTokens(ctx)
}
func (r remoteTokens) revoke(ctx context.Context, id string) error { return r.c.RevokeToken(ctx, id) }

// localTokens works on the stores directly; the audit actor is "cli".
type localTokens struct {
	st   store.Store
	auth *auth.Service
}

func (l localTokens) create(ctx context.Context, req adminapi.CreateTokenRequest) (adminapi.CreatedToken, error) {
	secret, tok, err := l.auth.Mint(ctx, auth.MintRequest{
		Scope:       registry.Scope{Repos: req.Repos, Projects: req.Projects, Actions: req.Actions},
		Description: req.Description,
		TTL:         time.Duration(req.ExpiresIn),
		Origin:      "cli",
	})
	if err != nil {
		return adminapi.CreatedToken{}, err
	}
	detail := map[string]string{"description": tok.Description, "scope": scopeString(tok.Scope), "via": "data directory"}
	if err := l.st.Audit().Append(ctx, registry.AuditEvent{
		Time: time.Now().UTC(), Actor: "cli", Action: "token.create", Target: tok.ID, Outcome: "ok", Detail: detail,
	}); err != nil {
		_ = l.auth.Revoke(ctx, tok.ID)
		return adminapi.CreatedToken{}, fmt.Errorf("recording the token in the audit log (token withdrawn): %w", err)
	}
	return adminapi.CreatedToken{Token: secret, ID: tok.ID, ExpiresAt: tok.ExpiresAt, Scope: tok.Scope}, nil
}

func (l localTokens) list(ctx context.Context) ([]adminapi.TokenInfo, error) {
	toks, err := l.st.Tokens().List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]adminapi.TokenInfo, len(toks))
	for i, t := range toks {
		out[i] = adminapi.TokenInfoOf(t)
	}
	return out, nil
}

func (l localTokens) revoke(ctx context.Context, id string) error {
	tok, err := l.st.Tokens().Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("token '%s' does not exist ('wharf token list' shows the IDs)", id)
	}
	if err != nil || !tok.RevokedAt.IsZero() {
		return err
	}
	if err := l.auth.Revoke(ctx, id); err != nil {
		return err
	}
	return l.st.Audit().Append(ctx, registry.AuditEvent{
		Time: time.Now().UTC(), Actor: "cli", Action: "token.revoke", Target: id, Outcome: "ok",
		Detail: map[string]string{"via": "data directory"},
	})
}

func newTokenCmd(env Env) *cobra.Command {
	var f tokenFlags
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke API tokens",
		Long: `Create, list and revoke API tokens.

By default these commands talk to a server (--server, --token). With --data
or --config they work directly on the data directory instead, which is how
the first admin token is made:

  export WHARF_TOKEN=$(wharf token create --admin --data ./wharf-data)

A token revoked that way stops working on a running server within a few
seconds (its authentication cache).`,
	}
	pf := cmd.PersistentFlags()
	f.conn.register(pf)
	pf.StringVar(&f.data, "data", "", "work on this data directory instead of a server")
	pf.BoolVar(&f.init, "init", false, "with --data: create a new installation there if it holds none")
	pf.StringVarP(&f.config, "config", "c", "", "work on the stores of this configuration file instead of a server")
	cmd.AddCommand(newTokenCreateCmd(env, &f), newTokenListCmd(env, &f), newTokenRevokeCmd(env, &f))
	return cmd
}

func newTokenCreateCmd(env Env, f *tokenFlags) *cobra.Command {
	var (
		admin       bool
		repos       []string
		projects    []string
		actions     []string
		expires     string
		description string
		asJSON      bool
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a token; prints only the token on stdout",
		Long: `Create a token. Only the token goes to stdout (details go to stderr), so
TOKEN=$(wharf token create ...) works. The token is shown this once.`,
		Example: `  wharf token create --admin --data ./wharf-data
  wharf token create --repo local --project acme --actions upload,read --expires 720h --description "acme CI"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := adminapi.CreateTokenRequest{Description: description, Repos: repos, Projects: projects}
			switch {
			case admin && len(actions) > 0:
				return errors.New("--admin already grants every action: drop --actions")
			case admin:
				req.Actions = []registry.Action{registry.Admin}
			case len(actions) == 0:
				return errors.New("say what the token may do: --actions read,upload,yank,delete or --admin")
			}
			for _, a := range actions {
				req.Actions = append(req.Actions, registry.Action(a))
			}
			ttl, err := adminapi.ParseDuration(expires)
			if err != nil {
				return fmt.Errorf("--expires: %w", err)
			}
			req.ExpiresIn = adminapi.Duration(ttl)
			b, done, err := f.open(cmd.Context(), cmd, env)
			if err != nil {
				return err
			}
			defer done()
			tok, err := b.create(cmd.Context(), req)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), tok)
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok.Token)
			printCreated(cmd.ErrOrStderr(), tok)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&admin, "admin", false, "grant every action, including managing repositories and tokens")
	fl.StringArrayVar(&repos, "repo", nil, "limit to this repository (repeatable; default all)")
	fl.StringArrayVar(&projects, "project", nil, `limit to this project or glob such as "acme-*" (repeatable; default all)`)
	fl.StringSliceVar(&actions, "actions", nil, "comma-separated actions: read, upload, yank, delete, admin")
	fl.StringVar(&expires, "expires", "", `lifetime such as "24h" or "720h" (default: never expires)`)
	fl.StringVar(&description, "description", "", "what the token is for, shown by 'wharf token list'")
	fl.BoolVar(&asJSON, "json", false, "print the token and its details as JSON on stdout")
	return cmd
}

func printCreated(w io.Writer, tok adminapi.CreatedToken) {
	fmt.Fprintf(w, "created token %s (%s), expires %s; it is shown only once\n",
		tok.ID, scopeString(tok.Scope), when(tok.ExpiresAt, "never"))
}

func newTokenListCmd(env Env, f *tokenFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets), newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, done, err := f.open(cmd.Context(), cmd, env)
			if err != nil {
				return err
			}
			defer done()
			toks, err := b.list(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), toks)
			}
			tw := table(cmd.OutOrStdout())
			fmt.Fprintln(tw, "ID\tDESCRIPTION\tSCOPE\tEXPIRES\tLAST USED\tREVOKED")
			for _, t := range toks {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, dash(t.Description), scopeString(t.Scope),
					when(t.ExpiresAt, "never"), when(t.LastUsedAt, "never"), when(t.RevokedAt, "-"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newTokenRevokeCmd(env Env, f *tokenFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token by its ID ('wharf token list' shows them)",
		Long: `revoke revokes a token by its ID, as 'wharf token list' shows it. Given the
whole token (wharf_<id>_<secret>, say one that leaked), it revokes that
token by the ID inside it and never prints the secret; prefer the ID, which
keeps the secret out of shell history.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if tid, ok := auth.TokenID(id); ok {
				id = tid
			} else if strings.HasPrefix(id, "wharf_") {
				return errors.New("that looks like a token but is not a well-formed one; give the token's ID from 'wharf token list'")
			}
			b, done, err := f.open(cmd.Context(), cmd, env)
			if err != nil {
				return err
			}
			defer done()
			if err := b.revoke(cmd.Context(), id); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked token %s\n", id)
			return nil
		},
	}
}
