package oidc

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/glob"
	"github.com/wharf-dev/wharf/internal/registry"
)

// Trust-policy token lifetimes: CodeArtifact's bounds (15 min to 12 h) and a
// one-hour default, long enough for a release job to install and publish.
const (
	DefaultPolicyTTL = time.Hour
	MinPolicyTTL     = 15 * time.Minute
	MaxPolicyTTL     = 12 * time.Hour
)

// Limits from research/oidc-federation.md §2.2.
const (
	maxMatchers     = 32
	maxConditionLen = 4096
	maxValueLen     = 1024
)

// Policy effects.
const (
	EffectAllow = "allow"
	EffectDeny  = "deny"
)

// Policy is a trust policy: ID tokens of Issuer whose claims satisfy every
// matcher and the CEL condition are granted Grant (allow), or have Grant
// taken away from what allow policies gave (deny).
type Policy struct {
	ID   int64  `json:"id,omitempty" yaml:"id,omitempty"`
	Name string `json:"name" yaml:"name"`
	// Issuer is a configured issuer, by name ("github") or exact URL.
	Issuer string `json:"issuer" yaml:"issuer"`
	// Audience defaults to the server's; the verifier accepts no other, so
	// a different value is refused when the policy is saved.
	Audience  string    `json:"audience,omitempty" yaml:"audience,omitempty"`
	Effect    string    `json:"effect,omitempty" yaml:"effect,omitempty"` // allow (default) | deny
	Match     []Matcher `json:"match,omitempty" yaml:"match,omitempty"`
	Condition string    `json:"condition,omitempty" yaml:"condition,omitempty"` // CEL over claims
	Grant     Grants    `json:"grant" yaml:"grant"`
	// PrivilegedEvents lifts the event guard for these GitHub events
	// (workflow_run, issue_comment): without it, jobs they start get no
	// upload, yank or delete from this policy. Linted; pull_request_target
	// can never be listed.
	PrivilegedEvents []string `json:"privileged_events,omitempty" yaml:"privileged_events,omitempty"`
	// Force accepts a policy the tenant-pin lint refuses. It is stored, so
	// the choice stays visible.
	Force     bool      `json:"force,omitempty" yaml:"force,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero" yaml:"-"`
	CreatedBy string    `json:"created_by,omitempty" yaml:"-"`
	// unreadable marks a stored policy that no longer decodes, kept as a
	// deny that cannot be evaluated (storePolicies).
	unreadable bool
}

// Grants is what a policy gives (allow) or removes (deny).
type Grants struct {
	// Repositories: required for allow; empty in a deny policy means all.
	Repositories []string `json:"repositories,omitempty" yaml:"repositories,omitempty"`
	// Projects are PEP 503 names or '*' globs; empty means every project.
	Projects []string `json:"projects,omitempty" yaml:"projects,omitempty"`
	// Actions: read, upload, yank, delete. Empty in a deny policy means all.
	Actions []registry.Action `json:"actions,omitempty" yaml:"actions,omitempty"`
	// TTL of the minted token (allow only): 0 means DefaultPolicyTTL.
	TTL Duration `json:"ttl,omitempty" yaml:"ttl,omitempty"`
}

// Duration reads "1h30m" (or a number of seconds) in JSON and YAML.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return fmt.Errorf("ttl must be a duration such as \"1h\" or \"30m\"")
		}
		*d = Duration(time.Duration(n) * time.Second)
		return nil
	}
	return d.set(s)
}

func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

func (d *Duration) UnmarshalText(b []byte) error { return d.set(string(b)) }

func (d *Duration) set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("ttl %q must be a duration such as \"1h\" or \"30m\"", s)
	}
	*d = Duration(v)
	return nil
}

// Matcher tests one claim. Exactly one of Claim and Path names it; exactly
// one of Equals, NotEquals, Like and In says how. A claim that is missing,
// or is an object or array, fails every matcher (not_equals included), the
// reverse of AWS's StringNotLike on a missing key.
type Matcher struct {
	Claim string   `json:"claim,omitempty" yaml:"claim,omitempty"` // literal name, may contain '.' or '/'
	Path  []string `json:"path,omitempty" yaml:"path,omitempty"`   // nested claim: [outer, inner]
	// Pointers tell "equals empty string" from "not set".
	Equals    *string  `json:"equals,omitempty" yaml:"equals,omitempty"`
	NotEquals *string  `json:"not_equals,omitempty" yaml:"not_equals,omitempty"`
	Like      *string  `json:"like,omitempty" yaml:"like,omitempty"` // '*' never crosses '/', ':' or '@'
	In        []string `json:"in,omitempty" yaml:"in,omitempty"`
}

// Name is the claim's display name ("ref", "extra.team").
func (m Matcher) Name() string {
	if len(m.Path) > 0 {
		return strings.Join(m.Path, ".")
	}
	return m.Claim
}

// Op and Want describe the matcher for explanations.
func (m Matcher) Op() (op string, want string) {
	switch {
	case m.Equals != nil:
		return "equals", *m.Equals
	case m.NotEquals != nil:
		return "not_equals", *m.NotEquals
	case m.Like != nil:
		return "like", *m.Like
	default:
		return "in", strings.Join(m.In, ", ")
	}
}

// claimValue returns the claim as text; ok is false when it is missing or
// structured. Numbers keep their JSON spelling (never via float64).
func (m *Matcher) claimValue(raw map[string]any) (string, bool) {
	var v any
	var ok bool
	if len(m.Path) == 0 {
		v, ok = raw[m.Claim]
	} else {
		cur := raw
		for i, k := range m.Path {
			v, ok = cur[k]
			if !ok {
				break
			}
			if i < len(m.Path)-1 {
				if cur, ok = v.(map[string]any); !ok {
					break
				}
			}
		}
	}
	if !ok {
		return "", false
	}
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return string(x), true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	}
	return "", false
}

// test reports whether the claims satisfy m, the actual value and whether
// the claim is present. Values are compared as the one claim table says
// (canonical). A missing or structured claim equals nothing (equals, like
// and in are false), but whether it differs from a value cannot be told:
// not_equals is undetermined, which grants nothing in an allow policy and
// denies in a deny policy.
func (m *Matcher) test(kind string, raw map[string]any) (outcome, string, bool) {
	v, present := m.claimValue(raw)
	if !present {
		if m.NotEquals != nil {
			return undetermined, "", false
		}
		return noMatch, "", false
	}
	name := m.Name()
	c := func(s string) string { return canonical(kind, name, s) }
	ok := false
	switch {
	case m.Equals != nil:
		ok = c(v) == c(*m.Equals)
	case m.NotEquals != nil:
		ok = c(v) != c(*m.NotEquals)
	case m.Like != nil:
		ok = Like(c(*m.Like), c(v))
	default:
		cv := c(v)
		ok = slices.ContainsFunc(m.In, func(s string) bool { return c(s) == cv })
	}
	if ok {
		return match, v, true
	}
	return noMatch, v, true
}

func (m Matcher) validate() error {
	if (m.Claim == "") == (len(m.Path) == 0) {
		return errors.New("name the claim with exactly one of claim or path")
	}
	for _, k := range m.Path {
		if k == "" {
			return errors.New("path elements must not be empty")
		}
	}
	if len(m.Path) == 1 {
		return errors.New("a path of one element is a claim: use claim instead")
	}
	n := 0
	for _, set := range []bool{m.Equals != nil, m.NotEquals != nil, m.Like != nil, m.In != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("claim %q: set exactly one of equals, not_equals, like and in", m.Name())
	}
	switch m.Claim {
	case "iss", "aud", "exp", "iat", "nbf", "jti":
		return fmt.Errorf("claim %q is checked by the verifier and cannot be matched", m.Claim)
	}
	check := func(s string) error {
		if len(s) > maxValueLen {
			return fmt.Errorf("claim %q: value longer than %d bytes", m.Name(), maxValueLen)
		}
		return nil
	}
	switch {
	case m.Equals != nil:
		return check(*m.Equals)
	case m.NotEquals != nil:
		return check(*m.NotEquals)
	case m.Like != nil:
		if strings.Contains(*m.Like, "**") {
			return fmt.Errorf("claim %q: '**' is not supported; '*' matches within one segment and never crosses '/', ':' or '@'", m.Name())
		}
		return check(*m.Like)
	default:
		if len(m.In) == 0 {
			return fmt.Errorf("claim %q: in needs at least one value", m.Name())
		}
		for _, s := range m.In {
			if err := check(s); err != nil {
				return err
			}
		}
	}
	return nil
}

// isSep reports the characters a '*' never crosses.
func isSep(c byte) bool { return c == '/' || c == ':' || c == '@' }

// Like matches s against pattern, where '*' matches any run of characters
// other than '/', ':' and '@' and everything else is literal. Because a '*'
// never crosses a separator, the separators of s and pattern must line up
// one to one; each segment between them is then matched with the classic
// linear wildcard algorithm. No allocation.
func Like(pattern, s string) bool {
	for {
		pi := indexSep(pattern)
		si := indexSep(s)
		if (pi < 0) != (si < 0) {
			return false
		}
		if pi < 0 {
			return glob.Match(pattern, s)
		}
		if pattern[pi] != s[si] || !glob.Match(pattern[:pi], s[:si]) {
			return false
		}
		pattern, s = pattern[pi+1:], s[si+1:]
	}
}

func indexSep(s string) int {
	for i := 0; i < len(s); i++ {
		if isSep(s[i]) {
			return i
		}
	}
	return -1
}

// IssuerInfo is what validation needs to know about a configured issuer.
type IssuerInfo struct{ Name, URL, Kind string }

// Lint results: a refusal unless forced, and warnings that are returned
// with the saved policy.
type LintResult struct {
	Warnings []string `json:"warnings,omitempty"`
}

// tenantClaims are the claims that pin a tenant on a shared issuer: an
// exact match on one of them keeps every other customer of the issuer out.
var tenantClaims = map[string][]string{
	KindGitHub: {"repository_owner_id", "repository_id", "repository_owner", "repository", "enterprise_id", "enterprise"},
	KindGitLab: {"namespace_id", "project_id", "namespace_path", "project_path"},
}

// immutableTenant are the ID claims among them (better than names, which
// can be deleted and re-registered by someone else).
var immutableTenant = map[string]bool{"repository_owner_id": true, "repository_id": true, "enterprise_id": true, "namespace_id": true, "project_id": true}

// Normalize fills defaults and canonical forms in place.
func (p *Policy) Normalize(audience string) {
	if p.Effect == "" {
		p.Effect = EffectAllow
	}
	if p.Audience == "" {
		p.Audience = audience
	}
	for i, pr := range p.Grant.Projects {
		p.Grant.Projects[i] = normalizePattern(pr)
	}
	if p.Effect == EffectAllow && p.Grant.TTL == 0 {
		p.Grant.TTL = Duration(DefaultPolicyTTL)
	}
}

// normalizePattern is PEP 503 with '*' kept as a name character.
func normalizePattern(s string) string { return normalize(s) }

// Validate checks a normalised policy against the configured issuers and
// the server's audience, compiling its condition with env. It refuses a
// policy on a GitHub or GitLab issuer that pins no tenant, unless Force,
// and warns about sub-only matching and names without IDs.
func (p Policy) Validate(issuers []IssuerInfo, audience string, env *CEL) (LintResult, error) {
	const op = "oidc.Policy.Validate"
	var es []error
	var res LintResult
	bad := func(field, format string, args ...any) {
		es = append(es, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if p.Name == "" || len(p.Name) > 100 || !printable(p.Name) || strings.ContainsAny(p.Name, "/ ") {
		bad("name", "%q must be 1 to 100 printable characters without spaces or '/'", p.Name)
	}
	var iss *IssuerInfo
	for i := range issuers {
		if issuers[i].Name == p.Issuer || issuers[i].URL == p.Issuer {
			iss = &issuers[i]
		}
	}
	if iss == nil {
		names := make([]string, len(issuers))
		for i, is := range issuers {
			names[i] = is.Name
		}
		bad("issuer", "%q is not a configured issuer (configured: %s); add it under oidc.issuers first", p.Issuer, strings.Join(names, ", "))
	}
	if p.Audience != audience {
		bad("audience", "%q: this server verifies tokens for audience %q only; leave audience empty", p.Audience, audience)
	}
	switch p.Effect {
	case EffectAllow, EffectDeny:
	default:
		bad("effect", "%q must be allow or deny", p.Effect)
	}
	if len(p.Match) == 0 && p.Condition == "" {
		bad("match", "a policy needs at least one claim matcher or a condition")
	}
	if len(p.Match) > maxMatchers {
		bad("match", "at most %d matchers", maxMatchers)
	}
	for i, m := range p.Match {
		if err := m.validate(); err != nil {
			bad(fmt.Sprintf("match[%d]", i), "%v", err)
		}
	}
	if len(p.Condition) > maxConditionLen {
		bad("condition", "longer than %d characters", maxConditionLen)
	} else if p.Condition != "" && env != nil {
		if _, err := env.Compile(p.Condition); err != nil {
			bad("condition", "%v", err)
		}
	}
	g := p.Grant
	if p.Effect == EffectAllow && len(g.Repositories) == 0 {
		bad("grant.repositories", "list the repositories this policy grants access to")
	}
	if p.Effect == EffectAllow && len(g.Actions) == 0 {
		bad("grant.actions", "list the actions granted: read, upload, yank, delete")
	}
	for _, r := range g.Repositories {
		if !registry.ValidRepoName(r) {
			bad("grant.repositories", "%q is not a repository name", r)
		}
	}
	for _, pr := range g.Projects {
		if !validProjectPattern(pr) {
			bad("grant.projects", "%q must be a project name or a pattern such as \"acme-*\"", pr)
		}
	}
	for _, a := range g.Actions {
		switch a {
		case registry.Read, registry.Upload, registry.Yank, registry.Delete:
		default:
			bad("grant.actions", "%q: a policy may grant read, upload, yank and delete (never admin)", a)
		}
	}
	if p.Effect == EffectAllow {
		if ttl := time.Duration(g.TTL); ttl < MinPolicyTTL || ttl > MaxPolicyTTL {
			bad("grant.ttl", "%s is outside %s to %s", ttl, MinPolicyTTL, "12h")
		}
	} else if g.TTL != 0 {
		bad("grant.ttl", "a deny policy grants no token lifetime")
	}
	for _, ev := range p.PrivilegedEvents {
		switch {
		case ev == "pull_request_target":
			bad("privileged_events", "pull_request_target can never upload, yank or delete: it runs with the base repository's trust on code from forks")
		case !slices.Contains(GuardedEvents, ev):
			bad("privileged_events", "%q is not a guarded event: only %s need (and accept) an opt-in", ev, "workflow_run and issue_comment")
		case p.Effect == EffectDeny:
			bad("privileged_events", "a deny policy grants nothing, so it has no event guard to lift")
		}
	}
	if iss != nil && p.Effect == EffectAllow {
		res.Warnings = p.lint(*iss, &es)
	}
	if iss != nil && p.Effect == EffectDeny {
		res.Warnings = p.lintDeny(*iss)
	}
	if len(es) > 0 {
		return res, errs.E(errs.Invalid, op, errors.Join(es...))
	}
	return res, nil
}

// lint applies the tenant-pin rule (an error unless forced) and returns
// warnings.
func (p Policy) lint(iss IssuerInfo, es *[]error) []string {
	var warn []string
	exact := map[string]bool{}
	onlySub := true
	for _, m := range p.Match {
		if m.Claim != "sub" {
			onlySub = false
		}
		if m.Equals != nil && len(m.Path) == 0 && *m.Equals != "" {
			exact[m.Claim] = true
		}
	}
	if len(p.Match) > 0 && onlySub {
		warn = append(warn, "only sub is matched: GitHub subjects are customisable per repository (include_claim_keys) and their format changes (ID-qualified subjects); match repository_owner_id, repository_id, ref and workflow_ref instead")
	}
	if iss.Kind == KindGitHub && slices.ContainsFunc(p.Grant.Actions, func(a registry.Action) bool { return slices.Contains(writeActions, a) }) {
		if len(p.PrivilegedEvents) == 0 {
			warn = append(warn, "event guard: jobs started by pull_request_target, workflow_run or issue_comment (or naming no event) get only read from this policy, never upload, yank or delete; list workflow_run or issue_comment in privileged_events to opt in")
		} else {
			warn = append(warn, fmt.Sprintf("privileged_events %s: jobs started by these events may upload, yank or delete although they can run code from forks with the base repository's trust; pin event_name or require a protected environment as well", strings.Join(p.PrivilegedEvents, ", ")))
		}
	}
	tenants, shared := tenantClaims[iss.Kind]
	if !shared {
		return warn
	}
	pinned, pinnedID := false, false
	for _, c := range tenants {
		if exact[c] {
			pinned = true
			pinnedID = pinnedID || immutableTenant[c]
		}
	}
	if !pinned && p.Condition != "" {
		// A CEL condition may pin the tenant, but we cannot prove it
		// cheaply; only an exact matcher counts.
		warn = append(warn, "the condition may pin the tenant, but only an equals matcher is recognised as a pin")
	}
	switch {
	case !pinned && !p.Force:
		ids := "repository_owner_id (or repository_id)"
		if iss.Kind == KindGitLab {
			ids = "namespace_id (or project_id)"
		}
		*es = append(*es, fmt.Errorf("match: issuer %s is shared by every %s user, and this policy pins no owner: add an equals matcher on %s, or set force if you really mean to trust everyone on it", iss.Name, iss.Kind, ids))
	case !pinned:
		warn = append(warn, "forced: this policy trusts every "+iss.Kind+" user whose token satisfies it")
	case !pinnedID:
		warn = append(warn, "the owner is pinned by name only: names can be deleted and re-registered by someone else; pin its numeric ID too")
	}
	return warn
}

// alwaysPresent are the claims every token of an issuer kind carries; a
// deny rule that reads any other claim denies the tokens that lack it.
var alwaysPresent = map[string][]string{
	KindGitHub: {"sub", "repository", "repository_id", "repository_owner", "repository_owner_id", "repository_visibility",
		"ref", "ref_type", "sha", "workflow", "workflow_ref", "workflow_sha", "job_workflow_ref", "job_workflow_sha",
		"event_name", "run_id", "run_number", "run_attempt", "actor", "actor_id"},
	KindGitLab: {"sub", "namespace_id", "namespace_path", "project_id", "project_path", "user_id", "user_login",
		"pipeline_id", "pipeline_source", "job_id", "ref", "ref_type", "ref_path", "ref_protected", "sha", "ci_config_ref_uri", "ci_config_sha"},
	KindGeneric: {"sub"},
}

// celClaimRef finds claims a condition reads: claims.X, claims["X"] and
// the assertion alias.
var celClaimRef = regexp.MustCompile(`\b(?:claims|assertion)\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*(?:"([^"]*)"|'([^']*)')\s*\])`)

// lintDeny warns about deny rules that read claims a token may lack: a
// deny that cannot be evaluated denies, so such a rule refuses every token
// without the claim, which is rarely what its author meant.
func (p Policy) lintDeny(iss IssuerInfo) []string {
	var warn []string
	optional := func(claim string) bool { return !slices.Contains(alwaysPresent[iss.Kind], claim) }
	for _, m := range p.Match {
		if m.NotEquals != nil && (len(m.Path) > 0 || optional(m.Claim)) {
			warn = append(warn, fmt.Sprintf("match %s not_equals: tokens of %s may lack %s, and this deny policy then cannot be evaluated and denies them", m.Name(), iss.Name, m.Name()))
		}
	}
	seen := map[string]bool{}
	for _, sub := range celClaimRef.FindAllStringSubmatch(p.Condition, -1) {
		claim := sub[1] + sub[2] + sub[3]
		if seen[claim] || !optional(claim) {
			continue
		}
		seen[claim] = true
		guarded := regexp.MustCompile(`has\(\s*(?:claims|assertion)\.` + regexp.QuoteMeta(claim) + `\s*\)|["']` + regexp.QuoteMeta(claim) + `["']\s+in\s+(?:claims|assertion)\b`)
		if guarded.MatchString(p.Condition) {
			continue
		}
		warn = append(warn, fmt.Sprintf("condition reads %s, which tokens of %s may lack: on such a token the condition fails, and a deny that cannot be evaluated denies; write has(claims.%s) && … if that is not what you mean", claim, iss.Name, claim))
	}
	return warn
}

func validProjectPattern(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '*') {
			return false
		}
	}
	return true
}

// ParsePolicy decodes one policy from JSON (YAML callers decode into
// Policy themselves). Unknown fields are refused so typos do not silently
// widen a policy.
func ParsePolicy(b []byte) (Policy, error) {
	var p Policy
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Policy{}, errs.E(errs.Invalid, "oidc.ParsePolicy", err)
	}
	if dec.More() {
		return Policy{}, errs.Errorf(errs.Invalid, "oidc.ParsePolicy", "one policy per document")
	}
	return p, nil
}
