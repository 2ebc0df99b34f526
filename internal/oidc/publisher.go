package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
)

// Publisher trusts one CI identity to upload one project of one repository.
// Exactly one of GitHub, GitLab and Generic is set, matching Kind.
type Publisher struct {
	ID      int64  `json:"id"`
	Repo    string `json:"repo"`    // wharf repository name
	Project string `json:"project"` // PEP 503 normalised
	// Pending publishers may create Project on first publish; once the
	// project exists they are ignored (the store should then reify them).
	Pending   bool              `json:"pending"`
	Kind      string            `json:"kind"` // github | gitlab | generic
	GitHub    *GitHubPublisher  `json:"github,omitempty"`
	GitLab    *GitLabPublisher  `json:"gitlab,omitempty"`
	Generic   *GenericPublisher `json:"generic,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
}

// GitHubPublisher matches GitHub Actions ID tokens. The trusted workflow is
// the caller (workflow_ref), not job_workflow_ref (pypi/warehouse#11096).
type GitHubPublisher struct {
	// Issuer defaults to GitHubIssuer. A per-enterprise or GHES issuer is a
	// different issuer: its tokens never satisfy a github.com publisher.
	Issuer     string `json:"issuer,omitempty"`
	Owner      string `json:"owner"`      // compared case-insensitively
	OwnerID    string `json:"owner_id"`   // repository_owner_id, required: defeats name resurrection
	Repository string `json:"repository"` // repository name without the owner; case-insensitive
	// RepositoryID pins repository_id when set (a deleted and recreated
	// repository gets a new id).
	RepositoryID string `json:"repository_id,omitempty"`
	Workflow     string `json:"workflow"`              // workflow file name, e.g. "release.yml"
	Environment  string `json:"environment,omitempty"` // optional; case-insensitive; "" accepts any
	// JobWorkflowRef optionally requires the job to run in this reusable
	// workflow: "owner/repo/.github/workflows/file.yml@refs/tags/v*", where
	// '*' never crosses '/' or '@'.
	JobWorkflowRef string `json:"job_workflow_ref,omitempty"`
	// AllowedEvents, when set, lists the only event_name values accepted.
	// Empty: anything but DeniedEvents. pull_request_target is never allowed.
	AllowedEvents []string `json:"allowed_events,omitempty"`
}

// GitLabPublisher matches GitLab CI ID tokens.
type GitLabPublisher struct {
	Issuer      string `json:"issuer,omitempty"`       // defaults to GitLabIssuer; self-managed instances name theirs
	Namespace   string `json:"namespace"`              // group path, may contain subgroups; case-insensitive
	NamespaceID string `json:"namespace_id,omitempty"` // optional pin of namespace_id
	Project     string `json:"project"`                // case-insensitive
	CIFilePath  string `json:"ci_file_path"`           // path of the CI file in the repository, e.g. ".gitlab-ci.yml"
	Environment string `json:"environment,omitempty"`  // optional; exact (GitLab environments are case-sensitive)
}

// GenericPublisher matches any issuer by exact claim values.
type GenericPublisher struct {
	Issuer string            `json:"issuer"`
	Claims map[string]string `json:"claims"` // at least one claim other than sub
}

// DeniedEvents are GitHub events refused unless a publisher lists them in
// AllowedEvents: they run privileged workflows on behalf of forks ("pwn
// requests"). pull_request_target cannot be allowed at all.
var DeniedEvents = []string{"pull_request_target", "workflow_run", "issue_comment"}

// PublisherSource lists the publishers that name an issuer (the store
// implements it; MemoryPublishers is for tests).
type PublisherSource interface {
	ForIssuer(ctx context.Context, issuerURL string) ([]Publisher, error)
}

// IssuerURL is the issuer the publisher trusts, defaults applied.
func (p Publisher) IssuerURL() string {
	switch {
	case p.GitHub != nil:
		return cmpOr(p.GitHub.Issuer, GitHubIssuer)
	case p.GitLab != nil:
		return cmpOr(p.GitLab.Issuer, GitLabIssuer)
	case p.Generic != nil:
		return p.Generic.Issuer
	}
	return ""
}

// SetDefaults fills the default issuers, so what is stored is explicit.
func (p *Publisher) SetDefaults() {
	switch {
	case p.GitHub != nil:
		p.GitHub.Issuer = cmpOr(p.GitHub.Issuer, GitHubIssuer)
	case p.GitLab != nil:
		p.GitLab.Issuer = cmpOr(p.GitLab.Issuer, GitLabIssuer)
	}
}

// Validate checks a publisher before it is saved, naming each bad field and
// how to fix it.
func (p Publisher) Validate() error {
	var es []error
	bad := func(field, format string, args ...any) {
		es = append(es, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if !registry.ValidRepoName(p.Repo) {
		bad("repo", "%q is not a repository name", p.Repo)
	}
	if p.Project == "" || normalize(p.Project) != p.Project {
		bad("project", "%q must be the PEP 503 normalised name (%q)", p.Project, normalize(p.Project))
	}
	n := 0
	for _, set := range []bool{p.GitHub != nil, p.GitLab != nil, p.Generic != nil} {
		if set {
			n++
		}
	}
	want := map[string]bool{KindGitHub: p.GitHub != nil, KindGitLab: p.GitLab != nil, KindGeneric: p.Generic != nil}
	if n != 1 || !want[p.Kind] {
		bad("kind", "%q must be github, gitlab or generic, with exactly that block set", p.Kind)
	}
	if iss := p.IssuerURL(); iss != "" {
		if err := checkIssuerURL(iss); err != nil {
			bad("issuer", "%v", err)
		}
	}
	switch {
	case p.GitHub != nil:
		g := p.GitHub
		if !ghName(g.Owner, 39, false) {
			bad("github.owner", "%q is not a GitHub user or organisation name", g.Owner)
		}
		if !digits(g.OwnerID) {
			bad("github.owner_id", "required, the numeric id of %q (gh api users/%s --jq .id); it stops a re-registered name from inheriting trust", g.Owner, g.Owner)
		}
		if !ghName(g.Repository, 100, true) {
			bad("github.repository", "%q is not a repository name (give it without the owner)", g.Repository)
		}
		if g.RepositoryID != "" && !digits(g.RepositoryID) {
			bad("github.repository_id", "%q must be the numeric repository id", g.RepositoryID)
		}
		if !validWorkflowFile(g.Workflow) {
			bad("github.workflow", "%q must be a workflow file name ending in .yml or .yaml, without '/' or '@'", g.Workflow)
		}
		if len(g.Environment) > 255 || !printableOrEmpty(g.Environment) {
			bad("github.environment", "must be at most 255 printable characters")
		}
		if g.JobWorkflowRef != "" {
			if err := checkJobWorkflowRef(g.JobWorkflowRef); err != nil {
				bad("github.job_workflow_ref", "%v", err)
			}
		}
		if slices.Contains(g.AllowedEvents, "pull_request_target") {
			bad("github.allowed_events", "pull_request_target can never publish: it runs with the base repository's trust on code from forks")
		}
	case p.GitLab != nil:
		g := p.GitLab
		if g.Namespace == "" || strings.HasPrefix(g.Namespace, "/") || strings.HasSuffix(g.Namespace, "/") {
			bad("gitlab.namespace", "%q must be a group path such as \"group\" or \"group/subgroup\"", g.Namespace)
		}
		if g.NamespaceID != "" && !digits(g.NamespaceID) {
			bad("gitlab.namespace_id", "%q must be numeric", g.NamespaceID)
		}
		if g.Project == "" || strings.Contains(g.Project, "/") {
			bad("gitlab.project", "%q must be a project name without the namespace", g.Project)
		}
		if !(strings.HasSuffix(g.CIFilePath, ".yml") || strings.HasSuffix(g.CIFilePath, ".yaml")) || strings.HasPrefix(g.CIFilePath, "/") || strings.Contains(g.CIFilePath, "@") {
			bad("gitlab.ci_file_path", "%q must be the repository-relative path of a .yml/.yaml file, e.g. .gitlab-ci.yml", g.CIFilePath)
		}
	case p.Generic != nil:
		g := p.Generic
		if g.Issuer == "" {
			bad("generic.issuer", "required: the exact issuer URL, which must also be configured on the server")
		}
		nonSub := 0
		for k := range g.Claims {
			switch k {
			case "iss", "aud", "exp", "iat", "nbf", "jti":
				bad("generic.claims", "%q is checked by the verifier and cannot be matched", k)
			case "sub":
			default:
				nonSub++
			}
		}
		if nonSub == 0 {
			bad("generic.claims", "at least one claim other than sub is required: sub formats vary and are often customisable by the caller")
		}
	}
	if len(es) > 0 {
		return errs.E(errs.Invalid, "oidc.Publisher.Validate", errors.Join(es...))
	}
	return nil
}

// mismatch explains why a publisher did not match: the stage reached (how
// close it came), the claim that differed, and whether the publisher is
// "the caller's own" (names the caller's repository or project path), so
// the differing claim may be named without revealing anything new.
type mismatch struct {
	stage int
	claim string
	own   bool
}

// match checks c against p; nil means it matches.
func (p Publisher) match(c Claims) *mismatch {
	if c.Issuer != p.IssuerURL() {
		return &mismatch{stage: 0, claim: "iss"}
	}
	switch {
	case p.GitHub != nil:
		return p.GitHub.match(c)
	case p.GitLab != nil:
		return p.GitLab.match(c)
	case p.Generic != nil:
		return p.Generic.match(c)
	}
	return &mismatch{claim: "kind"}
}

func (g *GitHubPublisher) match(c Claims) *mismatch {
	full := g.Owner + "/" + g.Repository
	if !sameClaim(KindGitHub, "repository", c.Repository(), full) {
		return &mismatch{stage: 1, claim: "repository"}
	}
	own := func(stage int, claim string) *mismatch { return &mismatch{stage: stage, claim: claim, own: true} }
	if !sameClaim(KindGitHub, "repository_owner", c.RepositoryOwner(), g.Owner) {
		return own(2, "repository_owner")
	}
	if c.OwnerID() != g.OwnerID {
		return own(3, "repository_owner_id")
	}
	if g.RepositoryID != "" && c.RepositoryID() != g.RepositoryID {
		return own(4, "repository_id")
	}
	// workflow_ref = owner/repo/.github/workflows/<file>@<ref>, where <ref>
	// is the token's own ref or sha (PyPI's cross-claim check).
	wr := c.WorkflowRef()
	mid := "/.github/workflows/" + g.Workflow + "@"
	if len(wr) <= len(full)+len(mid) || !strings.EqualFold(wr[:len(full)], full) || wr[len(full):len(full)+len(mid)] != mid {
		return own(5, "workflow_ref")
	}
	if at := wr[len(full)+len(mid):]; !(at == c.Ref() && at != "") && !(at == c.SHA() && at != "") {
		return own(5, "workflow_ref")
	}
	if g.JobWorkflowRef != "" && !globMatch(g.JobWorkflowRef, c.JobWorkflowRef()) {
		return own(6, "job_workflow_ref")
	}
	if g.Environment != "" && !sameClaim(KindGitHub, "environment", c.Environment(), g.Environment) {
		return own(7, "environment")
	}
	ev := c.EventName()
	switch {
	case ev == "" || ev == "pull_request_target":
		return own(8, "event_name")
	case len(g.AllowedEvents) > 0 && !slices.Contains(g.AllowedEvents, ev):
		return own(8, "event_name")
	case len(g.AllowedEvents) == 0 && slices.Contains(DeniedEvents, ev):
		return own(8, "event_name")
	}
	return nil
}

func (g *GitLabPublisher) match(c Claims) *mismatch {
	full := g.Namespace + "/" + g.Project
	if !sameClaim(KindGitLab, "project_path", c.ProjectPath(), full) {
		return &mismatch{stage: 1, claim: "project_path"}
	}
	own := func(stage int, claim string) *mismatch { return &mismatch{stage: stage, claim: claim, own: true} }
	if g.NamespaceID != "" && c.NamespaceID() != g.NamespaceID {
		return own(2, "namespace_id")
	}
	// ci_config_ref_uri = <host>/<namespace>/<project>//<ci file>@<ref_path or sha>
	host := ""
	if u, err := url.Parse(cmpOr(g.Issuer, GitLabIssuer)); err == nil {
		host = u.Host
	}
	uri := c.CIConfigRefURI()
	head, mid := host+"/"+full, "//"+g.CIFilePath+"@"
	if len(uri) <= len(head)+len(mid) || !strings.EqualFold(uri[:len(head)], head) || uri[len(head):len(head)+len(mid)] != mid {
		return own(3, "ci_config_ref_uri")
	}
	rp, sha := c.RefPath(), c.SHA()
	if at := uri[len(head)+len(mid):]; rp == "" || sha == "" || (at != rp && at != sha) {
		return own(3, "ci_config_ref_uri")
	}
	if g.Environment != "" && !sameClaim(KindGitLab, "environment", c.Environment(), g.Environment) {
		return own(4, "environment")
	}
	return nil
}

func (g *GenericPublisher) match(c Claims) *mismatch {
	keys := make([]string, 0, len(g.Claims))
	for k := range g.Claims {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if !c.Has(k) || c.String(k) != g.Claims[k] {
			// Never "own": claim names of generic publishers are not the
			// caller's to learn.
			return &mismatch{stage: 1 + i, claim: k}
		}
	}
	return nil
}

// globMatch matches s against pattern, where '*' matches any run of
// characters other than '/' and '@' and everything else is literal.
func globMatch(pattern, s string) bool {
	star := strings.IndexByte(pattern, '*')
	if star < 0 {
		return pattern == s
	}
	if !strings.HasPrefix(s, pattern[:star]) {
		return false
	}
	rest, s := pattern[star+1:], s[star:]
	for i := 0; i <= len(s); i++ {
		if globMatch(rest, s[i:]) {
			return true
		}
		if i < len(s) && (s[i] == '/' || s[i] == '@') {
			return false
		}
	}
	return false
}

func checkJobWorkflowRef(p string) error {
	i := strings.Index(p, "/.github/workflows/")
	at := strings.LastIndexByte(p, '@')
	if i < 0 || at < i || at == len(p)-1 {
		return fmt.Errorf("%q must look like owner/repo/.github/workflows/file.yml@refs/tags/v*", p)
	}
	owner, _, ok := strings.Cut(p[:i], "/")
	if !ok || owner == "" || strings.Contains(p[:i], "*") {
		return fmt.Errorf("%q: the owner/repo part must be literal, without '*'", p)
	}
	if strings.Contains(p, "**") {
		return fmt.Errorf("%q: '**' is not supported; '*' never crosses '/'", p)
	}
	return nil
}

func validWorkflowFile(s string) bool {
	base := strings.TrimSuffix(strings.TrimSuffix(s, ".yml"), ".yaml")
	return base != "" && base != s && !strings.ContainsAny(s, "/@\\") && printable(s)
}

func ghName(s string, max int, dots bool) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
		case dots && (c == '.' || c == '_'):
		default:
			return false
		}
	}
	return true
}

func digits(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func printableOrEmpty(s string) bool { return s == "" || printable(s) }

// normalize is PEP 503: lower case, runs of '-', '_' and '.' become '-'.
func normalize(name string) string {
	var b strings.Builder
	dash := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '-' || c == '_' || c == '.' {
			dash = true
			continue
		}
		if dash && b.Len() > 0 {
			b.WriteByte('-')
		}
		dash = false
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// MemoryPublishers is a PublisherSource over a fixed list.
type MemoryPublishers []Publisher

// ForIssuer implements PublisherSource.
func (m MemoryPublishers) ForIssuer(_ context.Context, issuerURL string) ([]Publisher, error) {
	var out []Publisher
	for _, p := range m {
		if p.IssuerURL() == issuerURL {
			out = append(out, p)
		}
	}
	return out, nil
}

// CheckPublisherIssuer refuses a publisher that could never match, or would
// match the wrong kind of token, on a server trusting issuers: its issuer
// must be configured, and a GitHub or GitLab publisher needs an issuer of
// that kind (a GitLab publisher on a github issuer would match GitLab-shaped
// claims from it). Every writer of publishers calls it: the admin API and
// the configuration's declarations.
func CheckPublisherIssuer(p Publisher, issuers []IssuerInfo) error {
	const op = "oidc.CheckPublisherIssuer"
	url := p.IssuerURL()
	var iss *IssuerInfo
	for i := range issuers {
		if issuers[i].URL == url {
			iss = &issuers[i]
		}
	}
	kind := cmpOr(p.Kind, KindGeneric)
	if iss == nil {
		names := make([]string, len(issuers))
		for i, is := range issuers {
			names[i] = is.Name + " (" + is.URL + ")"
		}
		configured := "none is configured"
		if len(names) > 0 {
			configured = "configured: " + strings.Join(names, ", ")
		}
		return errs.Errorf(errs.Invalid, op,
			"issuer: %s is not an issuer this server trusts (%s), so this publisher could never match: add it to the server configuration under oidc.issuers (url: %s, kind: %s) and restart, or name a configured issuer",
			url, configured, url, kind)
	}
	if kind != KindGeneric && iss.Kind != kind {
		return errs.Errorf(errs.Invalid, op,
			"issuer: %s (%s) is configured with kind %q, so a %s publisher cannot name it: its tokens are %s tokens; configure the %s instance as its own issuer with kind: %s, or correct the kind of %s in oidc.issuers",
			iss.Name, url, iss.Kind, kind, cmpOr(iss.Kind, KindGeneric), kind, kind, iss.Name)
	}
	return nil
}

// IssuerInfos describes configured issuers for validation (an empty kind
// is generic, as the verifier reads it).
func IssuerInfos(cfgs []IssuerConfig) []IssuerInfo {
	out := make([]IssuerInfo, len(cfgs))
	for i, ic := range cfgs {
		out[i] = IssuerInfo{Name: ic.Name, URL: ic.URL, Kind: cmpOr(ic.Kind, KindGeneric)}
	}
	return out
}
