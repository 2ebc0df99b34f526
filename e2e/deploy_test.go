package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSystemdUnitVerifies checks deploy/wharf.service with systemd's own
// parser: every key known (a misspelt sandboxing option is silently
// ignored by systemd, leaving the service less confined than documented)
// and the ExecStart command a real wharf binary.
func TestSystemdUnitVerifies(t *testing.T) {
	t.Parallel()
	bin := wharfBinary(t)
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	unit, err := os.ReadFile(filepath.Join("..", "deploy", "wharf.service"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "ExecStart=/usr/local/bin/wharf serve") {
		t.Fatal("deploy/wharf.service no longer starts /usr/local/bin/wharf serve")
	}
	local := filepath.Join(t.TempDir(), "wharf.service")
	text := strings.ReplaceAll(string(unit), "/usr/local/bin/wharf", bin)
	if err := os.WriteFile(local, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, analyze, "verify", local).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Errorf("systemd-analyze verify deploy/wharf.service: %v\n%s", err, out)
	}
}
