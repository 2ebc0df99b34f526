package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/blake2b"

	"github.com/wharf-dev/wharf/internal/pypi"
)

// `wharf publish` is the CI side of trusted publishing. It does what
// pypa/gh-action-pypi-publish does (research/pypi-protocols.md §2.2) and
// then uploads with the legacy API itself, so a CI job needs nothing but
// the wharf binary: audience, ambient ID token, mint-token, upload.

// exchangeTimeout bounds each step of the token exchange. gh-action uses
// 5 s; CI runners are sometimes slow to answer the ID-token request.
const exchangeTimeout = 30 * time.Second

type publishFlags struct {
	repositoryURL, repo, server string
	idTokenFlags
	skipExisting bool
	caFile       string
}

func newPublishCmd(env Env) *cobra.Command {
	var f publishFlags
	cmd := &cobra.Command{
		Use:   "publish [FILE]...",
		Short: "Publish distributions from CI with trusted publishing (an OIDC ID token, no stored secret)",
		Long: `publish exchanges the CI job's OpenID Connect ID token for a short-lived
upload token, as pypa/gh-action-pypi-publish does, and uploads every file
(default dist/*) with it.

The ID token comes from --id-token-env VAR, --id-token-file FILE or
--id-token TOKEN when given; otherwise, in GitHub Actions, from the runner
(the job needs 'permissions: id-token: write'); in GitLab CI from
$WHARF_ID_TOKEN (declare it under id_tokens: with the server's audience).

On GitHub Actions the upload token is masked (::add-mask::) before anything
else is printed. It is never written anywhere.`,
		Example: `  wharf publish --repository-url https://wharf.example.com/local/legacy/ dist/*
  wharf publish --repository-url https://wharf.example.com/local/legacy/ --id-token-env WHARF_ID_TOKEN
  WHARF_SERVER=https://wharf.example.com wharf publish --repo team --skip-existing`,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := f.prepare(env)
			if err != nil {
				return err
			}
			p.out, p.errOut = cmd.OutOrStdout(), cmd.ErrOrStderr()
			return p.run(cmd.Context(), args)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.repositoryURL, "repository-url", "", "upload URL, https://HOST/REPO/legacy/ (env WHARF_REPOSITORY_URL; default: the server's URL and --repo)")
	fs.StringVar(&f.server, "server", "", "wharf server URL, used with --repo when --repository-url is not given (env WHARF_SERVER, default "+defaultServer+")")
	fs.StringVar(&f.repo, "repo", "local", "repository to upload to, with --server")
	fs.StringVar(&f.idToken, "id-token", "", "the OIDC ID token itself (prefer --id-token-env: command lines are visible to other users)")
	fs.StringVar(&f.idTokenEnv, "id-token-env", "", "environment variable holding the OIDC ID token (GitLab: the name declared under id_tokens:)")
	fs.StringVar(&f.idTokenFile, "id-token-file", "", "file holding the OIDC ID token")
	fs.BoolVar(&f.skipExisting, "skip-existing", false, "treat files the repository already has (same name, other bytes) as done instead of failing")
	fs.StringVar(&f.caFile, "ca-file", "", "PEM file of a CA certificate to trust, for https with a self-signed certificate (default $REQUESTS_CA_BUNDLE)")
	cmd.MarkFlagsMutuallyExclusive("id-token", "id-token-env", "id-token-file")
	cmd.MarkFlagsMutuallyExclusive("repository-url", "server")
	return cmd
}

// publishRun is one `wharf publish`.
type publishRun struct {
	f           publishFlags
	getenv      func(string) string
	hc          *http.Client
	uploadURL   string // https://host/repo/legacy/
	root        string // https://host: the trusted-publishing endpoints live at the host root
	github      bool   // running in GitHub Actions: mask the token
	ci          *ciClient
	out, errOut io.Writer
}

func (f publishFlags) prepare(env Env) (*publishRun, error) {
	p := &publishRun{f: f, getenv: env.Getenv, github: env.Getenv("GITHUB_ACTIONS") == "true"}
	raw := f.repositoryURL
	if raw == "" {
		raw = env.Getenv("WHARF_REPOSITORY_URL")
	}
	if raw == "" {
		if !registryName(f.repo) {
			return nil, fmt.Errorf("--repo %q is not a repository name", f.repo)
		}
		raw = (&connFlags{server: f.server}).serverURL(env) + "/" + f.repo + "/legacy/"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("repository URL %q must be an absolute https URL such as https://wharf.example.com/local/legacy/", raw)
	}
	if u.User != nil {
		return nil, errors.New("the repository URL must not carry a user name or password: trusted publishing needs none")
	}
	// The ID token and the upload token are credentials: refuse to send
	// them in clear text except to this machine.
	if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("repository URL %q uses http: trusted publishing sends credentials, so use https (http is allowed for loopback only)", raw)
	}
	p.uploadURL = u.String()
	p.root = u.Scheme + "://" + u.Host
	ca := f.caFile
	if ca == "" {
		ca = env.Getenv("REQUESTS_CA_BUNDLE")
	}
	if p.hc, err = httpClient(ca); err != nil {
		return nil, err
	}
	// Uploads may take longer than the admin client's overall timeout;
	// exchange steps have their own deadlines.
	p.hc.Timeout = 0
	// Uploads are never redirected (twine, poetry and pdm refuse too): a
	// redirect would resend the token to wherever it points.
	p.hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	p.ci = &ciClient{hc: p.hc, getenv: p.getenv, github: p.github, cmd: "publish"}
	return p, nil
}

func registryName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '.' || c == '_' || c == '-')) {
			return false
		}
	}
	return true
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func (p *publishRun) run(ctx context.Context, args []string) error {
	paths, err := distPaths(args)
	if err != nil {
		return err
	}
	// Check every file before the exchange: an ID token is single-use, so
	// do not spend it on a run that cannot succeed.
	dists := make([]*distFile, 0, len(paths))
	var bad []string
	for _, path := range paths {
		d, err := inspectDist(path)
		if err != nil {
			bad = append(bad, fmt.Sprintf("  %s: %v", path, err))
			continue
		}
		dists = append(dists, d)
	}
	if len(bad) > 0 {
		return fmt.Errorf("not uploading: %d file(s) are not valid distributions:\n%s", len(bad), strings.Join(bad, "\n"))
	}

	token, err := p.exchange(ctx)
	if err != nil {
		return err
	}

	var uploaded, existing, refused int
	for _, d := range dists {
		res, msg := p.upload(ctx, d, token)
		switch res {
		case resUploaded:
			uploaded++
			fmt.Fprintf(p.out, "uploaded       %s\n", d.name)
		case resExisting:
			existing++
			fmt.Fprintf(p.out, "already there  %s (%s)\n", d.name, msg)
		default:
			refused++
			fmt.Fprintf(p.out, "refused        %s: %s\n", d.name, msg)
		}
	}
	fmt.Fprintf(p.errOut, "%d uploaded, %d already there, %d refused\n", uploaded, existing, refused)
	if refused > 0 {
		return fmt.Errorf("%d of %d files were not uploaded", refused, len(dists))
	}
	return nil
}

// distPaths expands the arguments (default dist/*) the way a shell would
// when it did not, and keeps the files that may be distributions.
// Signatures and attestations next to them are skipped, as twine does.
func distPaths(args []string) ([]string, error) {
	if len(args) == 0 {
		args = []string{filepath.Join("dist", "*")}
	}
	var out []string
	for _, a := range args {
		matches := []string{a}
		if strings.ContainsAny(a, "*?[") {
			m, err := filepath.Glob(a)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", a, err)
			}
			matches = m
		}
		for _, m := range matches {
			st, err := os.Stat(m)
			if err != nil {
				return nil, err
			}
			if st.IsDir() || strings.HasSuffix(m, ".asc") || strings.HasSuffix(m, ".attestation") {
				continue
			}
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no distributions found in %s: build them first (python -m build)", strings.Join(args, " "))
	}
	return slices.Compact(out), nil
}

// distFile is a distribution checked on disk: filename, metadata, digests.
type distFile struct {
	path, name     string
	size           int64
	dist           pypi.Dist
	meta           pypi.Metadata
	sha256, blake2 string
}

// inspectDist reads the file's core metadata with the same code the server
// runs, so a file the server would refuse for its contents is caught
// before the exchange, and computes the digests twine sends.
func inspectDist(path string) (*distFile, error) {
	name := filepath.Base(path)
	d, err := pypi.ParseFilename(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	df := &distFile{path: path, name: name, size: st.Size(), dist: d}
	found := true
	switch {
	case d.Kind == pypi.WheelDist:
		_, df.meta, err = pypi.InspectWheel(f, st.Size(), d)
	case d.Ext == ".zip":
		_, df.meta, found, err = pypi.InspectSdistZip(f, st.Size(), d)
	default:
		_, df.meta, found, err = pypi.InspectSdist(f, d)
	}
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errors.New("the sdist has no PKG-INFO: build it with a current build backend")
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	sh := sha256.New()
	b2, _ := blake2b.New256(nil)
	if _, err := io.Copy(io.MultiWriter(sh, b2), f); err != nil {
		return nil, err
	}
	df.sha256, df.blake2 = hex.EncodeToString(sh.Sum(nil)), hex.EncodeToString(b2.Sum(nil))
	return df, nil
}

// exchange runs the trusted-publishing exchange and returns the upload
// token. On GitHub Actions the token is masked before this returns.
func (p *publishRun) exchange(ctx context.Context) (string, error) {
	aud, err := p.ci.audience(ctx, p.root)
	if err != nil {
		return "", err
	}
	jwt, source, err := p.ci.idToken(ctx, p.f.idTokenFlags, aud)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(p.errOut, "trusted publishing at %s: audience %q, ID token from %s\n", p.root, aud, source)
	tok, expires, err := p.mint(ctx, jwt)
	if err != nil {
		return "", err
	}
	// First thing on stdout, before any line that could echo the token.
	if p.github {
		fmt.Fprintf(p.out, "::add-mask::%s\n", tok)
	}
	if expires > 0 {
		fmt.Fprintf(p.errOut, "got an upload token valid until %s\n", time.Unix(expires, 0).UTC().Format("15:04:05 UTC"))
	}
	return tok, nil
}

// mint exchanges the ID token for an upload token at /_/oidc/mint-token.
func (p *publishRun) mint(ctx context.Context, jwt string) (token string, expires int64, err error) {
	u := p.root + "/_/oidc/mint-token"
	b, _ := json.Marshal(map[string]string{"token": jwt})
	req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	var res struct {
		Token   string `json:"token"`
		Expires int64  `json:"expires"`
	}
	status, body, err := p.ci.doJSON(ctx, req, &res)
	switch {
	case err != nil:
		return "", 0, fmt.Errorf("POST %s: %w", u, err)
	case status == http.StatusOK && res.Token != "":
		return res.Token, res.Expires, nil
	case status == http.StatusOK:
		return "", 0, fmt.Errorf("POST %s: the answer has no token", u)
	}
	return "", 0, mintError(status, body, jwt)
}

// mintError explains a refused exchange with the server's own words
// (errors[].code and .description) and the claims of the caller's token,
// as gh-action-pypi-publish prints them. The claims are not secret; the
// token itself is never printed.
func mintError(status int, body []byte, jwt string) error {
	var res struct {
		Message string `json:"message"`
		Errors  []struct {
			Code        string `json:"code"`
			Description string `json:"description"`
		} `json:"errors"`
	}
	var b strings.Builder
	if json.Unmarshal(body, &res) == nil && len(res.Errors) > 0 {
		fmt.Fprintf(&b, "trusted publishing exchange failed (%d %s):", status, cmpOrStr(res.Message, "Token request failed"))
		for _, e := range res.Errors {
			fmt.Fprintf(&b, "\n  * %s: %s", e.Code, e.Description)
		}
	} else {
		fmt.Fprintf(&b, "trusted publishing exchange failed: the server answered %d: %s", status, snippet(body))
	}
	if claims := tokenClaims(jwt); claims != "" {
		b.WriteString("\nyour ID token's claims:\n" + claims)
	}
	return errors.New(b.String())
}

type uploadResult int

const (
	resUploaded uploadResult = iota
	resExisting
	resRefused
)

// upload sends one file with the legacy upload API, streaming it from
// disk. It returns the outcome and, unless uploaded, the server's message.
func (p *publishRun) upload(ctx context.Context, d *distFile, token string) (uploadResult, string) {
	prefix, suffix, ctype := d.frame()
	f, err := os.Open(d.path)
	if err != nil {
		return resRefused, err.Error()
	}
	defer f.Close()
	prog := newProgress(p.errOut, d.name, d.size)
	body := io.MultiReader(bytes.NewReader(prefix), &progressReader{r: f, p: prog}, bytes.NewReader(suffix))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.uploadURL, body)
	if err != nil {
		return resRefused, err.Error()
	}
	req.ContentLength = int64(len(prefix)) + d.size + int64(len(suffix))
	req.Header.Set("Content-Type", ctype)
	req.SetBasicAuth("__token__", token)
	resp, err := p.hc.Do(req)
	prog.done()
	if err != nil {
		return resRefused, "sending failed: " + err.Error()
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	text := strings.TrimSpace(string(msg))
	if i := strings.IndexByte(text, '\n'); i >= 0 {
		text = text[:i]
	}
	if text == "" {
		text = resp.Status
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return resUploaded, ""
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return resRefused, fmt.Sprintf("the server redirected to %s: use that as --repository-url", resp.Header.Get("Location"))
	case p.f.skipExisting && (resp.StatusCode == http.StatusConflict ||
		resp.StatusCode == http.StatusBadRequest && strings.Contains(strings.ToLower(text), "already exist")):
		return resExisting, text
	}
	return resRefused, fmt.Sprintf("%d: %s", resp.StatusCode, text)
}

// frame builds the multipart body around the file: the form fields and the
// file part's header (prefix), the closing boundary (suffix). The file
// itself is streamed between them, so memory does not grow with its size
// and the request has an exact Content-Length.
func (d *distFile) frame() (prefix, suffix []byte, contentType string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, kv := range d.fields() {
		_ = mw.WriteField(kv[0], kv[1]) // writes to a bytes.Buffer cannot fail
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="content"; filename="`+quoteEscaper.Replace(d.name)+`"`)
	h.Set("Content-Type", "application/octet-stream")
	_, _ = mw.CreatePart(h)
	prefix = bytes.Clone(buf.Bytes())
	buf.Reset()
	_ = mw.Close()
	return prefix, bytes.Clone(buf.Bytes()), mw.FormDataContentType()
}

var quoteEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// fields are the form fields twine sends for a file
// (research/pypi-protocols.md §3.2): protocol, digests and core metadata,
// multiple-use fields repeated. Empty values are left out.
func (d *distFile) fields() [][2]string {
	m := d.meta
	pyversion := "source"
	if d.dist.Kind == pypi.WheelDist {
		pyversion = d.dist.PythonTag
	}
	out := [][2]string{
		{":action", "file_upload"},
		{"protocol_version", "1"},
		{"filetype", d.dist.Kind.String()},
		{"pyversion", pyversion},
		{"metadata_version", m.MetadataVersion},
		{"name", m.Name},
		{"version", m.Version},
		{"sha256_digest", d.sha256},
		{"blake2_256_digest", d.blake2},
	}
	for _, kv := range [][2]string{
		{"summary", m.Summary},
		{"description", m.Description},
		{"description_content_type", m.DescriptionContentType},
		{"keywords", m.Keywords},
		{"home_page", m.HomePage},
		{"download_url", m.DownloadURL},
		{"author", m.Author},
		{"author_email", m.AuthorEmail},
		{"maintainer", m.Maintainer},
		{"maintainer_email", m.MaintainerEmail},
		{"license", m.License},
		{"license_expression", m.LicenseExpression},
		{"requires_python", m.RequiresPython},
	} {
		if kv[1] != "" {
			out = append(out, kv)
		}
	}
	multi := []struct {
		name string
		vals []string
	}{
		{"classifiers", m.Classifiers},
		{"requires_dist", m.RequiresDist},
		{"provides_extra", m.ProvidesExtra},
		{"project_urls", m.ProjectURLs},
		{"platform", m.Platforms},
		{"supported_platform", m.SupportedPlatforms},
		{"requires_external", m.RequiresExternal},
		{"provides_dist", m.ProvidesDist},
		{"obsoletes_dist", m.ObsoletesDist},
		{"dynamic", m.Dynamic},
	}
	// twine drops License-File below Metadata-Version 2.4, where it was
	// not yet a standard field.
	if atLeast(m.MetadataVersion, 2, 4) {
		multi = append(multi, struct {
			name string
			vals []string
		}{"license_file", m.LicenseFiles})
	}
	for _, f := range multi {
		for _, v := range f.vals {
			if v != "" {
				out = append(out, [2]string{f.name, v})
			}
		}
	}
	return out
}

// atLeast compares a "major.minor" Metadata-Version.
func atLeast(v string, major, minor int) bool {
	a, b, _ := strings.Cut(v, ".")
	ma, err1 := strconv.Atoi(a)
	mi, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// progress reports one file's upload on stderr: a line updated in place on
// a terminal, a single line otherwise (CI logs keep every line).
type progress struct {
	w          io.Writer
	name       string
	size, sent int64
	tty        bool
	last       time.Time
}

func newProgress(w io.Writer, name string, size int64) *progress {
	p := &progress{w: w, name: name, size: size}
	if f, ok := w.(*os.File); ok {
		p.tty = isTerminal(f)
	}
	if !p.tty {
		fmt.Fprintf(w, "uploading %s (%s)\n", name, humanSize(size))
	}
	return p
}

func (p *progress) add(n int) {
	p.sent += int64(n)
	if !p.tty {
		return
	}
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond || p.sent == p.size {
		p.last = now
		pct := int64(100)
		if p.size > 0 {
			pct = p.sent * 100 / p.size
		}
		fmt.Fprintf(p.w, "\ruploading %s  %3d%% of %s", p.name, pct, humanSize(p.size))
	}
}

func (p *progress) done() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

type progressReader struct {
	r io.Reader
	p *progress
}

func (r *progressReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.p.add(n)
	return n, err
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
