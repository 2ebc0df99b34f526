package oidc

import (
	"context"
	"fmt"
	"slices"
	"strings"

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

// ExchangeRequest is a parsed RFC 8693 request.
type ExchangeRequest struct {
	SubjectToken string
	Scope        []ScopeItem // empty: everything the policies grant
}

// Exchange is the RFC 8693 token exchange: the same verifier, replay store,
// audit log, publisher matching and deny policies as MintToken, plus the
// allow policies. The token gets the union of what matching allow policies
// and publishers grant, minus what matching deny policies remove (run),
// narrowed to the requested scope. Refusals are *Refusal as for MintToken.
func (x *Exchanger) Exchange(ctx context.Context, req ExchangeRequest) (MintResult, error) {
	return x.run(ctx, "oidc.Exchange", req.SubjectToken, func(ctx context.Context, c Claims, set *PolicySet) (candidate, *Refusal, error) {
		return x.authorizeExchange(ctx, c, set, req.Scope)
	})
}

func (x *Exchanger) authorizeExchange(ctx context.Context, c Claims, set *PolicySet, req []ScopeItem) (candidate, *Refusal, error) {
	if set == nil {
		return candidate{}, refuse(CodeNotEnabled, ReasonNoPolicy, "token exchange is not enabled on this server"), nil
	}
	d := set.Evaluate(c, false)
	pubGrants, pubRefusal, err := x.match(ctx, c)
	if err != nil {
		return candidate{}, nil, err
	}
	entries := append(d.Entries, publisherEntries(pubGrants, x.d.TokenTTL)...)
	if len(entries) == 0 {
		return candidate{}, x.noGrant(set, c, pubRefusal), nil
	}
	return candidate{entries: entries, scoped: true, finish: func(entries []Entry) (ScopeMint, []Grant, []Entry, *Refusal) {
		narrowed, missing := Narrow(entries, req)
		if missing != nil {
			why := ""
			if r := x.noGrant(set, c, nil); r.Reason == ReasonNoPolicy && strings.Contains(r.Description, "claim ") {
				why = "; the closest trust policy failed: " + strings.TrimPrefix(r.Description, "valid token, but no trust policy matches: ")
			}
			return ScopeMint{}, nil, nil, refuse(CodeInvalidScope, ReasonScope,
				"valid token, but %s was requested and nothing matching your token grants it (granted: %s)%s", missing, cmpOr(FormatScope(entries), "nothing"), why)
		}
		entries = narrowed
		scope, ttl, ok := ToScope(entries)
		if !ok {
			return ScopeMint{}, nil, nil, refuse(CodeInvalidScope, ReasonScope,
				"valid token, but one token cannot carry all of %s (a token's scope is repositories × projects × actions); request part of it with scope, e.g. scope=%q",
				FormatScope(entries), FormatScope(entries[:1]))
		}
		var create []Grant
		for _, g := range creates(pubGrants) {
			if slices.Contains(scope.Repos, g.Repo) && slices.Contains(scope.Actions, registry.Upload) &&
				(len(scope.Projects) == 0 || slices.Contains(scope.Projects, g.Project)) {
				create = append(create, g)
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
		return ScopeMint{Scope: scope, Create: create, TTL: ttl, Purpose: "token exchange"}, grants, entries, nil
	}}, nil, nil
}

// noGrant explains a refusal to the caller, about the caller's own token:
// the claim in which the closest policy differed and the caller's value,
// never the policy's expected value.
func (x *Exchanger) noGrant(set *PolicySet, c Claims, pub *Refusal) *Refusal {
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

// EnablePolicies sets the trust policies (tests: StaticPolicies). Call it
// before serving.
func (x *Exchanger) EnablePolicies(p PolicySource) { x.d.Policies = p }

// Policies returns the current trust policies; nil without any source.
func (x *Exchanger) Policies(ctx context.Context) (*PolicySet, error) {
	if x.d.Policies == nil {
		return nil, nil
	}
	return x.d.Policies.Policies(ctx)
}

// Changed tells the policy cache that the stored policies changed.
func (x *Exchanger) Changed() {
	if c, ok := x.d.Policies.(interface{ Changed() }); ok {
		c.Changed()
	}
}

// CEL is the environment policy conditions compile in.
func (x *Exchanger) CEL() *CEL { return x.cel }

// Verify checks an ID token without exchanging it (policy tests).
func (x *Exchanger) Verify(ctx context.Context, rawJWT string) (Claims, error) {
	return x.v.Verify(ctx, rawJWT)
}

// Issuers lists the configured issuers, for policy and publisher
// validation.
func (x *Exchanger) Issuers() []IssuerInfo { return IssuerInfos(x.v.cfg.Issuers) }
