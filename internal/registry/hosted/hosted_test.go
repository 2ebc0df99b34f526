package hosted_test

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/blob"
	"github.com/wharf-dev/wharf/internal/blob/fsblob"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/hosted"
	"github.com/wharf-dev/wharf/internal/store"
	"github.com/wharf-dev/wharf/internal/store/sqlstore"
)

type env struct {
	svc   *hosted.Service
	st    store.Store
	blobs blob.Store
	repo  registry.Repository
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlstore.Open(t.Context(), sqlstore.Config{Driver: "sqlite", DSN: filepath.Join(dir, "wharf.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	repo := registry.Repository{Name: "local", Kind: registry.Hosted, Public: true}
	if err := st.Repos().Create(t.Context(), &repo); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	svc := hosted.New(hosted.Config{Store: st, Blobs: bs, Now: func() time.Time { return now }, MaxFileSize: 1 << 20})
	return &env{svc: svc, st: st, blobs: bs, repo: repo}
}

// wheel builds a minimal valid wheel. extra adds bytes so two wheels with
// the same name can differ.
func wheel(t *testing.T, name, version, extra string) (string, []byte) {
	t.Helper()
	dist := strings.ReplaceAll(name, "-", "_")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(path, body string) {
		w, err := zw.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(w, body)
	}
	info := dist + "-" + version + ".dist-info/"
	add(dist+"/__init__.py", "# "+extra+"\n")
	add(info+"METADATA", "Metadata-Version: 2.1\nName: "+name+"\nVersion: "+version+"\nRequires-Python: >=3.8\n\n")
	add(info+"WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
	add(info+"RECORD", "")
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return dist + "-" + version + "-py3-none-any.whl", buf.Bytes()
}

func (e *env) upload(t *testing.T, filename string, content []byte, fields map[string][]string) (hosted.UploadResult, error) {
	t.Helper()
	tmp, err := e.blobs.Create(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Abort()
	if _, err := tmp.Write(content); err != nil {
		t.Fatal(err)
	}
	return e.svc.Upload(t.Context(), &hosted.Upload{Repo: e.repo, Fields: fields, Filename: filename, Content: tmp, Actor: "test"})
}

func form(name, version string, content []byte) map[string][]string {
	sum := sha256.Sum256(content)
	return map[string][]string{
		":action": {"file_upload"}, "protocol_version": {"1"}, "metadata_version": {"2.1"},
		"name": {name}, "version": {version}, "filetype": {"bdist_wheel"}, "pyversion": {"py3"},
		"sha256_digest": {hex.EncodeToString(sum[:])},
	}
}

func TestUploadAndDuplicates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fn, body := wheel(t, "demo-pkg", "1.0", "a")
	res, err := e.upload(t, fn, body, form("Demo_Pkg", "1.0", body))
	if err != nil {
		t.Fatalf("first upload: %v", err)
	}
	if !res.ProjectCreated || res.Existed || res.File.MetadataSHA256 == "" || res.File.RequiresPython != ">=3.8" {
		t.Errorf("first upload result = %+v", res)
	}
	// Byte-identical re-upload: a no-op success.
	res, err = e.upload(t, fn, body, form("demo-pkg", "1.0", body))
	if err != nil || !res.Existed {
		t.Fatalf("identical re-upload = %+v, %v; want Existed", res, err)
	}
	// Same filename, other bytes: PyPI's "File already exists".
	_, other := wheel(t, "demo-pkg", "1.0", "b")
	_, err = e.upload(t, fn, other, form("demo-pkg", "1.0", other))
	if !errs.Is(err, errs.Invalid) || !strings.HasPrefix(errs.Message(err), "File already exists") {
		t.Fatalf("conflicting re-upload error = %v", err)
	}
	// Deleted filenames cannot be reused.
	if _, err := e.svc.Delete(t.Context(), hosted.Target{Repo: e.repo, Project: "demo-pkg", Version: "1.0", Filename: fn}); err != nil {
		t.Fatal(err)
	}
	_, err = e.upload(t, fn, body, form("demo-pkg", "1.0", body))
	if !errs.Is(err, errs.Invalid) || !strings.Contains(errs.Message(err), "previously used") {
		t.Fatalf("reuse after delete error = %v", err)
	}
}

func TestUploadRefusals(t *testing.T) {
	t.Parallel()
	fn, body := wheel(t, "demo", "1.0", "")
	for _, tt := range []struct {
		name     string
		filename string
		content  []byte
		edit     func(map[string][]string)
		want     string
	}{
		{"wrong sha256", fn, body, func(f map[string][]string) { f["sha256_digest"] = []string{strings.Repeat("0", 64)} }, "digest supplied does not match"},
		{"no digest", fn, body, func(f map[string][]string) { delete(f, "sha256_digest") }, "at least one message digest"},
		{"unknown filetype", fn, body, func(f map[string][]string) { f["filetype"] = []string{"bdist_egg"} }, "Unknown filetype"},
		{"name mismatch", fn, body, func(f map[string][]string) { f["name"] = []string{"other"} }, "Start filename for 'other'"},
		{"version mismatch", fn, body, func(f map[string][]string) { f["version"] = []string{"2.0"} }, "Version in filename should be"},
		{"local version", fn, body, func(f map[string][]string) { f["version"] = []string{"1.0+local"} }, "Local versions"},
		{"traversal", "../" + fn, body, nil, "'/'"},
		{"backslash", `..\` + fn, body, nil, `'\'`},
		{"control char", "demo-1.0-py3-none-any\x01.whl", body, nil, "non-printable"},
		{"not a zip", fn, []byte("this is not a zip file"), nil, "zip"},
		{"empty", fn, nil, nil, "empty"},
		{"sdist filetype with wheel", fn, body, func(f map[string][]string) { f["filetype"] = []string{"sdist"}; f["pyversion"] = nil }, "extension"},
		{"bad protocol", fn, body, func(f map[string][]string) { f["protocol_version"] = []string{"2"} }, "Unknown protocol version"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			f := form("demo", "1.0", tt.content)
			if tt.edit != nil {
				tt.edit(f)
			}
			_, err := e.upload(t, tt.filename, tt.content, f)
			if err == nil || !strings.Contains(errs.Message(err), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
			if errs.KindOf(err) != errs.Invalid {
				t.Errorf("kind = %v, want Invalid", errs.KindOf(err))
			}
			// Nothing is left behind: no project, no blob.
			if l, err := e.svc.ProjectList(t.Context(), e.repo); err != nil || len(l.Projects) != 0 {
				t.Errorf("projects after refusal = %+v, %v", l.Projects, err)
			}
			for info, err := range e.blobs.List(t.Context()) {
				t.Errorf("blob left behind: %+v %v", info, err)
			}
		})
	}
}

func TestAuthorizeRunsBeforeAnythingIsStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fn, body := wheel(t, "demo", "1.0", "")
	tmp, _ := e.blobs.Create(t.Context())
	defer tmp.Abort()
	tmp.Write(body)
	denied := errs.E(errs.PermissionDenied, "test", errors.New("no"))
	var asked string
	_, err := e.svc.Upload(t.Context(), &hosted.Upload{
		Repo: e.repo, Fields: form("Demo", "1.0", body), Filename: fn, Content: tmp,
		Authorize: func(p string) error { asked = p; return denied },
	})
	if !errors.Is(err, denied) || asked != "demo" {
		t.Fatalf("err = %v, asked for %q", err, asked)
	}
	if _, err := e.st.Projects().Get(t.Context(), e.repo.ID, "demo"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("project exists after refused upload: %v", err)
	}
}

func TestProjectPageOrderAndYank(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, v := range []string{"1.10", "1.9", "1.0rc1", "1.0", "2.0.dev1"} {
		fn, body := wheel(t, "demo", v, "")
		if _, err := e.upload(t, fn, body, form("demo", v, body)); err != nil {
			t.Fatalf("upload %s: %v", v, err)
		}
	}
	gen := e.svc.Generation(e.repo.ID)
	if _, err := e.svc.SetYanked(t.Context(), hosted.Target{Repo: e.repo, Project: "Demo", Version: "1.9", Reason: "broken", Actor: "t"}, true); err != nil {
		t.Fatal(err)
	}
	if e.svc.Generation(e.repo.ID) == gen {
		t.Error("yank did not change the repository generation")
	}
	p, err := e.svc.ProjectPage(t.Context(), e.repo, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"1.0rc1", "1.0", "1.9", "1.10", "2.0.dev1"}, p.Versions); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
	for _, f := range p.Files {
		if want := f.Version == "1.9"; f.Yanked != want || (want && f.YankedReason != "broken") {
			t.Errorf("%s: yanked=%v reason=%q", f.Filename, f.Yanked, f.YankedReason)
		}
		if !strings.HasPrefix(f.URL, "../../files/"+f.SHA256+"/") {
			t.Errorf("%s: URL %q", f.Filename, f.URL)
		}
	}
	events, err := e.st.Audit().List(t.Context(), store.AuditFilter{Repo: "local", Action: "release.yank"})
	if err != nil || len(events) != 1 || events[0].Action != "release.yank" || events[0].Detail["reason"] != "broken" {
		t.Errorf("audit = %+v, %v", events, err)
	}
}

func TestUploadTooLarge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fn, _ := wheel(t, "demo", "1.0", "")
	body := bytes.Repeat([]byte("x"), 2<<20) // over the 1 MiB limit; the size is checked first
	_, err := e.upload(t, fn, body, form("demo", "1.0", body))
	if errs.KindOf(err) != errs.TooLarge {
		t.Fatalf("err = %v, want TooLarge", err)
	}
}
