package oidc

import (
	"slices"
	"strings"

	"github.com/wharf-dev/wharf/internal/registry"
)

// Claim comparison: the one table publishers and trust-policy matchers
// share (docs/trust-policies.md, "How claims are compared"). GitHub owner,
// repository and environment names are case-insensitive on GitHub, so a
// rule must not tell "Sandbox" from "sandbox"; GitLab group and project
// paths likewise, while GitLab environment names are case-sensitive. In
// the workflow and CI-file references only the owner/repository (or
// namespace/project) part is a name; the file path and the ref are exact.
// Every other claim is compared exactly. CEL conditions see the claims as
// sent (use lowerAscii() there).

// caseFolded are the claims compared without regard to ASCII case.
var caseFolded = map[string]map[string]bool{
	KindGitHub: {"repository": true, "repository_owner": true, "environment": true, "actor": true, "enterprise": true},
	KindGitLab: {"project_path": true, "namespace_path": true, "user_login": true},
}

// namePrefixed are the claims whose part before sep is a folded name.
var namePrefixed = map[string]map[string]string{
	KindGitHub: {"workflow_ref": "/.github/", "job_workflow_ref": "/.github/"},
	KindGitLab: {"ci_config_ref_uri": "//"},
}

// canonical is v in the form a claim's comparison uses: equal canonical
// forms are equal claims. Patterns pass through it too ('*' is unaffected).
func canonical(kind, claim, v string) string {
	if caseFolded[kind][claim] {
		return strings.ToLower(v)
	}
	if sep, ok := namePrefixed[kind][claim]; ok {
		if i := strings.Index(v, sep); i >= 0 {
			return strings.ToLower(v[:i]) + v[i:]
		}
	}
	return v
}

// sameClaim compares a token's claim value with a configured one.
func sameClaim(kind, claim, got, want string) bool {
	return canonical(kind, claim, got) == canonical(kind, claim, want)
}

// FoldsCase reports whether claim is compared case-insensitively for
// tokens of an issuer of kind (in whole or in its name part).
func FoldsCase(kind, claim string) bool {
	_, prefixed := namePrefixed[kind][claim]
	return caseFolded[kind][claim] || prefixed
}

// GuardedEvents are the GitHub events whose jobs get no upload, yank or
// delete from a trust policy unless it opts in (Policy.PrivilegedEvents),
// as publishers refuse them unless they list them (DeniedEvents).
// pull_request_target can never be opted in.
var GuardedEvents = DeniedEvents

// writeActions are what the event guard removes.
var writeActions = []registry.Action{registry.Upload, registry.Yank, registry.Delete}

// guardEvents applies the event guard to what an allow policy grants a
// GitHub token: a job started by a guarded event (or naming no event)
// keeps only read unless the policy lists the event in PrivilegedEvents.
func guardEvents(c Claims, p Policy, actions []registry.Action) (kept, removed []registry.Action) {
	if c.Kind != KindGitHub {
		return actions, nil
	}
	ev := c.EventName()
	if ev != "" && !slices.Contains(GuardedEvents, ev) {
		return actions, nil
	}
	if ev != "" && ev != "pull_request_target" && slices.Contains(p.PrivilegedEvents, ev) {
		return actions, nil
	}
	for _, a := range actions {
		if slices.Contains(writeActions, a) {
			removed = append(removed, a)
		} else {
			kept = append(kept, a)
		}
	}
	return kept, removed
}

func guardText(c Claims, removed []registry.Action) string {
	names := make([]string, len(removed))
	for i, a := range removed {
		names[i] = string(a)
	}
	ev := c.EventName()
	if ev == "" {
		return "the token names no event_name: " + strings.Join(names, ", ") + " removed"
	}
	how := "list it in privileged_events to opt in"
	if ev == "pull_request_target" {
		how = "pull_request_target can never upload, yank or delete"
	}
	return "event_name " + ev + " runs with the base repository's trust on code from forks: " + strings.Join(names, ", ") + " removed (" + how + ")"
}
