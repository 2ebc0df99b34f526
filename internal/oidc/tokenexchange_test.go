package oidc_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wharf-dev/wharf/internal/devissuer"
	"github.com/wharf-dev/wharf/internal/oidc"
	"github.com/wharf-dev/wharf/internal/oidc/oidctest"
	"github.com/wharf-dev/wharf/internal/registry"
)

type exchangeEndpoint struct {
	x     *oidc.Exchanger
	scope []oidc.ScopeItem
}

func (e exchangeEndpoint) Exchange(ctx context.Context, raw string) (bool, string, string) {
	_, err := e.x.Exchange(ctx, oidc.ExchangeRequest{SubjectToken: raw, Scope: e.scope})
	if err == nil {
		return true, "", ""
	}
	if r := oidc.AsRefusal(err); r != nil {
		return false, r.Code, r.Description
	}
	return false, "error", err.Error()
}

func policyExchanger(t testing.TB, w *oidctest.World, ps ...oidc.Policy) (*oidc.Exchanger, *memMinter) {
	t.Helper()
	x, m, _ := newExchanger(t, w)
	env, err := oidc.NewCEL()
	if err != nil {
		t.Fatal(err)
	}
	for i := range ps {
		ps[i].Normalize(w.Audience)
		if _, err := ps[i].Validate(x.Issuers(), w.Audience, env); err != nil {
			t.Fatal(err)
		}
	}
	set, _, err := oidc.NewPolicySet(ps, x.Issuers(), env)
	if err != nil {
		t.Fatal(err)
	}
	x.EnablePolicies(oidc.StaticPolicies{Set: set})
	return x, m
}

// The RFC 8693 exchange runs the same attack suite as mint-token: with no
// policies, publishers alone decide, through the same path.
func TestExchangeAttackSuite(t *testing.T) {
	t.Parallel()
	oidctest.Run(t, func(t *testing.T, w *oidctest.World) oidctest.Endpoint {
		x, _ := policyExchanger(t, w)
		return exchangeEndpoint{x: x}
	})
}

func s(v string) *string { return &v }

func TestExchangePolicies(t *testing.T) {
	t.Parallel()
	k := oidctest.NewKeys(5)
	readPrivate := oidc.Policy{Name: "ci-read", Issuer: "github",
		Match: []oidc.Matcher{{Claim: "repository_owner_id", Equals: s("1001")}, {Claim: "ref", Like: s("refs/tags/v*")}},
		Grant: oidc.Grants{Repositories: []string{"private"}, Actions: []registry.Action{registry.Read}, TTL: oidc.Duration(2 * time.Hour)}}
	for _, tc := range []struct {
		name     string
		mut      func(m map[string]any)
		scope    string
		policies []oidc.Policy
		wantOK   bool
		contains []string
		scopeOut string
	}{
		{name: "policy grants read with its lifetime", scope: "repo:private:read", policies: []oidc.Policy{readPrivate}, wantOK: true, scopeOut: "repo:private:read"},
		{name: "publisher and policy cannot share one token", policies: []oidc.Policy{readPrivate}, contains: []string{"one token cannot carry"}},
		{name: "publisher alone by scope", scope: "repo:main/widgets:upload", policies: []oidc.Policy{readPrivate}, wantOK: true},
		{name: "more than granted", scope: "repo:private:upload", policies: []oidc.Policy{readPrivate}, contains: []string{"repo:private:upload was requested"}},
		{name: "excluded branch names the claim", scope: "repo:private:read", policies: []oidc.Policy{readPrivate},
			mut: func(m map[string]any) {
				m["ref"] = "refs/heads/feature"
				m["workflow_ref"] = "acme/widgets/.github/workflows/release.yml@refs/heads/feature"
			},
			contains: []string{`claim "ref" is "refs/heads/feature" in your token`, "tag"}},
		{name: "deny wins over allow", scope: "repo:private:read", policies: []oidc.Policy{readPrivate,
			{Name: "no-prs", Issuer: "github", Effect: oidc.EffectDeny, Match: []oidc.Matcher{{Claim: "event_name", In: []string{"push"}}}}},
			contains: []string{`deny policy "no-prs"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := oidctest.NewWorld(t, k)
			x, m := policyExchanger(t, w, tc.policies...)
			tok := w.Token(t, w.GitHub, w.Claims(w.GitHub, tc.mut), devissuer.SignOptions{})
			req, err := oidc.ParseScope(tc.scope)
			if err != nil {
				t.Fatal(err)
			}
			res, err := x.Exchange(context.Background(), oidc.ExchangeRequest{SubjectToken: tok, Scope: req})
			if (err == nil) != tc.wantOK {
				t.Fatalf("Exchange: %v; want ok=%v", err, tc.wantOK)
			}
			for _, c := range tc.contains {
				if !strings.Contains(err.Error(), c) {
					t.Errorf("refusal %q does not contain %q", err, c)
				}
			}
			if tc.scopeOut != "" {
				if got := oidc.FormatScope(res.Entries); got != tc.scopeOut {
					t.Errorf("scope %q; want %q", got, tc.scopeOut)
				}
				if ttl := m.last().TTL; ttl != 2*time.Hour {
					t.Errorf("ttl %s; want the policy's 2h", ttl)
				}
			}
		})
	}
}
