package e2e

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMigrateEmbeddedToPostgresS3: an embedded installation populated with
// real twine uploads (plus a yank, a deleted file, a secret) is copied with
// `wharf migrate` to PostgreSQL + versitygw, verified, re-run as a no-op,
// re-run with --prune after a release was deleted on the old server, then
// served from the new backends: pip installs from it, the old admin
// token still works, the yank and the tombstone hold.
func TestMigrateEmbeddedToPostgresS3(t *testing.T) {
	t.Parallel()
	pg, s3 := clusterEnv(t)
	old := startServer(t)
	const project = "wharf-demo"
	token := old.scopedToken(t, project, "upload,read", "1h")
	var all []string
	for _, v := range []string{"1.0.0", "2.0.0", "3.0.0"} {
		files := buildDists(t, fixture(t, project, v))
		twineUpload(t, old, token, files).mustSucceed(t)
		if v != "3.0.0" { // deleted between the two copies
			all = append(all, files...)
		}
	}
	old.admin(t, "yank", "--repo", "local", project, "2.0.0", "--reason", "broken")
	var sdist, sdistPath string
	for _, f := range all {
		if b := filepath.Base(f); strings.HasSuffix(b, "1.0.0.tar.gz") {
			sdist, sdistPath = b, f
		}
	}
	old.admin(t, "delete", "--repo", "local", project, "1.0.0", sdist, "--yes")
	// The old server keeps running: migrate reads one consistent snapshot
	// of its SQLite database next to it.
	secretFile := filepath.Join(t.TempDir(), "value")
	os.WriteFile(secretFile, []byte("upstream-password"), 0o600)
	old.wharf(t, "secret", "create", "upstream", "--data", old.data)
	old.wharf(t, "secret", "add-version", "upstream", "--from-file", secretFile, "--data", old.data)

	schema := "e2e_mig_" + randName(t)
	db, err := sql.Open("pgx", pg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	sep := "?"
	if strings.Contains(pg, "?") {
		sep = "&"
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "wharf.yaml")
	body := backendsConfig(dir, pg+sep+"search_path="+schema, schema, s3, "")
	if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}

	// Without the source's key-encryption key the copy is refused.
	r := runCmd(t, cmdSpec{name: old.bin, args: []string{"migrate", "--from-data", old.data, "--to-config", config}})
	r.mustFail(t)
	if !strings.Contains(r.stderr, "key-encryption key") || !strings.Contains(r.stderr, filepath.Join(old.data, "kek")) {
		t.Errorf("migrate without the KEK: %s", r.output())
	}
	// ... before anything was written: no schema in the target database.
	var tables int
	if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1", schema).Scan(&tables); err != nil || tables != 0 {
		t.Errorf("the refused migrate left %d tables in the target (%v)", tables, err)
	}
	body = backendsConfig(dir, pg+sep+"search_path="+schema, schema, s3, filepath.Join(old.data, "kek"))
	if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}

	// A dry run, the copy, and a re-run that finds everything there.
	r = runCmd(t, cmdSpec{name: old.bin, args: []string{"migrate", "--from-data", old.data, "--to-config", config, "--dry-run"}})
	r.mustSucceed(t)
	if !strings.Contains(r.stdout, "dry run: nothing was written") {
		t.Errorf("dry run: %s", r.output())
	}
	r = runCmd(t, cmdSpec{name: old.bin, args: []string{"migrate", "--from-data", old.data, "--to-config", config}})
	r.mustSucceed(t)
	if !strings.Contains(r.stdout, "copied and verified") || !strings.Contains(r.stderr, "verified:") || !strings.Contains(r.stderr, " 0 problems") {
		t.Errorf("migrate: %s", r.output())
	}
	r = runCmd(t, cmdSpec{name: old.bin, args: []string{"migrate", "--from-data", old.data, "--to-config", config}})
	r.mustSucceed(t)
	if !strings.Contains(r.stdout, " 0 copied (0 bytes)") {
		t.Errorf("re-run copied again: %s", r.output())
	}
	// Deleted on the old server after the copy: the re-run is refused until
	// --prune, which deletes it from the copy too.
	old.admin(t, "delete", "--repo", "local", project, "3.0.0", "--yes")
	r = runCmd(t, cmdSpec{name: old.bin, args: []string{"migrate", "--from-data", old.data, "--to-config", config}})
	r.mustFail(t)
	if !strings.Contains(r.stderr, "--prune") || !strings.Contains(r.stderr, "files: 2 rows") {
		t.Errorf("re-run after a deletion, without --prune: %s", r.output())
	}
	r = runCmd(t, cmdSpec{name: old.bin, args: []string{"migrate", "--from-data", old.data, "--to-config", config, "--prune"}})
	r.mustSucceed(t)
	if !strings.Contains(r.stdout, "DELETED") || !strings.Contains(r.stderr, "deleted files") || !strings.Contains(r.stdout, "copied and verified") {
		t.Errorf("re-run with --prune: %s", r.output())
	}

	// Served from the new backends.
	moved := &server{bin: old.bin, addr: freeAddr(t), log: &logBuffer{}, Admin: old.Admin}
	moved.URL = "http://" + moved.addr
	t.Cleanup(func() {
		moved.stop()
		if t.Failed() {
			t.Logf("migrated server log:\n%s", moved.log.tail(32<<10))
		}
	})
	startReplica(t, moved, config)
	if t.Failed() {
		t.FailNow()
	}
	target, res := pipInstall(t, moved.indexURL(), project)
	res.mustSucceed(t)
	if got := installedVersion(t, target, modName(project)); got != "1.0.0" {
		t.Errorf("pip installed %s; want 1.0.0 (2.0.0 is yanked)", got)
	}
	names := moved.indexFilenames(t, project)
	if len(names) != len(all)-1 || strings.Contains(strings.Join(names, " "), sdist) {
		t.Errorf("migrated index lists %v; want %d files without %s", names, len(all)-1, sdist)
	}
	// The old admin token (copied as its hash) works, and the secret opens
	// under the same key.
	out := moved.admin(t, "secret", "list")
	if !strings.Contains(out, "upstream") {
		t.Errorf("secret list on the migrated server: %s", out)
	}
	// The deleted filename stays burnt (its tombstone was copied).
	r = twineUpload(t, moved, token, []string{sdistPath})
	r.mustFail(t)
	if !strings.Contains(r.output(), "deleted") {
		t.Errorf("re-upload of a deleted filename after the migration: %s", r.output())
	}
}
