package oidc_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wharf-dev/wharf/internal/devissuer"
	"github.com/wharf-dev/wharf/internal/oidc"
	"github.com/wharf-dev/wharf/internal/oidc/oidctest"
	"github.com/wharf-dev/wharf/internal/registry"
)

// paths are the ways into a wharf token the Exchanger offers; every one
// must apply the deny policies (issue 19).
var paths = []struct {
	name string
	run  func(x *oidc.Exchanger, tok string) error
}{
	{"mint-token", func(x *oidc.Exchanger, tok string) error {
		_, err := x.MintToken(context.Background(), tok)
		return err
	}},
	{"token-exchange", func(x *oidc.Exchanger, tok string) error {
		_, err := x.Exchange(context.Background(), oidc.ExchangeRequest{SubjectToken: tok})
		return err
	}},
}

func deny(name string, ms []oidc.Matcher, cond string) oidc.Policy {
	return oidc.Policy{Name: name, Issuer: "github", Effect: oidc.EffectDeny, Match: ms, Condition: cond}
}

func TestDenyPoliciesBindEveryPath(t *testing.T) {
	t.Parallel()
	k := oidctest.NewKeys(5)
	prEvent := func(m map[string]any) { m["event_name"] = "pull_request" }
	noRunner := func(m map[string]any) { delete(m, "runner_environment") }
	sandbox := func(m map[string]any) { m["environment"] = "Sandbox" }
	hosted := func(m map[string]any) { m["runner_environment"] = "github-hosted" }
	for _, tc := range []struct {
		name     string
		policy   oidc.Policy
		mut      func(map[string]any)
		wantOK   bool
		contains string
	}{
		{"deny beats a matching publisher", deny("no-prs", []oidc.Matcher{{Claim: "event_name", In: []string{"pull_request"}}}, ""), prEvent, false, `deny policy "no-prs" matches`},
		{"a deny that does not match leaves the publisher", deny("no-prs", []oidc.Matcher{{Claim: "event_name", In: []string{"pull_request"}}}, ""), nil, true, ""},
		{"a deny whose condition errors denies", deny("hosted-only", nil, `claims.runner_environment != "github-hosted"`), noRunner, false, "cannot be evaluated"},
		{"a deny whose not_equals meets a missing claim denies", deny("hosted-only", []oidc.Matcher{{Claim: "runner_environment", NotEquals: s("github-hosted")}}, ""), noRunner, false, "cannot be evaluated"},
		{"a deny condition that is false does not deny", deny("hosted-only", nil, `claims.runner_environment != "github-hosted"`), hosted, true, ""},
		{"a CEL deny compares names with lowerAscii", deny("no-sandbox", nil, `has(claims.environment) && claims.environment.lowerAscii() == "sandbox"`), sandbox, false, `deny policy "no-sandbox" matches`},
		{"a deny on an environment catches it in any case", deny("no-sandbox", []oidc.Matcher{{Claim: "environment", Equals: s("sandbox")}}, ""), sandbox, false, `deny policy "no-sandbox"`},
	} {
		for _, p := range paths {
			t.Run(tc.name+"/"+p.name, func(t *testing.T) {
				t.Parallel()
				w := oidctest.NewWorld(t, k)
				// The publisher accepts any environment, so only the deny
				// decides.
				w.Publishers[0].GitHub.Environment = ""
				x, _ := policyExchanger(t, w, tc.policy)
				tok := w.Token(t, w.GitHub, w.Claims(w.GitHub, tc.mut), devissuer.SignOptions{})
				err := p.run(x, tok)
				if tc.wantOK {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					return
				}
				r := oidc.AsRefusal(err)
				if r == nil || r.Reason != oidc.ReasonDenied || !strings.Contains(r.Description, tc.contains) {
					t.Fatalf("got %v; want a denial containing %q", err, tc.contains)
				}
			})
		}
	}
}

func TestPolicyTraceSaysWhatCannotBeEvaluated(t *testing.T) {
	t.Parallel()
	w := oidctest.NewWorld(t, nil)
	x, _ := policyExchanger(t, w,
		deny("hosted-only", nil, `claims.runner_environment != "github-hosted"`),
		oidc.Policy{Name: "team", Issuer: "github", Match: []oidc.Matcher{{Claim: "repository_owner_id", Equals: s("1001")}, {Claim: "team", NotEquals: s("interns")}},
			Grant: oidc.Grants{Repositories: []string{"main"}, Actions: []registry.Action{registry.Read}}})
	c := oidc.Claims{Issuer: w.GitHub.URL(), IssuerName: "github", Kind: oidc.KindGitHub, Raw: w.Claims(w.GitHub, func(m map[string]any) { delete(m, "runner_environment") })}
	set, _ := x.Policies(context.Background())
	d := set.Evaluate(c, true)
	got := map[string]string{}
	for _, tr := range d.Traces {
		got[tr.Policy] = tr.Outcome()
	}
	if o := got["hosted-only"]; !strings.Contains(o, "denies") {
		t.Errorf("deny trace %q does not say it denies", o)
	}
	if o := got["team"]; !strings.Contains(o, "grants nothing") {
		t.Errorf("allow trace %q does not say it grants nothing", o)
	}
}

// Issue 11 item 3: the publishers' event guard binds policy grants too.
func TestPolicyEventGuard(t *testing.T) {
	t.Parallel()
	k := oidctest.NewKeys(5)
	write := oidc.Policy{Name: "ci", Issuer: "github", Match: []oidc.Matcher{{Claim: "repository_owner_id", Equals: s("1001")}},
		Grant: oidc.Grants{Repositories: []string{"deps"}, Actions: []registry.Action{registry.Read, registry.Upload, registry.Yank}}}
	optIn := write
	optIn.Name, optIn.PrivilegedEvents = "ci-run", []string{"workflow_run"}
	for _, tc := range []struct {
		event  string
		policy oidc.Policy
		scope  string
	}{
		{"push", write, "repo:deps:read repo:deps:upload repo:deps:yank"},
		{"workflow_run", write, "repo:deps:read"},
		{"pull_request_target", write, "repo:deps:read"},
		{"issue_comment", write, "repo:deps:read"},
		{"", write, "repo:deps:read"},
		{"workflow_run", optIn, "repo:deps:read repo:deps:upload repo:deps:yank"},
		{"pull_request_target", optIn, "repo:deps:read"},
	} {
		t.Run(tc.policy.Name+"/"+tc.event, func(t *testing.T) {
			t.Parallel()
			w := oidctest.NewWorld(t, k)
			w.Publishers = nil
			x, _ := policyExchanger(t, w, tc.policy)
			tok := w.Token(t, w.GitHub, w.Claims(w.GitHub, func(m map[string]any) {
				if tc.event == "" {
					delete(m, "event_name")
				} else {
					m["event_name"] = tc.event
				}
			}), devissuer.SignOptions{})
			res, err := x.Exchange(context.Background(), oidc.ExchangeRequest{SubjectToken: tok})
			if err != nil {
				t.Fatal(err)
			}
			if got := oidc.FormatScope(res.Entries); got != tc.scope {
				t.Errorf("scope %q; want %q", got, tc.scope)
			}
		})
	}
	w := oidctest.NewWorld(t, k)
	p := write
	p.Normalize(w.Audience)
	lint, err := p.Validate([]oidc.IssuerInfo{{Name: "github", URL: w.GitHub.URL(), Kind: oidc.KindGitHub}}, w.Audience, nil)
	if err != nil || !strings.Contains(strings.Join(lint.Warnings, "\n"), "event guard") {
		t.Errorf("creating a write policy does not mention the event guard: %v %v", lint.Warnings, err)
	}
	p.PrivilegedEvents = []string{"pull_request_target"}
	if _, err := p.Validate([]oidc.IssuerInfo{{Name: "github", URL: w.GitHub.URL(), Kind: oidc.KindGitHub}}, w.Audience, nil); err == nil {
		t.Error("privileged_events: [pull_request_target] accepted")
	}
}

func TestDenyLintWarnsAboutOptionalClaims(t *testing.T) {
	t.Parallel()
	iss := []oidc.IssuerInfo{{Name: "github", URL: "https://token.actions.githubusercontent.com", Kind: oidc.KindGitHub}}
	for _, tc := range []struct {
		p    oidc.Policy
		warn bool
	}{
		{deny("d", nil, `claims.runner_environment != "github-hosted"`), true},
		{deny("d", nil, `claims["environment"] == "sandbox"`), true},
		{deny("d", nil, `has(claims.runner_environment) && claims.runner_environment != "github-hosted"`), false},
		{deny("d", nil, `claims.event_name == "pull_request"`), false},
		{deny("d", []oidc.Matcher{{Claim: "runner_environment", NotEquals: s("github-hosted")}}, ""), true},
		{deny("d", []oidc.Matcher{{Claim: "environment", Equals: s("sandbox")}}, ""), false},
	} {
		tc.p.Normalize("aud")
		lint, err := tc.p.Validate(iss, "aud", nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(lint.Warnings) > 0; got != tc.warn {
			t.Errorf("%s %v: warnings %q; want some: %v", tc.p.Condition, tc.p.Match, lint.Warnings, tc.warn)
		}
	}
}

// Issue 11 item 11: a flood of refused exchanges writes a bounded number
// of audit rows and a summary; accepted exchanges are all written.
func TestRefusedExchangesAuditIsBounded(t *testing.T) {
	t.Parallel()
	w := oidctest.NewWorld(t, nil)
	now := w.Now()
	w.Now = func() time.Time { return now }
	w.Config.Now = w.Now
	reg := prometheus.NewRegistry()
	w.Config.Metrics = reg
	x, _, a := newExchanger(t, w)
	ctx := context.Background()
	const flood = 500
	for i := range flood {
		_, _ = x.MintToken(ctx, fmt.Sprintf("garbage-%d", i))
	}
	tok := w.Token(t, w.GitHub, w.Claims(w.GitHub, nil), devissuer.SignOptions{})
	if _, err := x.MintToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if n := len(a.es); n != oidc.AuditRefusalsPerMinute+1 {
		t.Errorf("%d audit records for %d refusals and one success; want %d", n, flood, oidc.AuditRefusalsPerMinute+1)
	}
	if got := counter(t, reg, "wharf_oidc_audit_suppressed_total", "unknown"); got != flood-oidc.AuditRefusalsPerMinute {
		t.Errorf("suppressed counter %v; want %d", got, flood-oidc.AuditRefusalsPerMinute)
	}
	now = now.Add(time.Minute)
	_, _ = x.MintToken(ctx, "garbage-late")
	var summary *oidc.Exchange
	for i := range a.es {
		if a.es[i].Action == "oidc.mint.suppressed" {
			summary = &a.es[i]
		}
	}
	if summary == nil || summary.Suppressed != flood-oidc.AuditRefusalsPerMinute {
		t.Fatalf("no summary of the suppressed refusals: %+v", summary)
	}
	if last := a.es[len(a.es)-1]; last.Outcome != "refused" || last.Action != "" {
		t.Errorf("the first refusal of the next minute was not written on its own: %+v", last)
	}
}
