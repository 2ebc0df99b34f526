package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigCheckPostgresNeedsKEK: `wharf config check` catches what
// `wharf serve` would refuse on PostgreSQL, a missing shared
// key-encryption key, before any replica is started with it.
func TestConfigCheckPostgresNeedsKEK(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "wharf.yaml")
	body := "data_dir: " + filepath.Join(dir, "data") + "\ndatabase:\n  driver: postgres\n  dsn: postgres://wharf@db.internal/wharf\n"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, nil, "", "config", "check", file)
	if r.code == 0 || !strings.Contains(r.stderr, "secrets.kek_file") || !strings.Contains(r.stderr, "every replica") {
		t.Fatalf("config check without a KEK: exit %d, stderr %q", r.code, r.stderr)
	}
	kek := filepath.Join(dir, "kek")
	if err := os.WriteFile(kek, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(body+"secrets:\n  kek_file: "+kek+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := run(t, nil, "", "config", "check", file); r.code != 0 || !strings.Contains(r.stdout, "is valid") {
		t.Fatalf("config check with a KEK: exit %d, %s %s", r.code, r.stdout, r.stderr)
	}
}
