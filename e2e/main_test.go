package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// binaryEnv carries the path of the wharf binary from TestMain to the tests.
// An environment variable rather than a package variable: it keeps the
// package free of mutable globals and lets a developer reuse a binary.
const binaryEnv = "WHARF_E2E_BINARY"

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv("WHARF_E2E") != "1" || os.Getenv(binaryEnv) != "" {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "wharf-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "wharf")
	if err := buildWharf(bin); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building the wharf binary:", err)
		return 1
	}
	os.Setenv(binaryEnv, bin)
	return m.Run()
}

// buildWharf compiles ./cmd/wharf from the module this package lives in.
func buildWharf(out string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/wharf")
	cmd.Dir = root
	b, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v\n%s", err, b)
	}
	return nil
}

// moduleRoot is the directory holding go.mod: the parent of this package
// (go test runs tests in the package directory).
func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root := filepath.Dir(wd)
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return "", fmt.Errorf("go.mod not found above %s: %w", wd, err)
	}
	return root, nil
}

// wharfBinary returns the binary under test, skipping the test unless the
// end-to-end suite was asked for.
func wharfBinary(t *testing.T) string {
	t.Helper()
	if os.Getenv("WHARF_E2E") != "1" {
		t.Skip("end-to-end test: set WHARF_E2E=1 (scripts/test does)")
	}
	bin := os.Getenv(binaryEnv)
	if bin == "" {
		t.Fatal("WHARF_E2E=1 but no wharf binary was built")
	}
	return bin
}

// requireTool returns the path of an external program. Missing tools skip
// the test locally but fail it in CI, where scripts/test installs them, so a
// broken CI image cannot silently turn the suite green.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	wharfBinary(t) // skip first when the suite is off
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	missing(t, fmt.Sprintf("%s not found in PATH (Debian package: see scripts/test)", name))
	return ""
}

func missing(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// python returns a Python interpreter that has the Debian-packaged build
// frontend and pip. /usr/bin/python3 comes first: a pyenv or venv python3
// earlier in PATH does not see Debian's dist-packages.
func python(t *testing.T, modules ...string) string {
	t.Helper()
	wharfBinary(t)
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	check := "import " + strings.Join(append([]string{"sys"}, modules...), ", ")
	for _, py := range candidates {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := exec.CommandContext(ctx, py, "-c", check).Run()
		cancel()
		if err == nil {
			return py
		}
	}
	missing(t, fmt.Sprintf("no python3 in %v can import %v (Debian packages python3-build, python3-pip)", candidates, modules))
	return ""
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
