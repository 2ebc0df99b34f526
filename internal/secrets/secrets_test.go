package secrets

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
	"github.com/wharf-dev/wharf/internal/store/sqlstore"
)

// env is a service over a real SQLite store, with raw access to the file
// for tampering, and the service's log captured.
type env struct {
	svc  *Service
	st   store.Store
	path string
	raw  *sql.DB
	log  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KEKSize) }

func newEnv(t *testing.T, kek []byte, repos ...string) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wharf.db")
	st, err := sqlstore.Open(t.Context(), sqlstore.Config{DSN: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, r := range repos {
		if err := st.Repos().Create(t.Context(), &registry.Repository{Name: r, Kind: registry.Remote}); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	e := &env{st: st, path: path, raw: raw, log: &syncBuffer{}}
	e.svc = e.service(t, kek)
	return e
}

// service builds another service over the same store with other keys.
func (e *env) service(t *testing.T, kek []byte, previous ...[]byte) *Service {
	t.Helper()
	lg := slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := New(Config{Store: e.st, KEK: kek, PreviousKEKs: previous, Logger: lg})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *env) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := e.raw.ExecContext(t.Context(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantKind(t *testing.T, what string, err error, kind errs.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: succeeded, want a %v error", what, kind)
	}
	if got := errs.KindOf(err); got != kind {
		t.Fatalf("%s: kind %v (%v), want %v", what, got, err, kind)
	}
}

func access(t *testing.T, s *Service, repo, name, version string) (string, int) {
	t.Helper()
	v, n, err := s.Access(t.Context(), repo, name, version)
	must(t, "Access "+name+"@"+version, err)
	return string(v), n
}

func TestParseKEK(t *testing.T) {
	t.Parallel()
	k := make([]byte, KEKSize)
	for i := range k {
		k[i] = byte(i * 7)
	}
	for _, tt := range []struct {
		name, in string
		ok       bool
	}{
		{"hex", hex.EncodeToString(k), true},
		{"hex upper with newline", strings.ToUpper(hex.EncodeToString(k)) + "\n", true},
		{"base64", base64.StdEncoding.EncodeToString(k), true},
		{"base64 raw url", "  " + base64.RawURLEncoding.EncodeToString(k) + "\n", true},
		{"too short", base64.StdEncoding.EncodeToString(k[:16]), false},
		{"garbage", "correct horse battery staple", false},
		{"empty", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseKEK(tt.in)
			if !tt.ok {
				if err == nil {
					t.Fatalf("ParseKEK(%q) succeeded", tt.in)
				}
				if tt.in != "" && strings.Contains(err.Error(), tt.in) {
					t.Errorf("the error repeats the input: %v", err)
				}
				return
			}
			must(t, "ParseKEK", err)
			if !bytes.Equal(got, k) {
				t.Errorf("ParseKEK = %x, want %x", got, k)
			}
		})
	}
}

func TestEnsureKEKFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data", "kek")
	k1, created, err := EnsureKEKFile(path)
	must(t, "EnsureKEKFile", err)
	if !created || len(k1) != KEKSize {
		t.Fatalf("first call: created %v, %d bytes", created, len(k1))
	}
	fi, err := os.Stat(path)
	must(t, "Stat", err)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	k2, created, err := EnsureKEKFile(path)
	must(t, "EnsureKEKFile again", err)
	if created || !bytes.Equal(k1, k2) {
		t.Errorf("second call: created %v, same key %v", created, bytes.Equal(k1, k2))
	}
	if err := WriteKEKFile(path, key(1)); err == nil {
		t.Errorf("WriteKEKFile replaced an existing key")
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t, key(1), "pypi")
	ctx := t.Context()
	must(t, "Create", e.svc.Create(ctx, "pypi-token"))
	wantKind(t, "Create again", e.svc.Create(ctx, "pypi-token"), errs.Conflict)
	wantKind(t, "Create bad name", e.svc.Create(ctx, "../x"), errs.Invalid)
	must(t, "Grant", e.svc.Grant(ctx, "pypi-token", "pypi"))
	for i, val := range []string{"pypi-AgEIcHlwaS5vcmc-one", "pypi-AgEIcHlwaS5vcmc-two"} {
		n, err := e.svc.AddVersion(ctx, "pypi-token", []byte(val))
		must(t, "AddVersion", err)
		if n != i+1 {
			t.Errorf("AddVersion = %d, want %d", n, i+1)
		}
	}
	for _, tt := range []struct {
		ref  string
		want string
		n    int
	}{{"latest", "pypi-AgEIcHlwaS5vcmc-two", 2}, {"1", "pypi-AgEIcHlwaS5vcmc-one", 1}, {"2", "pypi-AgEIcHlwaS5vcmc-two", 2}} {
		got, n := access(t, e.svc, "pypi", "pypi-token", tt.ref)
		if got != tt.want || n != tt.n {
			t.Errorf("Access(%s) = %q, %d; want %q, %d", tt.ref, got, n, tt.want, tt.n)
		}
	}
	// Another process with the same KEK reads the same values.
	if got, _ := access(t, e.service(t, key(1)), "pypi", "pypi-token", "1"); got != "pypi-AgEIcHlwaS5vcmc-one" {
		t.Errorf("second service read %q", got)
	}
	for _, tt := range []struct {
		name, ref string
		kind      errs.Kind
	}{
		{"missing", "latest", errs.NotFound},
		{"bad name!", "latest", errs.Invalid},
		{"pypi-token", "3", errs.NotFound},
		{"pypi-token", "0", errs.Invalid},
		{"pypi-token", "newest", errs.Invalid},
	} {
		_, _, err := e.svc.Access(ctx, "pypi", tt.name, tt.ref)
		wantKind(t, "Access "+tt.name+"@"+tt.ref, err, tt.kind)
	}
	_, err := e.svc.AddVersion(ctx, "pypi-token", nil)
	wantKind(t, "empty value", err, errs.Invalid)
	_, err = e.svc.AddVersion(ctx, "pypi-token", make([]byte, DefaultMaxValueSize+1))
	wantKind(t, "huge value", err, errs.TooLarge)
	_, err = e.svc.AddVersion(ctx, "nope", []byte("x"))
	wantKind(t, "AddVersion missing", err, errs.NotFound)

	list, err := e.svc.List(ctx)
	must(t, "List", err)
	if len(list) != 1 || list[0].KEKID != KEKID(key(1)) {
		t.Fatalf("List = %+v", list)
	}
	var states []string
	for _, v := range list[0].Versions {
		states = append(states, string(v.State))
	}
	if diff := cmp.Diff([]string{"enabled", "enabled"}, states); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"pypi"}, list[0].Grants); diff != "" {
		t.Errorf("grants (-want +got):\n%s", diff)
	}
}

func TestWrongKEK(t *testing.T) {
	t.Parallel()
	e := newEnv(t, key(1), "pypi")
	ctx := t.Context()
	must(t, "Create", e.svc.Create(ctx, "tok"))
	must(t, "Grant", e.svc.Grant(ctx, "tok", "pypi"))
	_, err := e.svc.AddVersion(ctx, "tok", []byte("s3cr3t-value"))
	must(t, "AddVersion", err)

	other := e.service(t, key(2))
	_, _, err = other.Access(ctx, "pypi", "tok", "latest")
	wantKind(t, "Access with another KEK", err, errs.Internal)
	if !strings.Contains(err.Error(), KEKID(key(1))) {
		t.Errorf("the error does not name the KEK the data key needs: %v", err)
	}
	_, err = other.AddVersion(ctx, "tok", []byte("x"))
	wantKind(t, "AddVersion with another KEK", err, errs.Internal)

	// A KEK ID forged to match the wrong key: the unwrap itself fails.
	e.exec(t, `UPDATE secrets SET kek_id = ? WHERE name = 'tok'`, KEKID(key(2)))
	_, _, err = other.Access(ctx, "pypi", "tok", "latest")
	wantKind(t, "Access with a forged KEK ID", err, errs.Internal)
	if _, err := New(Config{Store: e.st, KEK: key(1)[:16]}); err == nil {
		t.Errorf("New accepted a 16-byte KEK")
	}
}

func TestTamperedCiphertext(t *testing.T) {
	t.Parallel()
	e := newEnv(t, key(1), "pypi")
	ctx := t.Context()
	must(t, "Create", e.svc.Create(ctx, "tok"))
	must(t, "Grant", e.svc.Grant(ctx, "tok", "pypi"))
	_, err := e.svc.AddVersion(ctx, "tok", []byte("s3cr3t-value"))
	must(t, "AddVersion", err)
	var ct []byte
	must(t, "read", e.raw.QueryRowContext(ctx, `SELECT ciphertext FROM secret_versions`).Scan(&ct))
	ct[len(ct)/2] ^= 0x01
	e.exec(t, `UPDATE secret_versions SET ciphertext = ? WHERE version = 1`, ct)
	_, _, err = e.svc.Access(ctx, "pypi", "tok", "1")
	wantKind(t, "Access tampered", err, errs.Internal)

	// A tampered wrapped data key fails too.
	must(t, "Create", e.svc.Create(ctx, "tok2"))
	must(t, "Grant", e.svc.Grant(ctx, "tok2", "pypi"))
	_, err = e.svc.AddVersion(ctx, "tok2", []byte("other-value"))
	must(t, "AddVersion", err)
	var wk []byte
	must(t, "read key", e.raw.QueryRowContext(ctx, `SELECT wrapped_key FROM secrets WHERE name = 'tok2'`).Scan(&wk))
	wk[0] ^= 0x80
	e.exec(t, `UPDATE secrets SET wrapped_key = ? WHERE name = 'tok2'`, wk)
	_, _, err = e.svc.Access(ctx, "pypi", "tok2", "latest")
	wantKind(t, "Access with a tampered data key", err, errs.Internal)
}

// TestSwappedRows copies ciphertexts and wrapped keys between rows in the
// database: the additional authenticated data makes every swap fail rather
// than hand out another row's value.
func TestSwappedRows(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		swap   string
		secret string
		ref    string
	}{
		{"version 1's ciphertext onto version 2", `UPDATE secret_versions SET ciphertext =
			(SELECT ciphertext FROM secret_versions v JOIN secrets s ON s.id = v.secret_id WHERE s.name = 'a' AND v.version = 1)
			WHERE version = 2 AND secret_id = (SELECT id FROM secrets WHERE name = 'a')`, "a", "2"},
		{"secret a's ciphertext onto secret b", `UPDATE secret_versions SET ciphertext =
			(SELECT ciphertext FROM secret_versions v JOIN secrets s ON s.id = v.secret_id WHERE s.name = 'a' AND v.version = 1)
			WHERE version = 1 AND secret_id = (SELECT id FROM secrets WHERE name = 'b')`, "b", "1"},
		{"secret a's data key and ciphertext onto secret b", `UPDATE secrets SET wrapped_key =
			(SELECT wrapped_key FROM secrets WHERE name = 'a') WHERE name = 'b';
			UPDATE secret_versions SET ciphertext =
			(SELECT ciphertext FROM secret_versions v JOIN secrets s ON s.id = v.secret_id WHERE s.name = 'a' AND v.version = 1)
			WHERE version = 1 AND secret_id = (SELECT id FROM secrets WHERE name = 'b')`, "b", "1"},
		{"secrets renamed into each other", `UPDATE secrets SET name = 'tmp' WHERE name = 'a';
			UPDATE secrets SET name = 'a' WHERE name = 'b'; UPDATE secrets SET name = 'b' WHERE name = 'tmp'`, "b", "1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, key(1), "pypi")
			ctx := t.Context()
			for _, n := range []string{"a", "b"} {
				must(t, "Create", e.svc.Create(ctx, n))
				must(t, "Grant", e.svc.Grant(ctx, n, "pypi"))
				for _, v := range []string{"1", "2"} {
					_, err := e.svc.AddVersion(ctx, n, []byte("value-"+n+v))
					must(t, "AddVersion", err)
				}
			}
			before, _ := access(t, e.svc, "pypi", tt.secret, tt.ref)
			e.exec(t, tt.swap)
			v, _, err := e.svc.Access(ctx, "pypi", tt.secret, tt.ref)
			if err == nil {
				t.Fatalf("Access after the swap succeeded with %q (was %q)", v, before)
			}
			wantKind(t, "Access after the swap", err, errs.Internal)
		})
	}
}

func TestRotateKEK(t *testing.T) {
	t.Parallel()
	e := newEnv(t, key(1), "pypi")
	ctx := t.Context()
	for _, n := range []string{"a", "b", "c"} {
		must(t, "Create", e.svc.Create(ctx, n))
		must(t, "Grant", e.svc.Grant(ctx, n, "pypi"))
		_, err := e.svc.AddVersion(ctx, n, []byte("value-"+n))
		must(t, "AddVersion", err)
	}
	oldOnly := e.service(t, key(1))

	n, err := e.svc.RotateKEK(ctx, key(2))
	must(t, "RotateKEK", err)
	if n != 3 {
		t.Errorf("RotateKEK re-wrapped %d keys, want 3", n)
	}
	if e.svc.KEKID() != KEKID(key(2)) {
		t.Errorf("KEKID after rotation = %s, want the new key's", e.svc.KEKID())
	}
	// The rotating service keeps working, and wraps new secrets under the new KEK.
	if got, _ := access(t, e.svc, "pypi", "b", "latest"); got != "value-b" {
		t.Errorf("after rotation: %q", got)
	}
	must(t, "Create after rotation", e.svc.Create(ctx, "d"))
	_, err = e.svc.AddVersion(ctx, "a", []byte("value-a2"))
	must(t, "AddVersion after rotation", err)

	// A process with only the new KEK reads everything ...
	newOnly := e.service(t, key(2))
	for _, n := range []string{"a", "b", "c"} {
		if got, _ := access(t, newOnly, "pypi", n, "1"); got != "value-"+n {
			t.Errorf("new KEK reads %s as %q", n, got)
		}
	}
	// ... and one with only the old KEK reads nothing.
	for _, n := range []string{"a", "b", "c"} {
		_, _, err := oldOnly.Access(ctx, "pypi", n, "1")
		wantKind(t, "old KEK after rotation", err, errs.Internal)
	}
	var ids []string
	rows, err := e.raw.QueryContext(ctx, `SELECT DISTINCT kek_id FROM secrets`)
	must(t, "query", err)
	for rows.Next() {
		var id string
		must(t, "scan", rows.Scan(&id))
		ids = append(ids, id)
	}
	rows.Close()
	if diff := cmp.Diff([]string{KEKID(key(2))}, ids); diff != "" {
		t.Errorf("kek_id column (-want +got):\n%s", diff)
	}

	// Rotating with a process that lacks the current KEK fails and changes nothing.
	_, err = e.service(t, key(3)).RotateKEK(ctx, key(4))
	wantKind(t, "RotateKEK without the current KEK", err, errs.Internal)
	if got, _ := access(t, newOnly, "pypi", "a", "2"); got != "value-a2" {
		t.Errorf("after a failed rotation: %q", got)
	}
	// During a rotation done elsewhere, previous KEKs keep a process reading.
	both := e.service(t, key(3), key(2))
	if got, _ := access(t, both, "pypi", "c", "latest"); got != "value-c" {
		t.Errorf("with the KEK as a previous key: %q", got)
	}
	_, err = e.svc.RotateKEK(ctx, key(9)[:5])
	wantKind(t, "RotateKEK short key", err, errs.Invalid)
}

func TestVersionStates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, key(1), "pypi")
	ctx := t.Context()
	must(t, "Create", e.svc.Create(ctx, "tok"))
	must(t, "Grant", e.svc.Grant(ctx, "tok", "pypi"))
	for _, v := range []string{"v1", "v2", "v3"} {
		_, err := e.svc.AddVersion(ctx, "tok", []byte("value-"+v))
		must(t, "AddVersion", err)
	}
	must(t, "Disable 3", e.svc.DisableVersion(ctx, "tok", 3))
	must(t, "Disable 3 again", e.svc.DisableVersion(ctx, "tok", 3))
	_, _, err := e.svc.Access(ctx, "pypi", "tok", "3")
	wantKind(t, "Access disabled", err, errs.Invalid)
	if got, n := access(t, e.svc, "pypi", "tok", "latest"); got != "value-v2" || n != 2 {
		t.Errorf("latest with 3 disabled = %q, %d; want version 2", got, n)
	}
	must(t, "Destroy 2", e.svc.DestroyVersion(ctx, "tok", 2))
	_, _, err = e.svc.Access(ctx, "pypi", "tok", "2")
	wantKind(t, "Access destroyed", err, errs.Invalid)
	wantKind(t, "Enable destroyed", e.svc.EnableVersion(ctx, "tok", 2), errs.Conflict)
	wantKind(t, "Disable destroyed", e.svc.DisableVersion(ctx, "tok", 2), errs.Conflict)
	must(t, "Destroy 2 again", e.svc.DestroyVersion(ctx, "tok", 2))
	var ct []byte
	must(t, "read", e.raw.QueryRowContext(ctx,
		`SELECT ciphertext FROM secret_versions WHERE version = 2`).Scan(&ct))
	if ct != nil {
		t.Errorf("destroyed version still has %d bytes of ciphertext", len(ct))
	}
	if got, _ := access(t, e.svc, "pypi", "tok", "latest"); got != "value-v1" {
		t.Errorf("latest with 2 destroyed and 3 disabled = %q", got)
	}
	must(t, "Enable 3", e.svc.EnableVersion(ctx, "tok", 3))
	if got, _ := access(t, e.svc, "pypi", "tok", "latest"); got != "value-v3" {
		t.Errorf("latest after re-enabling 3 = %q", got)
	}
	must(t, "Disable 1", e.svc.DisableVersion(ctx, "tok", 1))
	must(t, "Disable 3", e.svc.DisableVersion(ctx, "tok", 3))
	_, _, err = e.svc.Access(ctx, "pypi", "tok", "latest")
	wantKind(t, "latest with nothing enabled", err, errs.Invalid)
	wantKind(t, "Disable missing version", e.svc.DisableVersion(ctx, "tok", 7), errs.NotFound)
	wantKind(t, "Disable version 0", e.svc.DisableVersion(ctx, "tok", 0), errs.Invalid)
	// Numbers are never reused.
	n, err := e.svc.AddVersion(ctx, "tok", []byte("value-v4"))
	must(t, "AddVersion", err)
	if n != 4 {
		t.Errorf("next version = %d, want 4", n)
	}
}

func TestGrants(t *testing.T) {
	t.Parallel()
	e := newEnv(t, key(1), "pypi", "other")
	ctx := actorCtx(t.Context(), "tok-admin")
	must(t, "Create", e.svc.Create(ctx, "tok"))
	_, err := e.svc.AddVersion(ctx, "tok", []byte("s3cr3t"))
	must(t, "AddVersion", err)
	_, _, err = e.svc.Access(ctx, "pypi", "tok", "latest")
	wantKind(t, "Access before the grant", err, errs.PermissionDenied)
	must(t, "Grant", e.svc.Grant(ctx, "tok", "pypi"))
	must(t, "Grant twice", e.svc.Grant(ctx, "tok", "pypi"))
	access(t, e.svc, "pypi", "tok", "latest")
	_, _, err = e.svc.Access(ctx, "other", "tok", "latest")
	wantKind(t, "Access by an ungranted repository", err, errs.PermissionDenied)
	wantKind(t, "Grant to a missing repository", e.svc.Grant(ctx, "tok", "nope"), errs.NotFound)
	wantKind(t, "Grant to a bad name", e.svc.Grant(ctx, "tok", "Bad Name"), errs.Invalid)
	wantKind(t, "Grant missing secret", e.svc.Grant(ctx, "nope", "pypi"), errs.NotFound)
	must(t, "Revoke", e.svc.Revoke(ctx, "tok", "pypi"))
	wantKind(t, "Revoke twice", e.svc.Revoke(ctx, "tok", "pypi"), errs.NotFound)
	_, _, err = e.svc.Access(ctx, "pypi", "tok", "latest")
	wantKind(t, "Access after the revoke", err, errs.PermissionDenied)

	// Every access is audited with its outcome, never the value.
	events, err := e.st.Audit().List(ctx, store.AuditFilter{Action: "secret."})
	must(t, "Audit.List", err)
	type ev struct{ Actor, Action, Repo, Target, Outcome, Reason, Version string }
	var got []ev
	for i := len(events) - 1; i >= 0; i-- {
		x := events[i]
		got = append(got, ev{x.Actor, x.Action, x.Repo, x.Target, x.Outcome, x.Detail["reason"], x.Detail["version"]})
	}
	want := []ev{
		{"tok-admin", "secret.create", "", "tok", "ok", "", ""},
		{"tok-admin", "secret.add_version", "", "tok", "ok", "", "1"},
		{"tok-admin", "secret.access", "pypi", "tok", "refused", "not_granted", ""},
		{"tok-admin", "secret.grant", "pypi", "tok", "ok", "", ""},
		{"tok-admin", "secret.grant", "pypi", "tok", "ok", "", ""},
		{"system", "secret.access", "pypi", "tok", "ok", "", "1"}, // access() uses t.Context()
		{"tok-admin", "secret.access", "other", "tok", "refused", "not_granted", ""},
		{"tok-admin", "secret.revoke", "pypi", "tok", "ok", "", ""},
		{"tok-admin", "secret.access", "pypi", "tok", "refused", "not_granted", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit events (-want +got):\n%s", diff)
	}
}

func actorCtx(ctx context.Context, actor string) context.Context { return WithActor(ctx, actor) }

// TestPlaintextNowhere drives every operation with distinctive values and
// then looks for them in the log and in every column of every table of the
// SQLite file (and in the raw file bytes).
func TestPlaintextNowhere(t *testing.T) {
	t.Parallel()
	e := newEnv(t, key(1), "pypi")
	ctx := t.Context()
	values := []string{"pypi-PLAINTEXT-MARKER-one-7f3a9c", "PLAINTEXT-MARKER-two-\x00binary\xff"}
	must(t, "Create", e.svc.Create(ctx, "tok"))
	must(t, "Grant", e.svc.Grant(ctx, "tok", "pypi"))
	for _, v := range values {
		_, err := e.svc.AddVersion(ctx, "tok", []byte(v))
		must(t, "AddVersion", err)
	}
	access(t, e.svc, "pypi", "tok", "latest")
	access(t, e.svc, "pypi", "tok", "1")
	must(t, "Disable", e.svc.DisableVersion(ctx, "tok", 1))
	_, _, _ = e.svc.Access(ctx, "pypi", "tok", "1")
	must(t, "Enable", e.svc.EnableVersion(ctx, "tok", 1))
	_, err := e.svc.RotateKEK(ctx, key(2))
	must(t, "RotateKEK", err)
	access(t, e.svc, "pypi", "tok", "2")
	must(t, "Destroy", e.svc.DestroyVersion(ctx, "tok", 2))
	list, err := e.svc.List(ctx)
	must(t, "List", err)

	needles := [][]byte{key(1), key(2)}
	for _, v := range values {
		needles = append(needles, []byte(v))
	}
	check := func(where string, hay []byte) {
		t.Helper()
		for _, n := range needles {
			if bytes.Contains(hay, n) {
				t.Errorf("a secret value or key appears in %s", where)
			}
		}
	}
	if !strings.Contains(e.log.String(), "secret accessed") {
		t.Fatalf("the log capture caught nothing:\n%s", e.log.String())
	}
	check("the log", []byte(e.log.String()))
	check("List", []byte(fmt.Sprintf("%+v", list)))

	seen := map[string]int{}
	scanColumns(t, e.raw, func(table, col string, v []byte) {
		seen[table]++
		check(table+"."+col, v)
	})
	for _, tbl := range []string{"secrets", "secret_versions", "secret_grants", "audit_events"} {
		if seen[tbl] == 0 {
			t.Errorf("no value of table %s was scanned", tbl)
		}
	}
	// And the raw file and its WAL, for good measure (after a checkpoint).
	e.exec(t, `PRAGMA wal_checkpoint(TRUNCATE)`)
	for _, p := range []string{e.path, e.path + "-wal"} {
		b, err := os.ReadFile(p)
		if err == nil {
			check(p, b)
		}
	}
}

// scanColumns calls fn with every non-NULL value of every column of every
// table, as bytes (text and blobs as stored, numbers as text).
func scanColumns(t *testing.T, db *sql.DB, fn func(table, col string, v []byte)) {
	t.Helper()
	ctx := t.Context()
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table'`)
	must(t, "tables", err)
	var tables []string
	for rows.Next() {
		var n string
		must(t, "scan", rows.Scan(&n))
		tables = append(tables, n)
	}
	rows.Close()
	for _, tbl := range tables {
		rows, err := db.QueryContext(ctx, `SELECT * FROM "`+tbl+`"`)
		must(t, "select "+tbl, err)
		cols, err := rows.Columns()
		must(t, "columns", err)
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			must(t, "scan "+tbl, rows.Scan(ptrs...))
			for i, v := range vals {
				switch v := v.(type) {
				case nil:
				case []byte:
					fn(tbl, cols[i], v)
				case string:
					fn(tbl, cols[i], []byte(v))
				default:
					fn(tbl, cols[i], fmt.Append(nil, v))
				}
			}
		}
		must(t, "rows "+tbl, rows.Err())
		rows.Close()
	}
}

// BenchmarkAccess is one upstream request's secret lookup: resolve
// "latest", check the grant, unwrap, decrypt, audit.
func BenchmarkAccess(b *testing.B) {
	path := filepath.Join(b.TempDir(), "wharf.db")
	st, err := sqlstore.Open(b.Context(), sqlstore.Config{DSN: path})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := b.Context()
	if err := st.Repos().Create(ctx, &registry.Repository{Name: "pypi", Kind: registry.Remote}); err != nil {
		b.Fatal(err)
	}
	svc, err := New(Config{Store: st, KEK: key(1)})
	if err != nil {
		b.Fatal(err)
	}
	if err := svc.Create(ctx, "tok"); err != nil {
		b.Fatal(err)
	}
	if err := svc.Grant(ctx, "tok", "pypi"); err != nil {
		b.Fatal(err)
	}
	if _, err := svc.AddVersion(ctx, "tok", []byte("pypi-benchmark-token")); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := svc.Access(ctx, "pypi", "tok", Latest); err != nil {
			b.Fatal(err)
		}
	}
}
