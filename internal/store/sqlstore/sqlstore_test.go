package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
	"github.com/wharf-dev/wharf/internal/store/storetest"
)

func openSQLiteT(t testing.TB, now func() time.Time) *Store {
	t.Helper()
	s, err := Open(t.Context(), Config{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "wharf.db"), Now: now})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformanceSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return openSQLiteT(t, nil) })
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		cfg  Config
		kind errs.Kind
	}{
		{"memory", Config{Driver: "sqlite", DSN: ":memory:"}, errs.Invalid},
		{"empty path", Config{Driver: "sqlite"}, errs.Invalid},
		{"unknown driver", Config{Driver: "mysql", DSN: "x"}, errs.Invalid},
		{"missing directory", Config{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "no", "such", "dir", "x.db")}, errs.Unavailable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Open(t.Context(), tt.cfg)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%+v) succeeded", tt.cfg)
			}
			if got := errs.KindOf(err); got != tt.kind {
				t.Errorf("Open(%+v) kind = %v, want %v (%v)", tt.cfg, got, tt.kind, err)
			}
		})
	}
}

func TestInjectedClock(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.FixedZone("X", 3600))
	s := openSQLiteT(t, func() time.Time { return now })
	ctx := t.Context()
	want := time.Date(2026, 3, 4, 4, 6, 7, 891234000, time.UTC) // UTC, whole microseconds

	r := registry.Repository{Name: "main", Kind: registry.Hosted}
	if err := s.Repos().Create(ctx, &r); err != nil {
		t.Fatal(err)
	}
	p, _, err := s.Projects().Ensure(ctx, registry.Project{RepoID: r.ID, Name: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	f := registry.File{RepoID: r.ID, ProjectID: p.ID, Filename: "demo-1.0.tar.gz", Version: "1.0", Release: "1.0", SHA256: "ab"}
	if err := s.Files().Add(ctx, &f); err != nil {
		t.Fatal(err)
	}
	if err := s.Tokens().Create(ctx, registry.Token{ID: "t", SecretHash: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Audit().Append(ctx, registry.AuditEvent{Action: "x"}); err != nil {
		t.Fatal(err)
	}
	gr, _ := s.Repos().Get(ctx, "main")
	gf, _ := s.Files().GetByFilename(ctx, r.ID, f.Filename)
	gt, _ := s.Tokens().Get(ctx, "t")
	ga, _ := s.Audit().List(ctx, store.AuditFilter{})
	if len(ga) != 1 {
		t.Fatalf("audit events: %d", len(ga))
	}
	for _, got := range []struct {
		what string
		t    time.Time
	}{
		{"Create's Repository.CreatedAt", r.CreatedAt},
		{"stored Repository.CreatedAt", gr.CreatedAt},
		{"Project.CreatedAt", p.CreatedAt},
		{"Add's File.UploadedAt", f.UploadedAt},
		{"stored File.UploadedAt", gf.UploadedAt},
		{"Token.CreatedAt", gt.CreatedAt},
		{"AuditEvent.Time", ga[0].Time},
	} {
		// == rather than Equal: the location must be UTC too.
		if got.t != want {
			t.Errorf("%s = %v, want %v", got.what, got.t, want)
		}
	}
}

// TestReadsDoNotWaitForWriter holds the write transaction open and reads
// through the store meanwhile: the read pool must answer.
func TestReadsDoNotWaitForWriter(t *testing.T) {
	t.Parallel()
	s := openSQLiteT(t, nil)
	ctx := t.Context()
	r := registry.Repository{Name: "main", Kind: registry.Hosted}
	if err := s.Repos().Create(ctx, &r); err != nil {
		t.Fatal(err)
	}
	inTx, release := make(chan struct{}), make(chan struct{})
	txErr := make(chan error, 1)
	go func() {
		txErr <- s.InTx(ctx, func(tx store.Store) error {
			if err := tx.Repos().Update(ctx, registry.Repository{Name: "main", Description: "uncommitted"}); err != nil {
				return err
			}
			close(inTx)
			<-release
			return nil
		})
	}()
	<-inTx
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	got, err := s.Repos().Get(rctx, "main")
	cancel()
	close(release)
	if err != nil {
		t.Fatalf("read during write transaction: %v", err)
	}
	if got.Description != "" {
		t.Errorf("read saw uncommitted description %q", got.Description)
	}
	if err := <-txErr; err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Repos().Get(ctx, "main"); got.Description != "uncommitted" {
		t.Errorf("after commit description = %q", got.Description)
	}
}

func TestPragmasAndReadOnlyPool(t *testing.T) {
	t.Parallel()
	s := openSQLiteT(t, nil)
	ctx := t.Context()
	for _, tt := range []struct {
		db     *sql.DB
		pragma string
		want   string
	}{
		{s.w, "journal_mode", "wal"},
		{s.w, "foreign_keys", "1"},
		{s.w, "synchronous", "1"}, // NORMAL
		{s.r, "query_only", "1"},
		{s.r, "foreign_keys", "1"},
		{s.w, "busy_timeout", "5000"},
	} {
		var got string
		if err := tt.db.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", tt.pragma, err)
		}
		if got != tt.want {
			t.Errorf("PRAGMA %s = %q, want %q", tt.pragma, got, tt.want)
		}
	}
	if _, err := s.r.ExecContext(ctx, `INSERT INTO audit_events (time, action) VALUES (1, 'x')`); err == nil {
		t.Error("write through the read pool succeeded")
	}
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "odd #dir% name")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "wharf.db")
	ctx := t.Context()
	s, err := Open(ctx, Config{DSN: path})
	if err != nil {
		t.Fatal(err)
	}
	r := registry.Repository{Name: "main", Kind: registry.Virtual, Description: "d"}
	if err := s.Repos().Create(ctx, &r); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, Config{DSN: path}) // migrations already applied: a no-op
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	got, err := s.Repos().Get(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got); diff != "" {
		t.Errorf("after reopen (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at the given path: %v", err)
	}
}

func TestErrorMessages(t *testing.T) {
	t.Parallel()
	s := openSQLiteT(t, nil)
	ctx := t.Context()
	r := registry.Repository{Name: "main", Kind: registry.Hosted}
	if err := s.Repos().Create(ctx, &r); err != nil {
		t.Fatal(err)
	}
	p, _, _ := s.Projects().Ensure(ctx, registry.Project{RepoID: r.ID, Name: "demo"})
	f := registry.File{RepoID: r.ID, ProjectID: p.ID, Filename: "demo-1.0.tar.gz", SHA256: "ab"}
	if err := s.Files().Add(ctx, &f); err != nil {
		t.Fatal(err)
	}
	if err := s.Files().Delete(ctx, f.ID); err != nil {
		t.Fatal(err)
	}
	_, errGet := s.Repos().Get(ctx, "nope")
	dup := r
	errDup := s.Repos().Create(ctx, &dup)
	again := f
	errTomb := s.Files().Add(ctx, &again)
	bad := registry.Repository{Name: "x", Kind: "mirror"}
	errKind := s.Repos().Create(ctx, &bad)
	for _, tt := range []struct {
		err  error
		msg  string
		kind errs.Kind
	}{
		{errGet, `repository "nope" not found`, errs.NotFound},
		{errDup, `repository "main" already exists`, errs.Conflict},
		{errTomb, "filename demo-1.0.tar.gz was used by a deleted file and cannot be reused; upload with a new version or build number", errs.Conflict},
		{errKind, `unknown repository kind "mirror"; use hosted, remote or virtual`, errs.Invalid},
	} {
		if got := errs.Message(tt.err); got != tt.msg {
			t.Errorf("Message(%v) = %q, want %q", tt.err, got, tt.msg)
		}
		if got := errs.KindOf(tt.err); got != tt.kind {
			t.Errorf("KindOf(%v) = %v, want %v", tt.err, got, tt.kind)
		}
	}
}

func TestInTxPanicRollsBack(t *testing.T) {
	t.Parallel()
	s := openSQLiteT(t, nil)
	ctx := t.Context()
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic was swallowed")
			}
		}()
		s.InTx(ctx, func(tx store.Store) error {
			r := registry.Repository{Name: "main", Kind: registry.Hosted}
			if err := tx.Repos().Create(ctx, &r); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	if _, err := s.Repos().Get(ctx, "main"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after panic: Get = %v, want not found", err)
	}
	// The write connection was released.
	r := registry.Repository{Name: "main", Kind: registry.Hosted}
	if err := s.Repos().Create(ctx, &r); err != nil {
		t.Errorf("write after panic: %v", err)
	}
}
