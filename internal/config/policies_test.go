package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPolicies(t *testing.T) {
	t.Parallel()
	const head = "oidc:\n  issuers: [{name: github, url: https://token.actions.githubusercontent.com, kind: github}]\n  policies:\n"
	one := "1"
	for _, tc := range []struct {
		name, yaml string
		want       []Policy
		fail       string
	}{
		{name: "declared", yaml: head + `    - name: rel
      issuer: github
      effect: allow
      match:
        - {claim: repository_owner_id, equals: "1"}
        - {path: [extra, team], in: [a, b]}
      condition: claims.ref.startsWith("refs/tags/")
      grant: {repositories: [local], projects: [demo], actions: [read, upload], ttl: 30m}
`, want: []Policy{{Name: "rel", Issuer: "github", Effect: "allow",
			Match:     []PolicyMatcher{{Claim: "repository_owner_id", Equals: &one}, {Path: []string{"extra", "team"}, In: []string{"a", "b"}}},
			Condition: `claims.ref.startsWith("refs/tags/")`,
			Grant:     PolicyGrant{Repositories: []string{"local"}, Projects: []string{"demo"}, Actions: []string{"read", "upload"}, TTL: 30 * time.Minute}}}},
		{name: "unknown key", yaml: head + "    - name: rel\n      issuer: github\n      mach: []\n", fail: `unknown key "mach"`},
		{name: "unknown grant key", yaml: head + "    - name: rel\n      issuer: github\n      grant: {repos: [local]}\n", fail: `unknown key "repos"`},
		{name: "duplicate", yaml: head + "    - {name: a, issuer: github}\n    - {name: a, issuer: github}\n", fail: `"a" is already used by oidc.policies[0]`},
		{name: "no issuer", yaml: head + "    - {name: a}\n", fail: "oidc.policies[0].issuer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := parse([]byte(tc.yaml), "", nil)
			if tc.fail != "" {
				if err == nil || !strings.Contains(err.Error(), tc.fail) {
					t.Fatalf("err = %v, want %q", err, tc.fail)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, c.OIDC.Policies); diff != "" {
				t.Errorf("policies (-want +got):\n%s", diff)
			}
		})
	}
}
