// Package arch holds the test that keeps wharf's imports flowing one way
// (design: pypi, errs → registry → store, blob → registry/*, auth, oidc →
// httpapi, adminapi → server → cli → cmd). It has no code of its own.
package arch

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/wharf-dev/wharf/"

type pkg struct {
	ImportPath string
	Imports    []string
}

func packages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", "../../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var ps []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	if len(ps) < 10 {
		t.Fatalf("go list found only %d packages", len(ps))
	}
	return ps
}

func internal(imports []string) []string {
	var out []string
	for _, i := range imports {
		if strings.HasPrefix(i, mod) {
			out = append(out, strings.TrimPrefix(i, mod))
		}
	}
	return out
}

// allowed lists, for the lower layers, every internal package they may
// import; anything else is a violation.
var allowed = map[string][]string{
	"internal/errs":     {},
	"internal/pypi":     {"internal/errs"},
	"internal/registry": {"internal/errs", "internal/pypi"},
	"internal/store":    {"internal/errs", "internal/registry"},
	"internal/blob":     {"internal/errs"},
	"internal/obs":      {},
}

// forbidden lists, for the middle layers, packages they must never import.
var upper = []string{"internal/server", "internal/cli", "internal/httpapi", "internal/adminapi"}

var forbidden = map[string][]string{
	"internal/auth":            upper,
	"internal/oidc":            upper,
	"internal/registry/hosted": append([]string{"internal/auth", "internal/oidc"}, upper...),
	"internal/store/sqlstore":  append([]string{"internal/auth", "internal/oidc", "internal/registry/hosted"}, upper...),
	"internal/blob/fsblob":     append([]string{"internal/store", "internal/auth"}, upper...),
	"internal/config":          append([]string{"internal/store", "internal/auth", "internal/oidc"}, upper...),
	"internal/httpapi":         {"internal/server", "internal/cli", "internal/adminapi"},
	"internal/adminapi":        {"internal/server", "internal/cli"},
}

func TestImportsFlowOneWay(t *testing.T) {
	for _, p := range packages(t) {
		name := strings.TrimPrefix(p.ImportPath, mod)
		deps := internal(p.Imports)
		if want, ok := allowed[name]; ok {
			for _, d := range deps {
				if !slices.Contains(want, d) {
					t.Errorf("%s imports %s; it may only import %v", name, d, want)
				}
			}
		}
		for _, d := range deps {
			if slices.Contains(forbidden[name], d) {
				t.Errorf("%s imports %s, a layer above it", name, d)
			}
			// Nothing but the CLI imports the composition root, and
			// nothing but main imports the CLI.
			if d == "internal/server" && name != "internal/cli" {
				t.Errorf("%s imports internal/server; only internal/cli may", name)
			}
			if d == "internal/cli" && name != "cmd/wharf" {
				t.Errorf("%s imports internal/cli; only cmd/wharf may", name)
			}
		}
	}
}
