package oidc

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/registry"
)

func sp(s string) *string { return &s }

func eq(claim, v string) Matcher   { return Matcher{Claim: claim, Equals: sp(v)} }
func like(claim, v string) Matcher { return Matcher{Claim: claim, Like: sp(v)} }

var testIssuers = []IssuerInfo{
	{Name: "github", URL: "https://token.actions.githubusercontent.com", Kind: KindGitHub},
	{Name: "gitlab", URL: "https://gitlab.com", Kind: KindGitLab},
	{Name: "corp", URL: "https://idp.corp.example", Kind: KindGeneric},
}

const testAud = "wharf:test"

func claims(iss string, kv ...any) Claims {
	raw := map[string]any{"iss": iss}
	for i := 0; i < len(kv); i += 2 {
		raw[kv[i].(string)] = kv[i+1]
	}
	return Claims{Issuer: iss, Raw: raw}
}

func mustSet(t testing.TB, ps ...Policy) *PolicySet {
	t.Helper()
	env, err := NewCEL()
	if err != nil {
		t.Fatal(err)
	}
	for i := range ps {
		ps[i].Normalize(testAud)
		if _, err := ps[i].Validate(testIssuers, testAud, env); err != nil {
			t.Fatalf("policy %q: %v", ps[i].Name, err)
		}
	}
	set, skipped, err := NewPolicySet(ps, testIssuers, env)
	if err != nil || len(skipped) > 0 {
		t.Fatalf("NewPolicySet: %v, skipped %v", err, skipped)
	}
	return set
}

func TestLike(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pat, s string
		want   bool
	}{
		{"refs/tags/v*", "refs/tags/v1.2.3", true},
		{"refs/tags/v*", "refs/tags/v1/evil", false},
		{"refs/tags/*", "refs/tags/", true},
		{"repo:acme/*:ref:refs/heads/main", "repo:acme/widgets:ref:refs/heads/main", true},
		{"repo:acme/*:*", "repo:acme/widgets:environment:prod", false}, // '*' never crosses ':'
		{"repo:acme*", "repo:acme-evil/x", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "ab/bc", false},
		{"*@refs/tags/v*", "acme/x@refs/tags/v1", false},
		{"x@*", "x@main", true},
		{"x@*", "x@a@b", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"*", "", true},
		{"*", "a:b", false},
	} {
		if got := Like(tc.pat, tc.s); got != tc.want {
			t.Errorf("Like(%q, %q) = %v; want %v", tc.pat, tc.s, got, tc.want)
		}
	}
}

// likeRegexp is the reference semantics.
func likeRegexp(pat string) *regexp.Regexp {
	parts := strings.Split(pat, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`^(?s:` + strings.Join(parts, `[^/:@]*`) + `)$`)
}

func FuzzLike(f *testing.F) {
	for _, s := range [][2]string{{"refs/tags/v*", "refs/tags/v1"}, {"a*b*c", "ab/bc"}, {"*:*@*", "x:y@z"}, {"**", "a/b"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pat, s string) {
		if len(pat) > 64 || len(s) > 64 {
			return
		}
		if got, want := Like(pat, s), likeRegexp(pat).MatchString(s); got != want {
			t.Fatalf("Like(%q, %q) = %v; reference says %v", pat, s, got, want)
		}
	})
}

func FuzzParsePolicy(f *testing.F) {
	f.Add(`{"name":"a","issuer":"github","match":[{"claim":"repository_owner_id","equals":"1"}],"grant":{"repositories":["r"],"actions":["read"],"ttl":"1h"}}`)
	f.Add(`{"name":"c","issuer":"corp","condition":"claims.x == 'y'","effect":"deny","grant":{}}`)
	f.Add(`{"match":[{"path":["a","b"],"in":["x"]}]}`)
	env, err := NewCEL()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		p, err := ParsePolicy([]byte(doc))
		if err != nil {
			return
		}
		p.Normalize(testAud)
		if _, err := p.Validate(testIssuers, testAud, env); err != nil {
			return
		}
		// A valid policy round-trips and evaluates without panicking.
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := ParsePolicy(b)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", b, err)
		}
		set, _, err := NewPolicySet([]Policy{q}, testIssuers, env)
		if err != nil {
			t.Fatal(err)
		}
		set.Evaluate(claims("https://idp.corp.example", "x", "y", "sub", "s"), true)
	})
}

const gh = "https://token.actions.githubusercontent.com"

func allow(name string, g Grants, ms ...Matcher) Policy {
	return Policy{Name: name, Issuer: "github", Match: append([]Matcher{eq("repository_owner_id", "65")}, ms...), Grant: g}
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	read := Grants{Repositories: []string{"private"}, Actions: []registry.Action{registry.Read}}
	up := Grants{Repositories: []string{"local"}, Projects: []string{"widgets"}, Actions: []registry.Action{registry.Upload}, TTL: Duration(30 * time.Minute)}
	base := []any{"repository_owner_id", "65", "repository", "acme/widgets", "ref", "refs/tags/v1.0", "environment", "pypi",
		"event_name", "push", "extra", map[string]any{"team": "platform"}, "run_attempt", json.Number("2"), "public", false}
	h := time.Hour
	for _, tc := range []struct {
		name     string
		policies []Policy
		claims   []any // overrides of base
		want     []Entry
	}{
		{"equals", []Policy{allow("p", read)}, nil, []Entry{{Repo: "private", Actions: []registry.Action{"read"}, TTL: h, Policy: "p"}}},
		{"equals mismatch", []Policy{allow("p", read, eq("environment", "prod"))}, nil, nil},
		{"not_equals", []Policy{allow("p", read, Matcher{Claim: "event_name", NotEquals: sp("pull_request_target")})}, nil, []Entry{{Repo: "private", Actions: []registry.Action{"read"}, TTL: h, Policy: "p"}}},
		{"not_equals on a missing claim fails", []Policy{allow("p", read, Matcher{Claim: "nope", NotEquals: sp("x")})}, nil, nil},
		{"like within a segment", []Policy{allow("p", read, like("ref", "refs/tags/v*"))}, nil, []Entry{{Repo: "private", Actions: []registry.Action{"read"}, TTL: h, Policy: "p"}}},
		{"like never crosses '/'", []Policy{allow("p", read, like("ref", "refs/*"))}, nil, nil},
		{"in", []Policy{allow("p", read, Matcher{Claim: "event_name", In: []string{"push", "release"}})}, nil, []Entry{{Repo: "private", Actions: []registry.Action{"read"}, TTL: h, Policy: "p"}}},
		{"in without the value", []Policy{allow("p", read, Matcher{Claim: "event_name", In: []string{"release"}})}, nil, nil},
		{"nested claim by path", []Policy{allow("p", read, Matcher{Path: []string{"extra", "team"}, Equals: sp("platform")})}, nil, []Entry{{Repo: "private", Actions: []registry.Action{"read"}, TTL: h, Policy: "p"}}},
		{"nested claim missing", []Policy{allow("p", read, Matcher{Path: []string{"extra", "org"}, Equals: sp("platform")})}, nil, nil},
		{"structured claim never equals", []Policy{allow("p", read, Matcher{Claim: "extra", NotEquals: sp("x")})}, nil, nil},
		{"number by its JSON text", []Policy{allow("p", read, eq("run_attempt", "2"))}, nil, []Entry{{Repo: "private", Actions: []registry.Action{"read"}, TTL: h, Policy: "p"}}},
		{"bool as text", []Policy{allow("p", read, eq("public", "false"))}, nil, []Entry{{Repo: "private", Actions: []registry.Action{"read"}, TTL: h, Policy: "p"}}},
		{"sub included", []Policy{allow("p", read, like("sub", "repo:acme/widgets:ref:refs/tags/*"))}, []any{"sub", "repo:acme/widgets:ref:refs/tags/v1"}, []Entry{{Repo: "private", Actions: []registry.Action{"read"}, TTL: h, Policy: "p"}}},
		{"CEL condition true", []Policy{{Name: "c", Issuer: "github", Match: []Matcher{eq("repository_owner_id", "65")}, Condition: "claims.ref.startsWith('refs/tags/') && claims.run_attempt < 3", Grant: read}}, nil, []Entry{{Repo: "private", Actions: []registry.Action{"read"}, TTL: h, Policy: "c"}}},
		{"CEL condition on a missing claim is false", []Policy{{Name: "c", Issuer: "github", Match: []Matcher{eq("repository_owner_id", "65")}, Condition: "assertion.nope == 'x'", Grant: read}}, nil, nil},
		{"several allows merge", []Policy{allow("r", read), allow("u", up)}, nil, []Entry{
			{Repo: "private", Actions: []registry.Action{"read"}, TTL: h, Policy: "r"},
			{Repo: "local", Projects: []string{"widgets"}, Actions: []registry.Action{"upload"}, TTL: 30 * time.Minute, Policy: "u"}}},
		{"deny wins", []Policy{allow("r", read), {Name: "d", Issuer: "github", Effect: EffectDeny, Match: []Matcher{eq("event_name", "push")}}}, nil, nil},
		{"deny removes only its actions", []Policy{allow("a", Grants{Repositories: []string{"local"}, Actions: []registry.Action{"read", "upload"}}),
			{Name: "d", Issuer: "github", Effect: EffectDeny, Match: []Matcher{like("ref", "refs/heads/*")}, Grant: Grants{Actions: []registry.Action{"upload"}}}},
			[]any{"ref", "refs/heads/feature"}, []Entry{{Repo: "local", Actions: []registry.Action{"read"}, TTL: h, Policy: "a"}}},
		{"deny of one project splits exact names", []Policy{allow("a", Grants{Repositories: []string{"local"}, Projects: []string{"widgets", "prod-db"}, Actions: []registry.Action{"upload"}}),
			{Name: "d", Issuer: "github", Effect: EffectDeny, Match: []Matcher{eq("environment", "pypi")}, Grant: Grants{Projects: []string{"prod-*"}}}},
			nil, []Entry{{Repo: "local", Projects: []string{"widgets"}, Actions: []registry.Action{"upload"}, TTL: h, Policy: "a"}}},
		{"deny of a pattern over a pattern removes the actions", []Policy{allow("a", Grants{Repositories: []string{"local"}, Projects: []string{"acme-*"}, Actions: []registry.Action{"upload"}}),
			{Name: "d", Issuer: "github", Effect: EffectDeny, Match: []Matcher{eq("environment", "pypi")}, Grant: Grants{Projects: []string{"acme-prod-*"}}}},
			nil, nil},
		{"deny that does not match changes nothing", []Policy{allow("r", read), {Name: "d", Issuer: "github", Effect: EffectDeny, Match: []Matcher{eq("event_name", "pull_request_target")}}}, nil,
			[]Entry{{Repo: "private", Actions: []registry.Action{"read"}, TTL: h, Policy: "r"}}},
		{"other issuer's policies are not considered", []Policy{{Name: "gl", Issuer: "gitlab", Match: []Matcher{eq("namespace_id", "65")}, Grant: read}}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			set := mustSet(t, tc.policies...)
			c := claims(gh, append(append([]any{}, base...), tc.claims...)...)
			got := set.Evaluate(c, false).Entries
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			// Explaining never changes the outcome.
			if diff := cmp.Diff(got, set.Evaluate(c, true).Entries); diff != "" {
				t.Errorf("explain changed the outcome:\n%s", diff)
			}
		})
	}
}

func TestValidateLints(t *testing.T) {
	t.Parallel()
	env, _ := NewCEL()
	g := Grants{Repositories: []string{"local"}, Actions: []registry.Action{registry.Upload}}
	for _, tc := range []struct {
		name    string
		p       Policy
		wantErr string // "" means valid
		warn    string
	}{
		{"github without owner pin is refused", Policy{Name: "a", Issuer: "github", Match: []Matcher{like("sub", "repo:*")}, Grant: g}, "pins no owner", ""},
		{"github pinned by glob is refused", Policy{Name: "a", Issuer: "github", Match: []Matcher{like("repository", "acme/*")}, Grant: g}, "pins no owner", ""},
		{"forced broad policy is accepted with a warning", Policy{Name: "a", Issuer: "github", Force: true, Match: []Matcher{like("sub", "repo:*")}, Grant: g}, "", "forced"},
		{"gitlab without namespace pin", Policy{Name: "a", Issuer: "gitlab", Match: []Matcher{eq("ref", "main")}, Grant: g}, "namespace_id", ""},
		{"gitlab pinned", Policy{Name: "a", Issuer: "gitlab", Match: []Matcher{eq("namespace_id", "12")}, Grant: g}, "", ""},
		{"owner by name only warns", Policy{Name: "a", Issuer: "github", Match: []Matcher{eq("repository_owner", "acme")}, Grant: g}, "", "numeric ID"},
		{"only sub warns", Policy{Name: "a", Issuer: "corp", Match: []Matcher{eq("sub", "x")}, Grant: g}, "", "only sub"},
		{"generic issuer needs no pin", Policy{Name: "a", Issuer: "corp", Match: []Matcher{eq("team", "x")}, Grant: g}, "", ""},
		{"unconfigured issuer", Policy{Name: "a", Issuer: "https://evil.example", Match: []Matcher{eq("team", "x")}, Grant: g}, "not a configured issuer", ""},
		{"foreign audience", Policy{Name: "a", Issuer: "corp", Audience: "sts.amazonaws.com", Match: []Matcher{eq("team", "x")}, Grant: g}, "audience", ""},
		{"ttl below 15m", Policy{Name: "a", Issuer: "corp", Match: []Matcher{eq("team", "x")}, Grant: Grants{Repositories: []string{"l"}, Actions: []registry.Action{"read"}, TTL: Duration(time.Minute)}}, "grant.ttl", ""},
		{"ttl above 12h", Policy{Name: "a", Issuer: "corp", Match: []Matcher{eq("team", "x")}, Grant: Grants{Repositories: []string{"l"}, Actions: []registry.Action{"read"}, TTL: Duration(13 * time.Hour)}}, "grant.ttl", ""},
		{"admin is never granted", Policy{Name: "a", Issuer: "corp", Match: []Matcher{eq("team", "x")}, Grant: Grants{Repositories: []string{"l"}, Actions: []registry.Action{"admin"}}}, "never admin", ""},
		{"bad CEL", Policy{Name: "a", Issuer: "corp", Condition: "claims.x ==", Grant: g}, "CEL", ""},
		{"CEL must be bool", Policy{Name: "a", Issuer: "corp", Condition: "'x'", Grant: g}, "bool", ""},
		{"two operators", Policy{Name: "a", Issuer: "corp", Match: []Matcher{{Claim: "x", Equals: sp("a"), Like: sp("b")}}, Grant: g}, "exactly one", ""},
		{"verifier claims", Policy{Name: "a", Issuer: "corp", Match: []Matcher{eq("aud", "x")}, Grant: g}, "verifier", ""},
		{"double star", Policy{Name: "a", Issuer: "corp", Match: []Matcher{like("ref", "refs/**")}, Grant: g}, "'**'", ""},
		{"no conditions", Policy{Name: "a", Issuer: "corp", Grant: g}, "at least one", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := tc.p
			p.Normalize(testAud)
			res, err := p.Validate(testIssuers, testAud, env)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Validate error %v; want one containing %q", err, tc.wantErr)
			}
			if tc.warn != "" && !strings.Contains(strings.Join(res.Warnings, "\n"), tc.warn) {
				t.Errorf("warnings %q; want one containing %q", res.Warnings, tc.warn)
			}
		})
	}
}

func TestNarrowAndScope(t *testing.T) {
	t.Parallel()
	r, u := registry.Read, registry.Upload
	h := time.Hour
	entries := []Entry{
		{Repo: "private", Actions: []registry.Action{r}, TTL: h},
		{Repo: "local", Projects: []string{"acme-*"}, Actions: []registry.Action{r, u}, TTL: 30 * time.Minute},
	}
	for _, tc := range []struct {
		name      string
		scope     string
		wantScope registry.Scope
		wantTTL   time.Duration
		missing   string
		notOne    bool
	}{
		{name: "read one repository", scope: "repo:private:read", wantScope: registry.Scope{Repos: []string{"private"}, Actions: []registry.Action{r}}, wantTTL: h},
		{name: "upload one project", scope: "repo:local/acme-widgets:upload", wantScope: registry.Scope{Repos: []string{"local"}, Projects: []string{"acme-widgets"}, Actions: []registry.Action{u}}, wantTTL: 30 * time.Minute},
		{name: "whole repository narrows to the granted projects", scope: "repo:local:upload repo:local:read", wantScope: registry.Scope{Repos: []string{"local"}, Projects: []string{"acme-*"}, Actions: []registry.Action{r, u}}, wantTTL: 30 * time.Minute},
		{name: "more than granted", scope: "repo:private:upload", missing: "repo:private:upload"},
		{name: "project outside the pattern", scope: "repo:local/other:upload", missing: "repo:local/other:upload"},
		{name: "wider pattern than granted", scope: "repo:local/*:upload", missing: "repo:local/*:upload"},
		{name: "everything is not one scope", scope: "", notOne: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := ParseScope(tc.scope)
			if err != nil {
				t.Fatal(err)
			}
			got, miss := Narrow(entries, req)
			if tc.missing != "" {
				if miss == nil || miss.String() != tc.missing {
					t.Fatalf("missing %v; want %s", miss, tc.missing)
				}
				return
			}
			if miss != nil {
				t.Fatalf("missing %v", miss)
			}
			s, ttl, ok := ToScope(got)
			if ok == tc.notOne {
				t.Fatalf("ToScope ok=%v for %+v", ok, got)
			}
			if tc.notOne {
				return
			}
			if diff := cmp.Diff(tc.wantScope, s); diff != "" || ttl != tc.wantTTL {
				t.Errorf("scope (-want +got):\n%s ttl %s want %s", diff, ttl, tc.wantTTL)
			}
		})
	}
}

func TestToScopeBindings(t *testing.T) {
	t.Parallel()
	u := registry.Upload
	s, _, ok := ToScope([]Entry{{Repo: "a", Projects: []string{"x"}, Actions: []registry.Action{u}, TTL: time.Hour}, {Repo: "b", Projects: []string{"y"}, Actions: []registry.Action{u}, TTL: time.Hour}})
	want := registry.Scope{Repos: []string{"a", "b"}, Projects: []string{"x", "y"}, Actions: []registry.Action{u},
		Bindings: []registry.Binding{{Repo: "a", Project: "x"}, {Repo: "b", Project: "y"}}}
	if !ok {
		t.Fatal("not representable")
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Error(diff)
	}
}

func TestParseScopeErrors(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"local:read", "repo:local:admin", "repo:Bad Name:read", "repo::read", "repo:local/bad$:read"} {
		if _, err := ParseScope(s); err == nil {
			t.Errorf("ParseScope(%q) accepted", s)
		}
	}
}

// BenchmarkEvaluate: 1,000 policies across 10 issuers, one token.
func BenchmarkEvaluate(b *testing.B) {
	var issuers []IssuerInfo
	for i := range 10 {
		issuers = append(issuers, IssuerInfo{Name: fmt.Sprintf("iss%d", i), URL: fmt.Sprintf("https://iss%d.example", i), Kind: KindGitHub})
	}
	env, _ := NewCEL()
	var ps []Policy
	for i := range 1000 {
		p := Policy{Name: fmt.Sprintf("p%d", i), Issuer: fmt.Sprintf("iss%d", i%10), Match: []Matcher{
			eq("repository_owner_id", fmt.Sprint(i%50)), like("ref", "refs/tags/v*"), eq("environment", "pypi")},
			Grant: Grants{Repositories: []string{"local"}, Actions: []registry.Action{registry.Upload}}}
		if i%20 == 0 {
			p.Condition = "claims.event_name != 'pull_request_target'"
		}
		if i%100 == 0 {
			p.Effect = EffectDeny
			p.Grant = Grants{Actions: []registry.Action{registry.Delete}}
		}
		p.Normalize(testAud)
		if _, err := p.Validate(issuers, testAud, env); err != nil {
			b.Fatal(err)
		}
		ps = append(ps, p)
	}
	set, _, err := NewPolicySet(ps, issuers, env)
	if err != nil {
		b.Fatal(err)
	}
	c := claims("https://iss3.example", "repository_owner_id", "3", "ref", "refs/tags/v1.2.3", "environment", "pypi", "event_name", "push")
	if len(set.Evaluate(c, false).Entries) == 0 {
		b.Fatal("nothing matched")
	}
	b.ReportAllocs()
	for b.Loop() {
		set.Evaluate(c, false)
	}
}

var _ = context.Background
