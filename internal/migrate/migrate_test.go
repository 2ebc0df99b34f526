package migrate

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	_ "github.com/jackc/pgx/v5/stdlib" // registers driver "pgx" for the schema helper

	"github.com/wharf-dev/wharf/internal/blob"
	"github.com/wharf-dev/wharf/internal/blob/fsblob"
	"github.com/wharf-dev/wharf/internal/blob/s3blob"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
	"github.com/wharf-dev/wharf/internal/store/sqlstore"
	"github.com/wharf-dev/wharf/internal/testenv"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func openSQLite(t *testing.T) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(t.Context(), sqlstore.Config{DSN: filepath.Join(t.TempDir(), "wharf.db"), Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openPostgres opens a fresh schema, gated like the sqlstore tests.
func openPostgres(t *testing.T) *sqlstore.Store {
	t.Helper()
	dsn := testenv.PostgresDSN(t, "wharf_migrate_")
	s, err := sqlstore.Open(t.Context(), sqlstore.Config{Driver: "postgres", DSN: dsn, ReadConns: 4, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openFS(t *testing.T) blob.Store {
	t.Helper()
	b, err := fsblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openS3 opens a fresh prefix on the test S3 server, gated like s3blob's tests.
func openS3(t *testing.T) blob.Store {
	t.Helper()
	srv := testenv.S3Server(t)
	b, err := s3blob.New(t.Context(), s3blob.Config{
		Bucket: srv.Bucket, Endpoint: srv.Endpoint, PathStyle: true,
		AccessKeyID:     srv.AccessKeyID,
		SecretAccessKey: srv.SecretAccessKey,
		Prefix:          "migrate-" + strings.ToLower(rand.Text()[:12]) + "/",
		TempDir:         t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func putBlob(t *testing.T, bs blob.Store, data []byte) string {
	t.Helper()
	tmp, err := bs.Create(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	tmp.Write(data)
	info, err := tmp.Commit(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.Key
}

// populate fills an installation with one of everything wharf stores.
func populate(t *testing.T, st store.Store, bs blob.Store) {
	t.Helper()
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	local := registry.Repository{Name: "local", Kind: registry.Hosted, Public: true, Description: "ours"}
	must(st.Repos().Create(ctx, &local))
	cache := registry.Repository{Name: "pypi", Kind: registry.Remote}
	must(st.Repos().Create(ctx, &cache))
	must(st.Remote().PutSettings(ctx, cache.ID, []byte(`{"url":"https://pypi.org/simple/"}`)))
	p, _, err := st.Projects().Ensure(ctx, registry.Project{RepoID: local.ID, Name: "acme-tools", DisplayName: "Acme_Tools"})
	must(err)
	for i, name := range []string{"acme_tools-1.0-py3-none-any.whl", "acme_tools-1.0.tar.gz", "acme_tools-0.9.tar.gz"} {
		data := []byte("contents of " + name)
		meta := putBlob(t, bs, []byte("Metadata-Version: 2.1\nName: acme-tools\n"+name))
		f := registry.File{RepoID: local.ID, ProjectID: p.ID, Filename: name, Version: "1.0", Release: "1.0",
			Filetype: registry.Sdist, Size: int64(len(data)), SHA256: putBlob(t, bs, data), MetadataSHA256: meta,
			UploadedAt: t0.Add(time.Duration(i) * time.Minute), UploadedBy: "tok1"}
		must(st.Files().Add(ctx, &f))
		if i == 2 {
			must(st.Files().Delete(ctx, f.ID)) // a tombstone
		}
	}
	_, err = st.Files().SetYanked(ctx, p.ID, "1.0", true, "broken")
	must(err)
	must(st.Tokens().Create(ctx, registry.Token{ID: "tok1", SecretHash: []byte{1, 2, 3, 0xff}, Description: "ci",
		Scope: registry.Scope{Repos: []string{"local"}, Actions: []registry.Action{registry.Upload}}, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	must(st.Tokens().Create(ctx, registry.Token{ID: "tok2", SecretHash: []byte{9}, Scope: registry.Scope{Actions: []registry.Action{registry.Admin}}, CreatedAt: t0}))
	must(st.Audit().Append(ctx, registry.AuditEvent{Time: t0, Actor: "cli", Action: "token.create", Target: "tok1", Outcome: "ok", Detail: map[string]string{"k": "v"}}))
	must(st.Publishers().Create(ctx, &registry.PublisherRecord{Repo: "local", Project: "acme-tools", Kind: "github", Issuer: "https://token.actions.githubusercontent.com", Config: []byte(`{"owner":"acme"}`)}))
	must(st.Publishers().Create(ctx, &registry.PublisherRecord{Repo: "local", Project: "later", Pending: true, Kind: "generic", Issuer: "https://issuer", Config: []byte(`{}`)}))
	_, err = st.Replay().Claim(ctx, "https://issuer", "jti-1", t0.Add(time.Hour))
	must(err)
	must(st.Policies().Create(ctx, &store.PolicyRecord{Name: "release", Issuer: "https://issuer", Config: []byte(`{"allow":[]}`)}))
	sec := store.SecretRecord{Name: "pypi-token", WrappedKey: []byte{0, 1, 2, 250}, KEKID: "kek-1"}
	must(st.Secrets().Create(ctx, &sec))
	must(st.Secrets().AddVersion(ctx, &store.SecretVersion{SecretID: sec.ID, Version: 1, State: store.SecretEnabled, Ciphertext: []byte{7, 7, 7}}))
	must(st.Secrets().AddVersion(ctx, &store.SecretVersion{SecretID: sec.ID, Version: 2, State: store.SecretEnabled, Ciphertext: []byte{8}}))
	must(st.Secrets().SetVersionState(ctx, sec.ID, 1, store.SecretDestroyed))
	must(st.Secrets().Grant(ctx, sec.ID, "pypi"))
	must(st.Remote().PutPage(ctx, store.CachedPage{RepoID: cache.ID, Project: "requests", Body: []byte(`{"files":[]}`), FetchedAt: t0}))
	must(st.Remote().PutPage(ctx, store.CachedPage{RepoID: cache.ID, Project: "nope", NotFound: true, FetchedAt: t0}))
	cached := putBlob(t, bs, []byte("a cached upstream wheel"))
	must(st.Remote().PutFiles(ctx, []store.RemoteFile{
		{RepoID: cache.ID, SHA256: cached, Filename: "requests-2.0-py3-none-any.whl", URL: "https://files/r.whl", UploadTime: t0},
		{RepoID: cache.ID, SHA256: strings.Repeat("ab", 32), Filename: "requests-1.0.tar.gz", URL: "https://files/r.tgz"},
	}))
	putBlob(t, bs, []byte("an orphan blob")) // not copied, as the deleted file's blobs are not: no row references them
}

// dump reads every copied table of st.
func dump(t *testing.T, st store.Store) map[string][][]any {
	t.Helper()
	tb := st.(store.Tables)
	out := map[string][][]any{}
	err := tb.Snapshot(t.Context(), func(scan func(string, func([]any) error) error) error {
		for _, tab := range tb.Tables() {
			rows := [][]any{}
			if err := scan(tab.Name, func(r []any) error {
				rows = append(rows, append([]any(nil), r...))
				return nil
			}); err != nil {
				return err
			}
			out[tab.Name] = rows
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func blobKeys(t *testing.T, bs blob.Store) []string {
	t.Helper()
	var keys []string
	for in, err := range bs.List(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, in.Key)
	}
	slices.Sort(keys) // stores list in their own order
	return keys
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	type opener func(*testing.T) store.Store
	sqlite := func(t *testing.T) store.Store { return openSQLite(t) }
	pg := func(t *testing.T) store.Store { return openPostgres(t) }
	cases := []struct {
		name    string
		to      opener
		toBlobs func(*testing.T) blob.Store
	}{
		{"sqlite+fs to sqlite+fs", sqlite, openFS},
		{"sqlite+fs to postgres+fs", pg, openFS},
		{"sqlite+fs to sqlite+s3", sqlite, openS3},
		{"sqlite+fs to postgres+s3", pg, openS3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			from, fromBlobs := openSQLite(t), openFS(t)
			to, toBlobs := tc.to(t), tc.toBlobs(t)
			populate(t, from, fromBlobs)
			var progress bytes.Buffer
			cfg := Config{From: from, To: to, FromBlobs: fromBlobs, ToBlobs: toBlobs, Progress: &progress}

			// A dry run writes nothing.
			dry := cfg
			dry.DryRun = true
			rep, err := Run(ctx, dry)
			if err != nil {
				t.Fatalf("dry run: %v", err)
			}
			if got := blobKeys(t, toBlobs); len(got) != 0 || rep.Blobs.Copied != 5 {
				t.Fatalf("dry run: target blobs %v, reported %d to copy", got, rep.Blobs.Copied)
			}
			if n, _ := to.(store.Tables).CountRows(ctx, "files"); n != 0 {
				t.Fatalf("dry run wrote %d files", n)
			}

			rep, err = Run(ctx, cfg)
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, progress.String())
			}
			want := dump(t, from)
			if diff := cmp.Diff(want, dump(t, to)); diff != "" {
				t.Errorf("target rows differ from the source (-want +got):\n%s", diff)
			}
			// Two live files (content and metadata) and the cached
			// upstream wheel: not the deleted file's blobs, not the orphan.
			orphan := putBlob(t, fromBlobs, []byte("an orphan blob"))
			if got := blobKeys(t, toBlobs); len(got) != 5 || slices.Contains(got, orphan) {
				t.Errorf("target blobs %v, want the 5 referenced ones", got)
			}
			if rep.Blobs.Copied != 5 || rep.Blobs.Verified != 5 {
				t.Errorf("blobs: %+v", rep.Blobs)
			}
			for _, tr := range rep.Tables {
				if tr.Target != tr.Source || tr.Inserted != tr.Source {
					t.Errorf("table report %+v", tr)
				}
			}
			if !strings.Contains(progress.String(), "verified:") {
				t.Errorf("no verification line in the progress:\n%s", progress.String())
			}

			// The copy is usable: the stores find the copied rows, and new
			// rows get IDs after the copied ones.
			f, err := to.Files().GetByFilename(ctx, 1, "acme_tools-1.0.tar.gz")
			if err != nil || !f.Yanked || f.YankedReason != "broken" {
				t.Errorf("copied file: %+v, %v", f, err)
			}
			if err := to.Files().Add(ctx, &registry.File{RepoID: 1, ProjectID: 1, Filename: "acme_tools-0.9.tar.gz", Version: "0.9", Release: "0.9", Filetype: registry.Sdist, SHA256: f.SHA256, UploadedAt: t0}); !errors.Is(err, store.ErrFilenameUsed) {
				t.Errorf("tombstoned filename re-added: %v", err)
			}
			r := registry.Repository{Name: "new", Kind: registry.Hosted}
			if err := to.Repos().Create(ctx, &r); err != nil || r.ID != 3 {
				t.Errorf("new repository after the copy: id %d, %v", r.ID, err)
			}
			if fresh, err := to.Replay().Claim(ctx, "https://issuer", "jti-1", t0.Add(time.Hour)); err != nil || fresh {
				t.Errorf("a used jti is fresh after the copy: %v %v", fresh, err)
			}
			v, err := to.Secrets().GetVersion(ctx, 1, 2)
			if err != nil || !bytes.Equal(v.Ciphertext, []byte{8}) {
				t.Errorf("secret version: %+v %v", v, err)
			}
			if err := to.Repos().Delete(ctx, "new"); err != nil {
				t.Fatal(err)
			}

			// A re-run copies only what changed since.
			if _, err := from.Files().SetYanked(ctx, 1, "1.0", false, ""); err != nil {
				t.Fatal(err)
			}
			putBlob(t, fromBlobs, []byte("uploaded after the first copy"))
			progress.Reset()
			rep, err = Run(ctx, cfg)
			if err != nil {
				t.Fatalf("re-run: %v\n%s", err, progress.String())
			}
			if rep.Blobs.Copied != 0 || rep.Blobs.Present != 5 { // the new blob is referenced by no row
				t.Errorf("re-run blobs: %+v", rep.Blobs)
			}
			for _, tr := range rep.Tables {
				wantUpd := int64(0)
				if tr.Table == "files" {
					wantUpd = 2
				}
				if tr.Inserted != 0 || tr.Updated != wantUpd {
					t.Errorf("re-run %+v", tr)
				}
			}
			if diff := cmp.Diff(dump(t, from), dump(t, to)); diff != "" {
				t.Errorf("after the re-run (-source +target):\n%s", diff)
			}

			// A target with other data is refused, unless forced.
			if err := to.Tokens().Create(ctx, registry.Token{ID: "theirs", SecretHash: []byte{1}, CreatedAt: t0}); err != nil {
				t.Fatal(err)
			}
			_, err = Run(ctx, cfg)
			if err == nil || !strings.Contains(err.Error(), "tokens: 1 rows") || !strings.Contains(err.Error(), "--force") {
				t.Errorf("foreign target: %v", err)
			}
			forced := cfg
			forced.Force = true
			if rep, err := Run(ctx, forced); err != nil || rep.Tables[5].Foreign != 1 {
				t.Errorf("forced: %v %+v", err, rep.Tables[5])
			}
		})
	}
}

// TestMigrateCorruptBlob: a source blob whose bytes do not match its name is
// not copied, and the run fails its verification saying which.
func TestMigrateCorruptBlob(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fromBlobs, err := fsblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	from := openSQLite(t)
	populate(t, from, fromBlobs)
	f, err := from.Files().GetByFilename(t.Context(), 1, "acme_tools-1.0.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	var path string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if d != nil && d.Name() == f.SHA256 {
			path = p
		}
		return nil
	})
	if err := os.WriteFile(path, []byte("bit rot"), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := Run(t.Context(), Config{From: from, To: openSQLite(t), FromBlobs: fromBlobs, ToBlobs: openFS(t)})
	if !errors.Is(err, ErrVerify) {
		t.Fatalf("err = %v, want ErrVerify", err)
	}
	sum := sha256.Sum256([]byte("bit rot"))
	joined := strings.Join(rep.Problems, "\n")
	for _, want := range []string{f.SHA256 + " holds bytes hashing to " + hex.EncodeToString(sum[:]), f.SHA256 + " (files sha256 of"} {
		if !strings.Contains(joined, want) {
			t.Errorf("problems %q lack %q", joined, want)
		}
	}
}

// TestMigratePrune is the re-run at the cut-over after the running source
// deleted things since the first copy: a file (tombstoned), a publisher,
// expired tokens and replay records, a policy replaced under the same name.
// Without --prune the re-run is refused and says so; with it the target
// ends an exact copy (the removed publisher does not survive the move).
func TestMigratePrune(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(*testing.T) store.Store{
		"sqlite":   func(t *testing.T) store.Store { return openSQLite(t) },
		"postgres": func(t *testing.T) store.Store { return openPostgres(t) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			from, fromBlobs := openSQLite(t), openFS(t)
			to, toBlobs := open(t), openFS(t)
			populate(t, from, fromBlobs)
			var progress bytes.Buffer
			cfg := Config{From: from, To: to, FromBlobs: fromBlobs, ToBlobs: toBlobs, Progress: &progress}
			if _, err := Run(ctx, cfg); err != nil {
				t.Fatalf("first copy: %v\n%s", err, progress.String())
			}

			f, err := from.Files().GetByFilename(ctx, 1, "acme_tools-1.0.tar.gz")
			if err != nil {
				t.Fatal(err)
			}
			if err := from.Files().Delete(ctx, f.ID); err != nil {
				t.Fatal(err)
			}
			pubs, err := from.Publishers().List(ctx, "local", "acme-tools")
			if err != nil || len(pubs) != 1 {
				t.Fatalf("publishers %v %v", pubs, err)
			}
			if err := from.Publishers().Delete(ctx, pubs[0].ID); err != nil {
				t.Fatal(err)
			}
			if n, err := from.Tokens().DeleteExpired(ctx, t0.Add(2*time.Hour)); err != nil || n != 1 {
				t.Fatalf("expired tokens deleted: %d %v", n, err)
			}
			if n, err := from.Replay().DeleteExpired(ctx, t0.Add(2*time.Hour)); err != nil || n != 1 {
				t.Fatalf("expired jti deleted: %d %v", n, err)
			}
			// A later policy keeps SQLite from reusing the largest ID: the new
			// "release" gets another ID, and its name would collide with the
			// old row unless that is deleted first.
			if err := from.Policies().Create(ctx, &store.PolicyRecord{Name: "audit", Issuer: "https://issuer", Config: []byte(`{"allow":[]}`)}); err != nil {
				t.Fatal(err)
			}
			if err := from.Policies().Delete(ctx, "release"); err != nil {
				t.Fatal(err)
			}
			if err := from.Policies().Create(ctx, &store.PolicyRecord{Name: "release", Issuer: "https://issuer", Config: []byte(`{"allow":["x"]}`)}); err != nil {
				t.Fatal(err)
			}

			_, err = Run(ctx, cfg)
			if err == nil || !strings.Contains(err.Error(), "--prune") || !strings.Contains(err.Error(), "publishers: 1 rows") {
				t.Fatalf("re-run without --prune: %v", err)
			}
			dry := cfg
			dry.Prune, dry.DryRun = true, true
			progress.Reset()
			if _, err := Run(ctx, dry); err != nil {
				t.Fatalf("dry run with --prune: %v", err)
			}
			if !strings.Contains(progress.String(), "only in the target (to delete)") {
				t.Errorf("the dry run does not say what it would delete:\n%s", progress.String())
			}
			if n, _ := to.(store.Tables).CountRows(ctx, "publishers"); n != 2 {
				t.Errorf("the dry run deleted: %d publishers left, want 2", n)
			}

			pruned := cfg
			pruned.Prune = true
			progress.Reset()
			rep, err := Run(ctx, pruned)
			if err != nil {
				t.Fatalf("re-run with --prune: %v\n%s", err, progress.String())
			}
			if diff := cmp.Diff(dump(t, from), dump(t, to)); diff != "" {
				t.Errorf("after the pruning re-run (-source +target):\n%s", diff)
			}
			deleted := map[string]int64{}
			for _, tr := range rep.Tables {
				if tr.Deleted > 0 {
					deleted[tr.Table] = tr.Deleted
				}
				if tr.Target != tr.Source {
					t.Errorf("%s: %d rows in the target, %d in the source", tr.Table, tr.Target, tr.Source)
				}
			}
			want := map[string]int64{"files": 1, "publishers": 1, "tokens": 1, "oidc_replay": 1, "policies": 1}
			if diff := cmp.Diff(want, deleted); diff != "" {
				t.Errorf("deleted rows per table (-want +got):\n%s", diff)
			}
			if got, _ := to.Publishers().List(ctx, "local", "acme-tools"); len(got) != 0 {
				t.Errorf("the removed publisher survived the move: %+v", got)
			}
		})
	}
}
