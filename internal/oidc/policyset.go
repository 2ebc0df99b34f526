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
	// Undetermined says why the policy could not be evaluated for the
	// token (a matcher met a missing claim, the condition failed). Such a
	// deny policy denies (Matched is true); such an allow policy grants
	// nothing.
	Undetermined string `json:"undetermined,omitempty"`
	// Guard names the write actions the event guard removed from this
	// allow policy's grant (GitHub pwn-request events).
	Guard string `json:"guard,omitempty"`
}

// Outcome is the trace in words, for `wharf policy test`.
func (t Trace) Outcome() string {
	switch {
	case t.Undetermined != "" && t.Effect == EffectDeny:
		return "cannot be evaluated (" + t.Undetermined + "): denies, as a deny that cannot be evaluated does"
	case t.Undetermined != "":
		return "cannot be evaluated (" + t.Undetermined + "): grants nothing"
	case t.Matched:
		return "matches"
	}
	return "does not match"
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
}

// Denial is a deny policy that applies to a token: it matched, or could
// not be evaluated (Undetermined says why), which denies too.
type Denial struct {
	Policy       string
	Grant        Grants
	Undetermined string
}

func (d Denial) refusal(c Claims) *Refusal {
	if d.Undetermined != "" {
		return refuse(CodeInvalidPublisher, ReasonDenied,
			"valid token, but deny policy %q cannot be evaluated for it (%s), and a deny that cannot be evaluated denies (your token: %s)", d.Policy, d.Undetermined, describe(c))
	}
	return refuse(CodeInvalidPublisher, ReasonDenied, "valid token, but deny policy %q matches it (your token: %s)", d.Policy, describe(c))
}

type compiled struct {
	p    Policy
	prog cel.Program
	// broken is set for a deny policy whose condition does not compile
	// (any more): it cannot be evaluated, so it denies.
	broken string
}

type issuerPolicies struct{ deny, allow []*compiled }

// PolicySet is an immutable, issuer-indexed set of compiled policies.
type PolicySet struct {
	byIssuer map[string]*issuerPolicies // by issuer URL
	n        int
}

// NewPolicySet compiles ps. Policies naming an issuer that is not
// configured (any more) are skipped and reported in skipped, as are allow
// policies whose condition does not compile; a deny policy whose condition
// does not compile is kept and denies.
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
		if p.unreadable {
			c.broken = "the stored policy does not decode"
		}
		if p.Condition != "" {
			var cerr error
			if c.prog, cerr = env.Compile(p.Condition); cerr != nil {
				if p.Effect != EffectDeny {
					skipped = append(skipped, p.Name)
					continue
				}
				c.broken = "its condition does not compile"
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

// outcome of one policy for one token.
type outcome int

const (
	noMatch outcome = iota
	match
	undetermined
)

// evaluator evaluates policies against one token, building the CEL
// variables once and only if a condition runs.
type evaluator struct {
	c    Claims
	vars map[string]any
}

// eval decides one policy. A matcher or condition that cannot be evaluated
// makes the policy undetermined unless another matcher definitely fails.
func (ev *evaluator) eval(cp *compiled, tr *Trace) (outcome, string) {
	why := cp.broken
	for i := range cp.p.Match {
		m := &cp.p.Match[i]
		res, got, present := m.test(ev.c.Kind, ev.c.Raw)
		if tr != nil {
			op, want := m.Op()
			tr.Checks = append(tr.Checks, Check{Claim: m.Name(), Op: op, Want: want, Got: truncate(got), Present: present, OK: res == match})
		}
		switch res {
		case noMatch:
			return noMatch, ""
		case undetermined:
			if why == "" {
				why = fmt.Sprintf("claim %q is missing or not a string, number or boolean", m.Name())
			}
		}
	}
	if cp.prog != nil {
		if ev.vars == nil {
			cl := celClaims(ev.c.Raw)
			ev.vars = map[string]any{"claims": cl, "assertion": cl}
		}
		ok, err := evalCondition(cp.prog, ev.vars)
		if tr != nil {
			tr.CondResult = fmt.Sprint(ok)
			if err != nil {
				tr.CondResult = "error: " + err.Error()
			}
		}
		switch {
		case err != nil:
			if why == "" {
				why = "the condition failed: " + truncate(err.Error())
			}
		case !ok:
			return noMatch, ""
		}
	}
	if why != "" {
		return undetermined, why
	}
	return match, ""
}

// Denials returns the deny policies of the token's issuer that apply to
// it: those that match and those that cannot be evaluated.
func (s *PolicySet) Denials(c Claims) []Denial {
	if s == nil || s.byIssuer[c.Issuer] == nil {
		return nil
	}
	ev := evaluator{c: c}
	var out []Denial
	for _, cp := range s.byIssuer[c.Issuer].deny {
		if res, why := ev.eval(cp, nil); res != noMatch {
			out = append(out, Denial{Policy: cp.p.Name, Grant: cp.p.Grant, Undetermined: why})
		}
	}
	return out
}

// Evaluate runs the issuer's deny policies, then its allow policies, and
// returns the union of the allow grants minus what applying deny policies
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
	ev := evaluator{c: c}
	trace := func(cp *compiled) *Trace {
		if !explain {
			return nil
		}
		d.Traces = append(d.Traces, Trace{Policy: cp.p.Name, Effect: cp.p.Effect, Condition: cp.p.Condition})
		return &d.Traces[len(d.Traces)-1]
	}
	var denies []Grants
	for _, cp := range ip.deny {
		tr := trace(cp)
		res, why := ev.eval(cp, tr)
		if res == noMatch {
			continue
		}
		if tr != nil {
			tr.Matched, tr.Undetermined = true, why
		}
		denies = append(denies, cp.p.Grant)
		d.Denied = append(d.Denied, cp.p.Name)
	}
	for _, cp := range ip.allow {
		tr := trace(cp)
		res, why := ev.eval(cp, tr)
		if tr != nil {
			tr.Undetermined = why
		}
		if res != match {
			continue
		}
		g := cp.p.Grant
		actions, removed := guardEvents(c, cp.p, g.Actions)
		if tr != nil {
			tr.Matched = true
			if len(removed) > 0 {
				tr.Guard = guardText(c, removed)
			}
		}
		if len(actions) == 0 {
			continue
		}
		d.Allowed = append(d.Allowed, cp.p.Name)
		for _, r := range g.Repositories {
			d.Entries = append(d.Entries, Entry{Repo: r, Projects: g.Projects, Actions: actions, TTL: time.Duration(g.TTL), Policy: cp.p.Name})
		}
	}
	for _, g := range denies {
		d.Entries = Subtract(d.Entries, g)
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
