package oidc

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wharf-dev/wharf/internal/registry"
)

// RFC 8693 / RFC 6749 names.
const (
	GrantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	TokenTypeIDToken       = "urn:ietf:params:oauth:token-type:id_token"
	TokenTypeAccessToken   = "urn:ietf:params:oauth:token-type:access_token"
)

// Refusal codes and reasons of the RFC 8693 exchange (besides PyPI's).
const (
	CodeInvalidScope = "invalid-scope"
	CodeNotEnabled   = "not-enabled"
	ReasonScope      = "scope"
	ReasonNoPolicy   = "no_policy"
	ReasonDenied     = "denied"
)

// PolicySource returns the current trust policies, compiled.
type PolicySource interface {
	Policies(ctx context.Context) (*PolicySet, error)
}

// StaticPolicies is a PolicySource over a fixed set (tests, benchmarks).
type StaticPolicies struct{ Set *PolicySet }

// Policies implements PolicySource.
func (s StaticPolicies) Policies(context.Context) (*PolicySet, error) { return s.Set, nil }

// ScopeMint is a token to mint for an RFC 8693 exchange. Create lists
// pending-publisher grants whose projects must be created first.
type ScopeMint struct {
	Scope  registry.Scope
	Create []Grant
	TTL    time.Duration
	Origin string
	Claims map[string]any
}

// ScopeMinter mints a token of any scope (the server implements it).
type ScopeMinter interface {
	MintScope(ctx context.Context, m ScopeMint) (token, tokenID string, expires time.Time, err error)
}

// ExchangeRequest is a parsed RFC 8693 request.
type ExchangeRequest struct {
	SubjectToken string
	Scope        []ScopeItem // empty: everything the policies grant
}

// Exchange is the RFC 8693 token exchange: the same verifier, replay store,
// audit log and publisher matching as MintToken, plus trust policies. The
// token gets the union of what matching allow policies and publishers
// grant, minus what matching deny policies remove, narrowed to the
// requested scope. Refusals are *Refusal as for MintToken.
func (x *Exchanger) Exchange(ctx context.Context, req ExchangeRequest) (MintResult, error) {
	return x.run(ctx, "oidc.Exchange", req.SubjectToken, func(ctx context.Context, c Claims) (authorized, *Refusal, error) {
		return x.authorizeExchange(ctx, c, req.Scope)
	})
}

func (x *Exchanger) authorizeExchange(ctx context.Context, c Claims, req []ScopeItem) (authorized, *Refusal, error) {
	if x.d.Policies == nil || x.d.Scoped == nil {
		return authorized{}, refuse(CodeNotEnabled, ReasonNoPolicy, "token exchange is not enabled on this server"), nil
	}
	set, err := x.d.Policies.Policies(ctx)
	if err != nil {
		return authorized{}, nil, fmt.Errorf("policies: %w", err)
	}
	d := set.Evaluate(c, false)
	pubGrants, pubRefusal, err := x.match(ctx, c)
	if err != nil {
		return authorized{}, nil, err
	}
	entries := d.Entries
	for _, g := range pubGrants {
		e := Entry{Repo: g.Repo, Projects: []string{g.Project}, Actions: []registry.Action{registry.Upload}, TTL: x.d.TokenTTL, Policy: fmt.Sprintf("publisher:%d", g.PublisherID)}
		for _, dg := range d.denies {
			// Deny policies bind publishers too.
			if rest := Subtract([]Entry{e}, dg); len(rest) == 0 {
				e.Actions = nil
			}
		}
		if len(e.Actions) > 0 {
			entries = append(entries, e)
		}
	}
	if len(entries) == 0 {
		return authorized{}, x.noGrant(set, c, d, pubRefusal), nil
	}
	narrowed, missing := Narrow(entries, req)
	if missing != nil {
		why := ""
		if r := x.noGrant(set, c, Decision{}, nil); r.Reason == ReasonNoPolicy && strings.Contains(r.Description, "claim ") {
			why = "; the closest trust policy failed: " + strings.TrimPrefix(r.Description, "valid token, but no trust policy matches: ")
		}
		return authorized{}, refuse(CodeInvalidScope, ReasonScope,
			"valid token, but %s was requested and nothing matching your token grants it (granted: %s)%s", missing, cmpOr(FormatScope(entries), "nothing"), why), nil
	}
	entries = narrowed
	scope, ttl, ok := ToScope(entries)
	if !ok {
		return authorized{}, refuse(CodeInvalidScope, ReasonScope,
			"valid token, but one token cannot carry all of %s (a token's scope is repositories × projects × actions); request part of it with scope, e.g. scope=%q",
			FormatScope(entries), FormatScope(entries[:1])), nil
	}
	var creates []Grant
	for _, g := range pubGrants {
		if g.Create && slices.Contains(scope.Repos, g.Repo) && slices.Contains(scope.Actions, registry.Upload) &&
			(len(scope.Projects) == 0 || slices.Contains(scope.Projects, g.Project)) {
			creates = append(creates, g)
		}
	}
	var grants []Grant
	for _, e := range entries {
		for _, p := range e.Projects {
			if !slices.ContainsFunc(grants, func(g Grant) bool { return g.Repo == e.Repo && g.Project == p }) {
				grants = append(grants, Grant{Repo: e.Repo, Project: p})
			}
		}
	}
	return authorized{grants: grants, entries: entries, scope: scope, mint: func(ctx context.Context, meta map[string]any) (string, string, time.Time, error) {
		return x.d.Scoped.MintScope(ctx, ScopeMint{Scope: scope, Create: creates, TTL: ttl, Origin: "oidc:" + c.IssuerName, Claims: meta})
	}}, nil, nil
}

// noGrant explains a refusal to the caller, about the caller's own token:
// the claim in which the closest policy differed and the caller's value,
// never the policy's expected value.
func (x *Exchanger) noGrant(set *PolicySet, c Claims, d Decision, pub *Refusal) *Refusal {
	if len(d.Denied) > 0 {
		return refuse(CodeInvalidPublisher, ReasonDenied, "valid token, but deny policy %q matches it (your token: %s)", d.Denied[0], describe(c))
	}
	ex := set.Evaluate(c, true)
	var best *Trace
	bestN := 0
	for i := range ex.Traces {
		t := &ex.Traces[i]
		if t.Effect != EffectAllow {
			continue
		}
		n := 0
		for _, ch := range t.Checks {
			if ch.OK {
				n++
			}
		}
		if n > bestN {
			best, bestN = t, n
		}
	}
	if best != nil && (pub == nil || pub.Reason != ReasonNoPublisher || !strings.Contains(pub.Description, "claim ")) {
		if f := best.Failed(); f != nil {
			got := fmt.Sprintf("%q in your token", f.Got)
			if !f.Present {
				got = "missing from your token"
			}
			return refuse(CodeInvalidPublisher, ReasonNoPolicy, "valid token, but no trust policy matches: claim %q is %s%s", f.Claim, got, Hint(f.Claim, f.Got))
		}
		return refuse(CodeInvalidPublisher, ReasonNoPolicy, "valid token, but no trust policy matches: the condition of the closest policy is false for your token (your token: %s)", describe(c))
	}
	if pub != nil {
		return pub
	}
	return refuse(CodeInvalidPublisher, ReasonNoPolicy, "valid token, but no trust policy or publisher matches %s", describe(c))
}

// Hint turns seed 001's troubleshooting list into advice for a claim that
// did not match.
func Hint(claim, got string) string {
	switch claim {
	case "sub":
		return "; GitHub subjects change with the trigger (environment, pull_request, branch or tag) and can be customised per repository: match individual claims such as repository_id, ref and environment instead of sub"
	case "ref", "ref_path", "ref_type":
		return fmt.Sprintf("; the job ran on %q: run it from a branch or tag the policy allows (for tag-only releases, push a tag)", got)
	case "environment":
		return "; set environment: on the job to the environment the policy names"
	case "event_name":
		return "; the policy does not trust workflows started by this event"
	case "workflow_ref", "job_workflow_ref":
		return "; the policy trusts another workflow file or ref"
	case "repository_owner_id", "repository_id", "namespace_id", "project_id", "repository", "repository_owner", "project_path":
		return "; the policy trusts another owner or repository"
	}
	return ""
}

// EnablePolicies turns on the RFC 8693 exchange. Call it before serving.
func (x *Exchanger) EnablePolicies(p PolicySource, m ScopeMinter) {
	x.d.Policies, x.d.Scoped = p, m
}

// Issuers lists the configured issuers, for policy validation.
func (x *Exchanger) Issuers() []IssuerInfo {
	out := make([]IssuerInfo, len(x.v.cfg.Issuers))
	for i, ic := range x.v.cfg.Issuers {
		out[i] = IssuerInfo{Name: ic.Name, URL: ic.URL, Kind: ic.Kind}
	}
	return out
}
