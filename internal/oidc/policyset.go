package oidc

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"cel.dev/cel-go/cel"

	"github.com/wharf-dev/wharf/internal/glob"
	"github.com/wharf-dev/wharf/internal/registry"
)

// Entry is one granted combination: Actions on Projects (nil: every
// project) of Repo, for at most TTL.
type Entry struct {
	Repo     string            `json:"repo"`
	Projects []string          `json:"projects,omitempty"`
	Actions  []registry.Action `json:"actions"`
	TTL      time.Duration     `json:"ttl"`
	Policy   string            `json:"policy,omitempty"` // allow policy (or "publisher:<id>") that granted it
}

// Check is one matcher's outcome, for explanations.
type Check struct {
	Claim   string `json:"claim"`
	Op      string `json:"op"`
	Want    string `json:"want"`
	Got     string `json:"got,omitempty"`
	Present bool   `json:"present"`
	OK      bool   `json:"ok"`
}

// Trace explains one policy's evaluation.
type Trace struct {
	Policy    string  `json:"policy"`
	Effect    string  `json:"effect"`
	Matched   bool    `json:"matched"`
	Checks    []Check `json:"checks,omitempty"`
	Condition string  `json:"condition,omitempty"`
	// CondResult is "true", "false", "error: …" or "" (not reached).
	CondResult string `json:"condition_result,omitempty"`
}

// Failed is the first failing check, or nil.
func (t Trace) Failed() *Check {
	for i := range t.Checks {
		if !t.Checks[i].OK {
			return &t.Checks[i]
		}
	}
	return nil
}

// Decision is the outcome of evaluating the policies of one issuer.
type Decision struct {
	Entries []Entry  `json:"entries"` // after deny policies
	Allowed []string `json:"allowed,omitempty"`
	Denied  []string `json:"denied,omitempty"`
	Traces  []Trace  `json:"traces,omitempty"` // when explaining
	denies  []Grants
}

type compiled struct {
	p    Policy
	prog cel.Program
}

type issuerPolicies struct{ deny, allow []*compiled }

// PolicySet is an immutable, issuer-indexed set of compiled policies.
type PolicySet struct {
	byIssuer map[string]*issuerPolicies // by issuer URL
	n        int
}

// NewPolicySet compiles ps. Policies naming an issuer that is not
// configured (any more) are skipped and reported in skipped.
func NewPolicySet(ps []Policy, issuers []IssuerInfo, env *CEL) (set *PolicySet, skipped []string, err error) {
	set = &PolicySet{byIssuer: map[string]*issuerPolicies{}}
	for i := range ps {
		p := ps[i]
		url := ""
		for _, is := range issuers {
			if is.Name == p.Issuer || is.URL == p.Issuer {
				url = is.URL
			}
		}
		if url == "" {
			skipped = append(skipped, p.Name)
			continue
		}
		c := &compiled{p: p}
		if p.Condition != "" {
			if c.prog, err = env.Compile(p.Condition); err != nil {
				return nil, nil, fmt.Errorf("policy %q: %w", p.Name, err)
			}
		}
		ip := set.byIssuer[url]
		if ip == nil {
			ip = &issuerPolicies{}
			set.byIssuer[url] = ip
		}
		if p.Effect == EffectDeny {
			ip.deny = append(ip.deny, c)
		} else {
			ip.allow = append(ip.allow, c)
		}
		set.n++
	}
	return set, skipped, nil
}

// Len is the number of policies in the set.
func (s *PolicySet) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// Evaluate runs the issuer's deny policies, then its allow policies, and
// returns the union of the allow grants minus what matching deny policies
// remove. With explain, every policy's trace is recorded.
func (s *PolicySet) Evaluate(c Claims, explain bool) Decision {
	var d Decision
	if s == nil {
		return d
	}
	ip := s.byIssuer[c.Issuer]
	if ip == nil {
		return d
	}
	var vars map[string]any // built once, only if a condition runs
	eval := func(cp *compiled) bool {
		var tr *Trace
		if explain {
			d.Traces = append(d.Traces, Trace{Policy: cp.p.Name, Effect: cp.p.Effect, Condition: cp.p.Condition})
			tr = &d.Traces[len(d.Traces)-1]
		}
		for i := range cp.p.Match {
			m := &cp.p.Match[i]
			ok, got, present := m.test(c.Raw)
			if tr != nil {
				op, want := m.Op()
				tr.Checks = append(tr.Checks, Check{Claim: m.Name(), Op: op, Want: want, Got: truncate(got), Present: present, OK: ok})
			}
			if !ok {
				return false
			}
		}
		if cp.prog != nil {
			if vars == nil {
				cl := celClaims(c.Raw)
				vars = map[string]any{"claims": cl, "assertion": cl}
			}
			ok, err := evalCondition(cp.prog, vars)
			if tr != nil {
				tr.CondResult = fmt.Sprint(ok)
				if err != nil {
					tr.CondResult = "error: " + err.Error()
				}
			}
			if !ok {
				return false
			}
		}
		if tr != nil {
			tr.Matched = true
		}
		return true
	}
	var denies []*compiled
	for _, cp := range ip.deny {
		if eval(cp) {
			denies = append(denies, cp)
			d.denies = append(d.denies, cp.p.Grant)
			d.Denied = append(d.Denied, cp.p.Name)
		}
	}
	for _, cp := range ip.allow {
		if !eval(cp) {
			continue
		}
		d.Allowed = append(d.Allowed, cp.p.Name)
		g := cp.p.Grant
		for _, r := range g.Repositories {
			d.Entries = append(d.Entries, Entry{Repo: r, Projects: g.Projects, Actions: g.Actions, TTL: time.Duration(g.TTL), Policy: cp.p.Name})
		}
	}
	for _, cp := range denies {
		d.Entries = Subtract(d.Entries, cp.p.Grant)
	}
	return d
}

// Subtract removes what a deny grant covers. Empty deny fields mean "all".
// A deny limited to some projects splits entries listing exact project
// names; an entry with project patterns (or all projects) that a deny
// pattern might overlap loses the denied actions altogether: deny wins,
// so when the overlap cannot be computed exactly we remove more, never less.
func Subtract(entries []Entry, deny Grants) []Entry {
	var out []Entry
	for _, e := range entries {
		if len(deny.Repositories) > 0 && !slices.Contains(deny.Repositories, e.Repo) {
			out = append(out, e)
			continue
		}
		var remaining []registry.Action // empty deny actions: all denied
		if len(deny.Actions) > 0 {
			for _, a := range e.Actions {
				if !slices.Contains(deny.Actions, a) {
					remaining = append(remaining, a)
				}
			}
		}
		exact := len(e.Projects) > 0 && !slices.ContainsFunc(e.Projects, func(p string) bool { return strings.Contains(p, "*") })
		if len(deny.Projects) == 0 || !exact {
			if len(remaining) > 0 {
				e.Actions = remaining
				out = append(out, e)
			}
			continue
		}
		var hit, miss []string
		for _, p := range e.Projects {
			if slices.ContainsFunc(deny.Projects, func(pat string) bool { return glob.Match(pat, p) }) {
				hit = append(hit, p)
			} else {
				miss = append(miss, p)
			}
		}
		if len(miss) > 0 {
			m := e
			m.Projects = miss
			out = append(out, m)
		}
		if len(hit) > 0 && len(remaining) > 0 {
			h := e
			h.Projects, h.Actions = hit, remaining
			out = append(out, h)
		}
	}
	return out
}

// ScopeItem is one requested permission: "repo:NAME:ACTION" or
// "repo:NAME/PROJECT:ACTION" (PROJECT may be a '*' pattern).
type ScopeItem struct {
	Repo, Project string
	Action        registry.Action
}

func (it ScopeItem) String() string {
	if it.Project == "" {
		return "repo:" + it.Repo + ":" + string(it.Action)
	}
	return "repo:" + it.Repo + "/" + it.Project + ":" + string(it.Action)
}

// ParseScope reads a space-separated RFC 8693 scope.
func ParseScope(s string) ([]ScopeItem, error) {
	var out []ScopeItem
	for _, f := range strings.Fields(s) {
		rest, ok := strings.CutPrefix(f, "repo:")
		i := strings.LastIndexByte(rest, ':')
		if !ok || i <= 0 {
			return nil, fmt.Errorf("scope %q must look like repo:NAME:ACTION or repo:NAME/PROJECT:ACTION", truncate(f))
		}
		it := ScopeItem{Action: registry.Action(rest[i+1:])}
		it.Repo, it.Project, _ = strings.Cut(rest[:i], "/")
		switch it.Action {
		case registry.Read, registry.Upload, registry.Yank, registry.Delete:
		default:
			return nil, fmt.Errorf("scope %q: action must be read, upload, yank or delete", truncate(f))
		}
		if !registry.ValidRepoName(it.Repo) {
			return nil, fmt.Errorf("scope %q: %q is not a repository name", truncate(f), truncate(it.Repo))
		}
		if it.Project != "" {
			it.Project = normalizePattern(it.Project)
			if !validProjectPattern(it.Project) {
				return nil, fmt.Errorf("scope %q: %q is not a project name or pattern", truncate(f), truncate(it.Project))
			}
		}
		out = append(out, it)
	}
	return out, nil
}

// FormatScope renders entries as RFC 8693 scope items.
func FormatScope(entries []Entry) string {
	var items []string
	for _, e := range entries {
		for _, a := range e.Actions {
			if len(e.Projects) == 0 {
				items = append(items, ScopeItem{Repo: e.Repo, Action: a}.String())
			}
			for _, p := range e.Projects {
				items = append(items, ScopeItem{Repo: e.Repo, Project: p, Action: a}.String())
			}
		}
	}
	sort.Strings(items)
	return strings.Join(slices.Compact(items), " ")
}

// Narrow keeps only what the request asks for (never more), and names the
// first requested item nothing grants.
func Narrow(entries []Entry, req []ScopeItem) ([]Entry, *ScopeItem) {
	if len(req) == 0 {
		return entries, nil
	}
	var out []Entry
	for i, it := range req {
		got := false
		for _, e := range entries {
			if e.Repo != it.Repo || !slices.Contains(e.Actions, it.Action) {
				continue
			}
			n := Entry{Repo: e.Repo, Actions: []registry.Action{it.Action}, TTL: e.TTL, Policy: e.Policy}
			switch {
			case it.Project == "":
				n.Projects = e.Projects
			case len(e.Projects) == 0 || slices.Contains(e.Projects, it.Project) ||
				!strings.Contains(it.Project, "*") && slices.ContainsFunc(e.Projects, func(p string) bool { return glob.Match(p, it.Project) }):
				n.Projects = []string{it.Project}
			default:
				continue
			}
			out = append(out, n)
			got = true
		}
		if !got {
			return nil, &req[i]
		}
	}
	return out, nil
}

// ToScope expresses entries as one token scope, exactly: nothing the
// entries do not grant. ok is false when no single scope can (a token's
// scope is repositories × projects × actions, optionally limited to
// (repository, project) bindings); ttl is the shortest entry lifetime.
func ToScope(entries []Entry) (scope registry.Scope, ttl time.Duration, ok bool) {
	if len(entries) == 0 {
		return scope, 0, false
	}
	const all = "\x00all"
	var repos, projects []string
	var actions []registry.Action
	for _, e := range entries {
		repos = appendNew(repos, e.Repo)
		if len(e.Projects) == 0 {
			projects = appendNew(projects, all)
		}
		for _, p := range e.Projects {
			projects = appendNew(projects, p)
		}
		for _, a := range e.Actions {
			if !slices.Contains(actions, a) {
				actions = append(actions, a)
			}
		}
		if ttl == 0 || e.TTL < ttl {
			ttl = e.TTL
		}
	}
	// Actions in registry order, for stable scopes.
	slices.SortFunc(actions, func(a, b registry.Action) int {
		return slices.Index(registry.Actions, a) - slices.Index(registry.Actions, b)
	})
	covered := func(r, p string, a registry.Action) bool {
		for _, e := range entries {
			if e.Repo == r && slices.Contains(e.Actions, a) &&
				(p == all && len(e.Projects) == 0 || slices.Contains(e.Projects, p)) {
				return true
			}
		}
		return false
	}
	product := true
	for _, r := range repos {
		for _, p := range projects {
			for _, a := range actions {
				if !covered(r, p, a) {
					product = false
				}
			}
		}
	}
	if product && (len(projects) == 1 && projects[0] == all || !slices.Contains(projects, all)) {
		scope = registry.Scope{Repos: repos, Actions: actions}
		if projects[0] != all {
			scope.Projects = projects
		}
		return scope, ttl, true
	}
	// Bindings: the same actions everywhere, exact project names only.
	for _, e := range entries {
		if len(e.Actions) != len(actions) || len(e.Projects) == 0 {
			return registry.Scope{}, 0, false
		}
		for _, p := range e.Projects {
			if strings.Contains(p, "*") {
				return registry.Scope{}, 0, false
			}
		}
	}
	scope = registry.Scope{Repos: repos, Projects: projects, Actions: actions}
	for _, e := range entries {
		for _, p := range e.Projects {
			b := registry.Binding{Repo: e.Repo, Project: p}
			if !slices.Contains(scope.Bindings, b) {
				scope.Bindings = append(scope.Bindings, b)
			}
		}
	}
	return scope, ttl, true
}

func appendNew(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}
