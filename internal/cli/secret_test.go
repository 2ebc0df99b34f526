package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/secrets"
)

// TestSecretCommands drives every secret command through a server and
// then, with --data, on the same data directory (rotate-kek included),
// and checks the server still reads the value with the rotated key.
func TestSecretCommands(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	vars := s.env(s.admin)
	const value = "pypi-CLI-PLAINTEXT-value-58e1"
	want := func(r result, code int, out string) {
		t.Helper()
		if r.code != code || !strings.Contains(r.stdout+r.stderr, out) {
			t.Fatalf("exit %d, want %d; want %q in\nstdout: %s\nstderr: %s", r.code, code, out, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, value) {
			t.Errorf("the output shows the value:\n%s%s", r.stdout, r.stderr)
		}
	}
	want(run(t, vars, "", "secret", "create", "pypi-token"), 0, "created secret pypi-token")
	want(run(t, vars, value+"\n", "secret", "add-version", "pypi-token"), 0, "added version 1 of secret pypi-token (29 bytes)")
	file := filepath.Join(t.TempDir(), "v2")
	if err := os.WriteFile(file, []byte(value+"-2"), 0o600); err != nil {
		t.Fatal(err)
	}
	want(run(t, vars, "", "secret", "add-version", "pypi-token", "--from-file", file), 0, "added version 2")
	want(run(t, vars, "", "secret", "add-version", "pypi-token"), 1, "empty")
	want(run(t, vars, "", "secret", "grant", "pypi-token", "--repo", "local"), 0, "repository local may now use secret pypi-token")
	want(run(t, vars, "", "secret", "grant", "pypi-token"), 1, "--repo")
	want(run(t, vars, "", "secret", "disable-version", "pypi-token", "2"), 0, "disabled version 2")
	want(run(t, vars, "", "secret", "enable-version", "pypi-token", "2"), 0, "enabled version 2")
	want(run(t, vars, "", "secret", "destroy-version", "pypi-token", "1"), 0, "destroyed version 1")
	want(run(t, vars, "", "secret", "destroy-version", "pypi-token", "x"), 1, "version number")
	want(run(t, vars, "", "secret", "list"), 0, "1:destroyed 2:enabled")
	want(run(t, vars, "", "secret", "rotate-kek", "--new-kek-file", file), 1, "--data DIR or --config FILE")

	v, n, err := s.srv.Secrets.Access(t.Context(), "local", "pypi-token", "latest")
	if err != nil || string(v) != value+"-2" || n != 2 {
		t.Fatalf("Access = %q, %d, %v", v, n, err)
	}

	// On the data directory: list, then rotate the generated key.
	kekPath := filepath.Join(s.dir, "kek")
	oldKEK, err := secrets.ReadKEKFile(kekPath)
	if err != nil {
		t.Fatalf("no generated KEK in the data directory: %v", err)
	}
	r := run(t, nil, "", "secret", "list", "--json", "--data", s.dir)
	want(r, 0, "pypi-token")
	var infos []secrets.Info
	if err := json.Unmarshal([]byte(r.stdout), &infos); err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].KEKID != secrets.KEKID(oldKEK) {
		t.Fatalf("list --json = %+v", infos)
	}
	want(run(t, nil, "", "secret", "rotate-kek", "--data", s.dir), 0, "re-wrapped 1 data keys")
	newKEK, err := secrets.ReadKEKFile(kekPath)
	if err != nil || string(newKEK) == string(oldKEK) {
		t.Fatalf("kek file after rotation: same %v, %v", string(newKEK) == string(oldKEK), err)
	}
	if _, err := os.Stat(kekPath + ".new"); !os.IsNotExist(err) {
		t.Errorf("kek.new left behind: %v", err)
	}
	r = run(t, nil, "", "secret", "list", "--json", "--data", s.dir)
	infos = nil
	if err := json.Unmarshal([]byte(r.stdout), &infos); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(secrets.KEKID(newKEK), infos[0].KEKID); diff != "" {
		t.Errorf("KEK ID after rotation (-want +got):\n%s", diff)
	}
	// A service opened on the rotated directory reads the value.
	svc, _, st, err := openLocalSecrets(t.Context(), &tokenFlags{data: s.dir}, Env{Getenv: func(string) string { return "" }, Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if v, _, err := svc.Access(t.Context(), "local", "pypi-token", "2"); err != nil || string(v) != value+"-2" {
		t.Errorf("after rotate-kek: %q, %v", v, err)
	}
	want(run(t, nil, "", "secret", "revoke", "pypi-token", "--repo", "local", "--data", s.dir), 0, "may no longer use")
}
