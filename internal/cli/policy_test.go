package cli

import (
	"strings"
	"testing"

	"github.com/wharf-dev/wharf/internal/adminapi"
	"github.com/wharf-dev/wharf/internal/oidc"
)

// `wharf policy test` says which policies could not be evaluated and what
// that means, and what the event guard removed.
func TestPrintPolicyTestSaysWhatCannotBeEvaluated(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	err := printPolicyTest(&b, adminapi.PolicyTestResult{Issuer: "github", Verified: true, Denied: []string{"hosted-only"}, Traces: []oidc.Trace{
		{Policy: "hosted-only", Effect: oidc.EffectDeny, Matched: true, Condition: `claims.runner_environment != "github-hosted"`,
			CondResult: "error: no such key: runner_environment", Undetermined: "the condition failed: no such key: runner_environment"},
		{Policy: "team", Effect: oidc.EffectAllow, Checks: []oidc.Check{{Claim: "team", Op: "not_equals", Want: "interns"}},
			Undetermined: `claim "team" is missing or not a string, number or boolean`},
		{Policy: "ci", Effect: oidc.EffectAllow, Matched: true, Guard: "event_name workflow_run runs with the base repository's trust on code from forks: upload removed (list it in privileged_events to opt in)"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"deny hosted-only: Cannot be evaluated (the condition failed: no such key: runner_environment): denies",
		`allow team: Cannot be evaluated (claim "team" is missing or not a string, number or boolean): grants nothing`,
		"allow ci: MATCH\n  event guard: event_name workflow_run",
		"denied by: hosted-only",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
