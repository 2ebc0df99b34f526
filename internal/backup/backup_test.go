package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharf-dev/wharf/internal/blob/fsblob"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store/sqlstore"
)

// installation is a live embedded installation in a temporary directory.
type installation struct {
	dir   string
	st    *sqlstore.Store
	blobs *fsblob.Store
	repo  registry.Repository
	files map[string]string // filename -> content
}

func newInstallation(t *testing.T) *installation {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlstore.Open(ctx, sqlstore.Config{DSN: filepath.Join(dir, DatabaseName)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bs, err := fsblob.New(filepath.Join(dir, BlobsDir))
	if err != nil {
		t.Fatal(err)
	}
	in := &installation{dir: dir, st: st, blobs: bs, repo: registry.Repository{Name: "local", Kind: registry.Hosted}, files: map[string]string{}}
	if err := st.Repos().Create(ctx, &in.repo); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, KEKName), []byte("kek bytes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return in
}

// upload stores a file's blob and its row, as an upload does.
func (in *installation) upload(t *testing.T, version string) {
	t.Helper()
	ctx := context.Background()
	content := fmt.Sprintf("demo %s content %s", version, strings.Repeat("x", 1000))
	tmp, err := in.blobs.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(tmp, content)
	info, err := tmp.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := in.st.Projects().Ensure(ctx, registry.Project{RepoID: in.repo.ID, Name: "demo", DisplayName: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	name := "demo-" + version + ".tar.gz"
	f := registry.File{RepoID: in.repo.ID, ProjectID: p.ID, Filename: name, Version: version, Release: version,
		Filetype: registry.Sdist, PythonVersion: "source", Size: info.Size, SHA256: info.Key}
	if err := in.st.Files().Add(ctx, &f); err != nil {
		t.Fatal(err)
	}
	in.files[name] = content
}

// verify opens a restored data directory and checks it holds exactly want.
func verify(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, sqlstore.Config{DSN: filepath.Join(dir, DatabaseName)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	bs, err := fsblob.New(filepath.Join(dir, BlobsDir))
	if err != nil {
		t.Fatal(err)
	}
	repo, err := st.Repos().Get(ctx, "local")
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.Projects().Get(ctx, repo.ID, "demo")
	if err != nil {
		t.Fatal(err)
	}
	files, err := st.Files().ListByProject(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(want) {
		t.Errorf("restored %d files, want %d", len(files), len(want))
	}
	for _, f := range files {
		obj, err := bs.Open(ctx, f.SHA256)
		if err != nil {
			t.Errorf("%s: %v", f.Filename, err)
			continue
		}
		b, _ := io.ReadAll(obj)
		obj.Close()
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != f.SHA256 || string(b) != want[f.Filename] {
			t.Errorf("%s: restored content differs", f.Filename)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, KEKName)); err != nil || string(b) != "kek bytes\n" {
		t.Errorf("key-encryption key not restored: %q, %v", b, err)
	}
}

func TestBackupRestore(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"dir", "tar"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			in := newInstallation(t)
			for i := range 5 {
				in.upload(t, fmt.Sprintf("1.%d", i))
			}
			snapshot := map[string]string{}
			for k, v := range in.files {
				snapshot[k] = v
			}
			// A blob with no row (an upload in flight) is not copied.
			tmp, _ := in.blobs.Create(ctx)
			io.WriteString(tmp, "orphan")
			tmp.Commit(ctx)

			out := filepath.Join(t.TempDir(), "backup")
			if kind == "tar" {
				out += ".tar"
			}
			rep, err := Create(ctx, Config{Store: in.st, Blobs: in.blobs, KEKFile: filepath.Join(in.dir, KEKName)}, out)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if rep.Blobs != 5 || !rep.KEK {
				t.Errorf("report %+v: want 5 blobs and the KEK", rep.Manifest)
			}
			if _, err := os.Stat(out + partial); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s%s left behind: %v", out, partial, err)
			}
			// Uploads after the backup are not in it.
			in.upload(t, "2.0")

			if _, err := Create(ctx, Config{Store: in.st, Blobs: in.blobs}, out); err == nil {
				t.Error("a second backup over the first succeeded")
			}
			restored := filepath.Join(t.TempDir(), "restored")
			if _, err := Restore(ctx, out, restored, nil); err != nil {
				t.Fatalf("Restore: %v", err)
			}
			verify(t, restored, snapshot)
			if _, err := Restore(ctx, out, restored, nil); err == nil {
				t.Error("restoring into a non-empty directory succeeded")
			}
			if kind == "dir" {
				verify(t, out, snapshot) // a directory backup is a data directory
			}
		})
	}
}

// An interrupted backup (no manifest, or only the .partial name) is
// refused; so is a damaged one; and nothing is left in the target.
func TestRestoreRefusesIncompleteAndDamaged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	in := newInstallation(t)
	in.upload(t, "1.0")
	in.upload(t, "1.1")

	dir := filepath.Join(t.TempDir(), "b")
	if _, err := Create(ctx, Config{Store: in.st, Blobs: in.blobs}, dir); err != nil {
		t.Fatal(err)
	}
	tarFile := filepath.Join(t.TempDir(), "b.tar")
	if _, err := Create(ctx, Config{Store: in.st, Blobs: in.blobs}, tarFile); err != nil {
		t.Fatal(err)
	}
	full, err := os.ReadFile(tarFile)
	if err != nil {
		t.Fatal(err)
	}

	// Cut the tar as a kill -9 would, and keep its .partial name.
	cut := tarFile + ".cut" + partial
	os.WriteFile(cut, full[:len(full)/2], 0o600)
	// The same cut under a name without .partial (copied around).
	cutRenamed := filepath.Join(t.TempDir(), "renamed.tar")
	os.WriteFile(cutRenamed, full[:len(full)/2], 0o600)
	// A directory backup without its manifest.
	noManifest := filepath.Join(t.TempDir(), "nomanifest")
	os.CopyFS(noManifest, os.DirFS(dir))
	os.Remove(filepath.Join(noManifest, ManifestName))
	// A damaged blob inside a complete tar.
	damaged := filepath.Join(t.TempDir(), "damaged.tar")
	bad := []byte(strings.Replace(string(full), "demo 1.0 content", "demo 1.0 CONTENT", 1))
	os.WriteFile(damaged, bad, 0o600)

	for name, tc := range map[string]struct {
		from string
		want string
	}{
		"partial name":          {cut, "incomplete"},
		"missing, only partial": {tarFile + ".cut", "incomplete"},
		"cut tar":               {cutRenamed, "incomplete"},
		"no manifest":           {noManifest, "incomplete"},
		"damaged blob":          {damaged, "damaged"},
	} {
		target := filepath.Join(t.TempDir(), "target")
		_, err := Restore(ctx, tc.from, target, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Restore error %v, want %q", name, err, tc.want)
		}
		if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: target created after a refused restore", name)
		}
		if _, err := os.Stat(target + partial); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %s%s left behind", name, target, partial)
		}
	}
}
