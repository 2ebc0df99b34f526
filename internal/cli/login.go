package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// `wharf login` is what `aws codeartifact login` is for CodeArtifact: a CI
// job trades its OIDC ID token for a short-lived wharf token at the RFC
// 8693 endpoint (/api/v1/token/exchange) and configures pip, twine, uv or
// poetry with it. Trust comes from the server's trust policies (and
// trusted publishers); nothing long-lived is stored anywhere.

// Grant and token types of RFC 8693, as the server expects them.
const (
	grantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeIDToken   = "urn:ietf:params:oauth:token-type:id_token"
)

type loginFlags struct {
	server, tool, scope, repo, caFile string
	idTokenFlags
	githubEnv bool
}

func newLoginCmd(env Env) *cobra.Command {
	var f loginFlags
	cmd := &cobra.Command{
		Use:   "login --server URL [--tool pip|twine|uv|poetry|env] [--scope SCOPE] [--repo REPO]",
		Short: "Exchange the CI job's OIDC ID token for a short-lived token and configure pip, twine, uv or poetry",
		Long: `login exchanges the CI job's OpenID Connect ID token at the server's RFC 8693
endpoint (/api/v1/token/exchange) for a short-lived wharf token, granted by
the server's trust policies, and configures a tool with it.

The ID token comes from --id-token-env VAR, --id-token-file FILE or
--id-token TOKEN when given; otherwise, in GitHub Actions, from the runner
with the server's audience (the job needs 'permissions: id-token: write');
in GitLab CI from the variable named after the audience, as uv names it
(audience wharf:wharf.example.com: $WHARF_WHARF_EXAMPLE_COM_ID_TOKEN), or
$WHARF_ID_TOKEN; declare it under id_tokens:.

--scope narrows the token (space-separated repo:REPO:ACTION or
repo:REPO/PROJECT:ACTION). Without it, --tool pip asks for repo:REPO:read,
--tool twine for repo:REPO:upload, and the other tools for everything the
policies grant.

What each tool gets (stdout shows 'export NAME=value' lines to eval,
or with --github-env they are appended to $GITHUB_ENV for later steps):
  pip     a pip.conf with index-url https://__token__:TOKEN@HOST/REPO/simple/,
          written to $PIP_CONFIG_FILE if set, else to a new private file
          whose path is exported as PIP_CONFIG_FILE
  twine   a .pypirc with a [wharf] section (twine upload --config-file PATH -r wharf)
          and TWINE_REPOSITORY_URL, TWINE_USERNAME, TWINE_PASSWORD
  uv      UV_DEFAULT_INDEX, UV_PUBLISH_URL, UV_PUBLISH_USERNAME/PASSWORD,
          UV_PUBLISH_CHECK_URL
  poetry  POETRY_REPOSITORIES_WHARF_URL, POETRY_HTTP_BASIC_WHARF_USERNAME/PASSWORD
  env     WHARF_SERVER, WHARF_TOKEN, WHARF_INDEX_URL, WHARF_UPLOAD_URL

Files are created mode 0600 in a new directory of mode 0700 under
$RUNNER_TEMP (GitHub Actions) or the system temporary directory, never
where another job or user can read them; their paths are printed on
stderr. On GitHub Actions the token is masked (::add-mask::, the first
line on stdout) before it can appear anywhere; there use --github-env
rather than eval, so the mask line reaches the runner.`,
		Example: `  # GitHub Actions: install private dependencies, then publish
  wharf login --server https://wharf.example.com --tool pip --repo deps --github-env
  wharf login --server https://wharf.example.com --tool twine --repo local --github-env

  # GitLab CI (id_tokens: WHARF_WHARF_EXAMPLE_COM_ID_TOKEN with aud: wharf:wharf.example.com)
  eval "$(wharf login --server https://wharf.example.com --tool uv)"

  # a narrower token: upload of one project only
  wharf login --server https://wharf.example.com --tool twine --scope "repo:local/demo:upload"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := f.prepare(env)
			if err != nil {
				return err
			}
			l.out, l.errOut = cmd.OutOrStdout(), cmd.ErrOrStderr()
			return l.run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.server, "server", "", "wharf server URL (env WHARF_SERVER, default "+defaultServer+")")
	fs.StringVar(&f.tool, "tool", "env", "tool to configure: pip, twine, uv, poetry or env")
	fs.StringVar(&f.scope, "scope", "", `requested scope, e.g. "repo:deps:read repo:local/demo:upload" (default: by --tool)`)
	fs.StringVar(&f.repo, "repo", "", "repository for the tool's URLs (default: the first repository in --scope, else local)")
	fs.StringVar(&f.idToken, "id-token", "", "the OIDC ID token itself (prefer --id-token-env: command lines are visible to other users)")
	fs.StringVar(&f.idTokenEnv, "id-token-env", "", "environment variable holding the OIDC ID token (GitLab: the name declared under id_tokens:)")
	fs.StringVar(&f.idTokenFile, "id-token-file", "", "file holding the OIDC ID token")
	fs.BoolVar(&f.githubEnv, "github-env", false, "append NAME=value lines to $GITHUB_ENV for later steps instead of printing exports")
	fs.StringVar(&f.caFile, "ca-file", "", "PEM file of a CA certificate to trust, for https with a self-signed certificate (default $REQUESTS_CA_BUNDLE); also given to the tool")
	cmd.MarkFlagsMutuallyExclusive("id-token", "id-token-env", "id-token-file")
	return cmd
}

// loginRun is one `wharf login`.
type loginRun struct {
	f           loginFlags
	getenv      func(string) string
	ci          *ciClient
	root        *url.URL // https://host[:port][/prefix]
	repo        string
	scope       string // sent to the server
	githubEnv   string // path of $GITHUB_ENV with --github-env
	caFile      string
	out, errOut io.Writer
}

func (f loginFlags) prepare(env Env) (*loginRun, error) {
	l := &loginRun{f: f, getenv: env.Getenv}
	switch f.tool {
	case "pip", "twine", "uv", "poetry", "env":
	default:
		return nil, fmt.Errorf("--tool %q: use pip, twine, uv, poetry or env", f.tool)
	}
	raw := (&connFlags{server: f.server}).serverURL(env)
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil {
		return nil, fmt.Errorf("--server %q must be an absolute https URL without credentials, such as https://wharf.example.com", raw)
	}
	if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("--server %q uses http: login sends credentials, so use https (http is allowed for loopback only)", raw)
	}
	u.Path, u.RawQuery, u.Fragment = strings.TrimRight(u.Path, "/"), "", ""
	l.root = u
	l.repo, l.scope = f.repo, f.scope
	if l.repo == "" {
		l.repo = "local"
		if first, _, ok := strings.Cut(strings.TrimSpace(f.scope)+" ", " "); ok && strings.HasPrefix(first, "repo:") {
			r := strings.TrimPrefix(first, "repo:")
			if i := strings.IndexAny(r, "/:"); i > 0 {
				l.repo = r[:i]
			}
		}
	}
	if !registryName(l.repo) {
		return nil, fmt.Errorf("--repo %q is not a repository name", l.repo)
	}
	if l.scope == "" {
		switch f.tool {
		case "pip":
			l.scope = "repo:" + l.repo + ":read"
		case "twine":
			l.scope = "repo:" + l.repo + ":upload"
		}
	}
	if f.githubEnv {
		// Checked before the exchange: an ID token is single-use.
		if l.githubEnv = env.Getenv("GITHUB_ENV"); l.githubEnv == "" {
			return nil, errors.New("--github-env: $GITHUB_ENV is not set (it is set in GitHub Actions steps); without the flag, login prints exports to eval")
		}
	}
	l.caFile = f.caFile
	if l.caFile == "" {
		l.caFile = env.Getenv("REQUESTS_CA_BUNDLE")
	}
	if l.caFile != "" {
		if l.caFile, err = filepath.Abs(l.caFile); err != nil {
			return nil, err
		}
	}
	hc, err := httpClient(l.caFile)
	if err != nil {
		return nil, err
	}
	// The ID token is sent once, to the server named: never follow a
	// redirect elsewhere with it.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	l.ci = &ciClient{hc: hc, getenv: env.Getenv, github: env.Getenv("GITHUB_ACTIONS") == "true", cmd: "login"}
	return l, nil
}

// exchangeAnswer is RFC 8693 §2.2.1 as the server sends it.
type exchangeAnswer struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
	ExpiresAt   string `json:"expires_at"`
}

func (l *loginRun) base() string { return l.root.String() }

func (l *loginRun) run(ctx context.Context) error {
	aud, err := l.ci.audience(ctx, l.base())
	if err != nil {
		return err
	}
	jwt, source, err := l.ci.idToken(ctx, l.f.idTokenFlags, aud)
	if err != nil {
		return err
	}
	fmt.Fprintf(l.errOut, "token exchange at %s: audience %q, ID token from %s\n", l.base(), aud, source)
	res, err := l.exchange(ctx, jwt, aud)
	if err != nil {
		return err
	}
	// First thing on stdout, before any line that could echo the token.
	if l.ci.github {
		fmt.Fprintf(l.out, "::add-mask::%s\n", res.AccessToken)
	}
	vars, err := l.configure(res.AccessToken)
	if err != nil {
		return err
	}
	if err := l.export(vars); err != nil {
		return err
	}
	until := time.Now().Add(time.Duration(res.ExpiresIn) * time.Second)
	if t, err := time.Parse(time.RFC3339, res.ExpiresAt); err == nil {
		until = t
	}
	fmt.Fprintf(l.errOut, "logged in: %s; the token expires at %s (in %s)\n", res.Scope,
		until.UTC().Format("2006-01-02 15:04:05 UTC"), time.Duration(res.ExpiresIn)*time.Second)
	return nil
}

// exchange posts the RFC 8693 form and explains a refusal.
func (l *loginRun) exchange(ctx context.Context, jwt, aud string) (exchangeAnswer, error) {
	u := l.base() + "/api/v1/token/exchange"
	form := url.Values{
		"grant_type":         {grantTokenExchange},
		"subject_token":      {jwt},
		"subject_token_type": {tokenTypeIDToken},
	}
	if l.scope != "" {
		form.Set("scope", l.scope)
	}
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	var res exchangeAnswer
	status, body, err := l.ci.doJSON(ctx, req, &res)
	switch {
	case err != nil:
		return res, fmt.Errorf("POST %s: %w", u, err)
	case status == http.StatusOK && res.AccessToken != "":
		return res, nil
	case status == http.StatusOK:
		return res, fmt.Errorf("POST %s: the answer has no access_token", u)
	}
	return res, exchangeError(status, body, jwt, aud)
}

// exchangeError explains a refused exchange: the server's RFC 6749 error,
// seed 001's troubleshooting advice where the cause is recognisable, and
// the claims of the caller's own token (never the token).
func exchangeError(status int, body []byte, jwt, aud string) error {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Code        string `json:"wharf_code"`
	}
	var b strings.Builder
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		fmt.Fprintf(&b, "token exchange refused (%s", e.Error)
		if e.Code != "" {
			fmt.Fprintf(&b, ", %s", e.Code)
		}
		fmt.Fprintf(&b, "): %s", e.Description)
	} else {
		fmt.Fprintf(&b, "token exchange failed: the server answered %d: %s", status, snippet(body))
	}
	for _, h := range loginHints(e.Code, e.Description, jwtPayload(jwt), aud) {
		b.WriteString("\nhint: " + h)
	}
	if claims := tokenClaims(jwt); claims != "" {
		b.WriteString("\nyour ID token's claims:\n" + claims)
	}
	return errors.New(b.String())
}

// loginHints turns seed 001's troubleshooting list (wrong audience,
// subject mismatch, missing id-token: write, wrong branch or tag) into
// advice about what the caller can see: the refusal and its own claims.
// (Missing id-token: write is caught earlier, when no token can be had.)
func loginHints(code, desc string, claims map[string]any, aud string) []string {
	var out []string
	if got := claimText(claims["aud"]); got != "" && got != aud {
		out = append(out, fmt.Sprintf("wrong audience: your ID token is for %q but this server accepts %q; request the token with that audience (GitHub: wharf login does it; GitLab: id_tokens: ... aud: %s)", got, aud, aud))
	}
	switch {
	case code == "invalid-reuse-token":
		out = append(out, "each ID token can be exchanged once: request a new one (run wharf login again)")
	case strings.Contains(desc, "expired"):
		out = append(out, "ID tokens live minutes: request the token right before wharf login")
	case strings.Contains(desc, `claim "sub"`):
		out = append(out, "subject mismatch: the sub claim changes with the trigger (environment, pull_request, branch or tag) and can be customised per repository; compare your sub below with what the policy expects ('wharf policy test --claims')")
	case strings.Contains(desc, `claim "ref"`), strings.Contains(desc, `claim "ref_type"`):
		out = append(out, fmt.Sprintf("wrong branch or tag: the job ran on %q; the policy trusts other refs (for tag-only releases, push a tag)", claimText(claims["ref"])))
	case code == "invalid_scope" || code == "invalid-scope":
		out = append(out, "ask for less with --scope, or ask the administrator to grant it ('wharf policy test --token' shows what a token would get)")
	}
	return out
}

func claimText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		if len(x) == 1 {
			return claimText(x[0])
		}
		return fmt.Sprint(x...)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// envVar is one variable to export.
type envVar struct{ name, value string }

// urls returns the tool URLs for the repository: the index (with the token
// as password, as pip and uv take it) and the upload URL.
func (l *loginRun) urls(token string) (index, upload string) {
	u := *l.root
	u.Path = l.root.Path + "/" + l.repo + "/simple/"
	u.User = url.UserPassword("__token__", token)
	index = u.String()
	u.User = nil
	u.Path = l.root.Path + "/" + l.repo + "/legacy/"
	return index, u.String()
}

// configure writes the tool's files and returns the variables to export.
func (l *loginRun) configure(token string) ([]envVar, error) {
	index, upload := l.urls(token)
	var vars []envVar
	switch l.f.tool {
	case "pip":
		text := "[global]\nindex-url = " + index + "\n"
		if l.caFile != "" {
			text += "cert = " + l.caFile + "\n"
		}
		// $PIP_CONFIG_FILE is used when it names a regular file or none
		// yet; /dev/null (pip's "no configuration") and other special
		// files are left alone and a private file is exported instead.
		path := l.getenv("PIP_CONFIG_FILE")
		if st, err := os.Stat(path); path == os.DevNull || err == nil && !st.Mode().IsRegular() {
			path = ""
		}
		if path != "" {
			if err := writePrivate(path, text, false); err != nil {
				return nil, fmt.Errorf("writing $PIP_CONFIG_FILE: %w", err)
			}
		} else {
			var err error
			if path, err = l.privateFile("pip.conf", text); err != nil {
				return nil, err
			}
			vars = append(vars, envVar{"PIP_CONFIG_FILE", path})
		}
		fmt.Fprintf(l.errOut, "wrote %s (mode 0600): pip install now reads %s/%s/simple/\n", path, l.base(), l.repo)
	case "twine":
		text := "[distutils]\nindex-servers =\n    wharf\n\n[wharf]\nrepository = " + upload + "\nusername = __token__\npassword = " + token + "\n"
		path, err := l.privateFile(".pypirc", text)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(l.errOut, "wrote %s (mode 0600): twine upload --config-file %s -r wharf dist/*\n", path, path)
		vars = append(vars, envVar{"TWINE_CONFIG_FILE", path}, envVar{"TWINE_REPOSITORY_URL", upload},
			envVar{"TWINE_USERNAME", "__token__"}, envVar{"TWINE_PASSWORD", token})
		if l.caFile != "" {
			vars = append(vars, envVar{"TWINE_CERT", l.caFile})
		}
	case "uv":
		// UV_DEFAULT_INDEX replaces the deprecated UV_INDEX_URL (uv refuses
		// both at once). The check URL lets `uv publish` skip files the
		// index already has, as twine --skip-existing does.
		vars = append(vars, envVar{"UV_DEFAULT_INDEX", index}, envVar{"UV_PUBLISH_URL", upload},
			envVar{"UV_PUBLISH_USERNAME", "__token__"}, envVar{"UV_PUBLISH_PASSWORD", token},
			envVar{"UV_PUBLISH_CHECK_URL", index})
		if l.caFile != "" {
			vars = append(vars, envVar{"SSL_CERT_FILE", l.caFile})
		}
	case "poetry":
		vars = append(vars, envVar{"POETRY_REPOSITORIES_WHARF_URL", upload},
			envVar{"POETRY_HTTP_BASIC_WHARF_USERNAME", "__token__"}, envVar{"POETRY_HTTP_BASIC_WHARF_PASSWORD", token})
		if l.caFile != "" {
			vars = append(vars, envVar{"POETRY_CERTIFICATES_WHARF_CERT", l.caFile})
		}
	case "env":
		vars = append(vars, envVar{"WHARF_SERVER", l.base()}, envVar{"WHARF_TOKEN", token},
			envVar{"WHARF_INDEX_URL", index}, envVar{"WHARF_UPLOAD_URL", upload})
	}
	return vars, nil
}

// export prints shell exports on stdout, or appends NAME=value lines to
// $GITHUB_ENV (the token is already masked: ::add-mask:: came first).
func (l *loginRun) export(vars []envVar) error {
	for _, v := range vars {
		if strings.ContainsAny(v.value, "\r\n") {
			return fmt.Errorf("%s would span lines; refusing to export it", v.name)
		}
	}
	if l.githubEnv == "" {
		for _, v := range vars {
			fmt.Fprintf(l.out, "export %s=%s\n", v.name, shellQuote(v.value))
		}
		return nil
	}
	f, err := os.OpenFile(l.githubEnv, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("--github-env: %w", err)
	}
	var b strings.Builder
	names := make([]string, len(vars))
	for i, v := range vars {
		b.WriteString(v.name + "=" + v.value + "\n")
		names[i] = v.name
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return fmt.Errorf("--github-env: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--github-env: %w", err)
	}
	if len(names) > 0 {
		fmt.Fprintf(l.errOut, "set for later steps ($GITHUB_ENV): %s\n", strings.Join(names, " "))
	}
	return nil
}

// privateFile writes text to name in a new directory only this user can
// enter (0700; the file 0600), under $RUNNER_TEMP on GitHub Actions (the
// runner deletes it after the job) or the system temporary directory.
func (l *loginRun) privateFile(name, text string) (string, error) {
	base := cmpOrStr(l.getenv("RUNNER_TEMP"), l.getenv("TMPDIR"))
	dir, err := os.MkdirTemp(base, "wharf-login-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	return path, writePrivate(path, text, true)
}

// writePrivate writes a credentials file of mode 0600. An existing file
// (excl false) is truncated and its mode tightened first, so the token is
// never readable by others even for a moment.
func writePrivate(path, text string, excl bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if st, err := os.Lstat(path); err == nil && !st.Mode().IsRegular() {
		// Never chmod or write through a device, pipe or symbolic link.
		return fmt.Errorf("%s is not a regular file", path)
	}
	if excl {
		flags = os.O_WRONLY | os.O_CREATE | os.O_EXCL
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// shellQuote quotes s for POSIX shells.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
