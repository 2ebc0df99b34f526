// Package arch holds the test that keeps wharf's imports flowing one way
// (design: pypi, errs → registry → store, blob → registry/*, auth, oidc →
// httpapi, adminapi → server → cli → cmd). It has no code of its own.
package arch

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
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

// handlers are the packages that serve HTTP (and the CLI and composition
// root above them); domain packages serve them, never the reverse.
var handlers = []string{"internal/server", "internal/cli", "internal/httpapi", "internal/adminapi", "internal/ui"}

// notDomain are the internal packages that are not domain packages: the
// handlers, tools built on the composition root, and test helpers.
var notDomain = append([]string{"internal/arch", "internal/migrate", "internal/testenv", "internal/devissuer"}, handlers...)

// TestDomainPackagesImportNoHandlers: no domain package (registry/*,
// store, oidc, auth, ...) imports server, httpapi, adminapi, ui or cli, so
// a type a domain package needs can never live in one of them.
func TestDomainPackagesImportNoHandlers(t *testing.T) {
	for _, p := range packages(t) {
		name := strings.TrimPrefix(p.ImportPath, mod)
		if !strings.HasPrefix(name, "internal/") || slices.ContainsFunc(notDomain, func(n string) bool {
			return name == n || strings.HasPrefix(name, n+"/")
		}) {
			continue
		}
		for _, d := range internal(p.Imports) {
			if slices.Contains(handlers, d) {
				t.Errorf("domain package %s imports %s", name, d)
			}
		}
	}
}

// TestServerOnlyBuildsTheAdminAPI: the composition root constructs the
// admin API and takes nothing else from it: no domain type, interface or
// service of adminapi (those belong to the domain packages).
func TestServerOnlyBuildsTheAdminAPI(t *testing.T) {
	files, err := filepath.Glob("../server/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no server sources: %v", err)
	}
	allowed := []string{"New", "Config"}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "adminapi" && !slices.Contains(allowed, sel.Sel.Name) {
				t.Errorf("%s: server uses adminapi.%s; it may only build the API (%v)", fset.Position(sel.Pos()), sel.Sel.Name, allowed)
			}
			return true
		})
	}
}
