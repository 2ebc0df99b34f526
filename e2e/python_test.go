package e2e

import (
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fixture copies testdata/<name> into a fresh directory with the version
// placeholder 0.0.0 replaced, so every upload in a test has its own
// filenames.
func fixture(t *testing.T, name, version string) string {
	t.Helper()
	src := filepath.Join("testdata", name)
	dst := filepath.Join(t.TempDir(), name)
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		b = []byte(strings.ReplaceAll(string(b), "0.0.0", version))
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatalf("copying fixture %s: %v", name, err)
	}
	return dst
}

// setMarker changes the wharf-demo module's MARKER line, so a rebuild of the
// same version produces files with the same names and other bytes.
func setMarker(t *testing.T, dir, marker string) {
	t.Helper()
	p := filepath.Join(dir, "src", "wharf_demo", "__init__.py")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), `MARKER = "original"`, `MARKER = "`+marker+`"`, 1)
	if s == string(b) {
		t.Fatalf("MARKER line not found in %s", p)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// buildDists builds an sdist and a wheel with the PEP 517 frontend, offline.
// --skip-dependency-check: Debian's hatchling 1.12 declares editables, which
// bookworm does not package and which only editable installs need.
func buildDists(t *testing.T, dir string) []string {
	t.Helper()
	py := python(t, "build", "hatchling")
	os.RemoveAll(filepath.Join(dir, "dist"))
	runCmd(t, cmdSpec{name: py, args: []string{"-m", "build", "--no-isolation", "--skip-dependency-check"}, dir: dir}).mustSucceed(t)
	return dists(t, dir)
}

// dists lists dir/dist/*, sorted, failing unless there is a wheel and an
// sdist.
func dists(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "dist", "*"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	var whl, sdist bool
	for _, f := range files {
		whl = whl || strings.HasSuffix(f, ".whl")
		sdist = sdist || strings.HasSuffix(f, ".tar.gz")
	}
	if !whl || !sdist {
		t.Fatalf("want a wheel and an sdist in %s/dist, got %v", dir, files)
	}
	return files
}

func basenames(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	slices.Sort(out)
	return out
}

// pipAccept is what pip 22.2+ sends for index pages: JSON preferred.
const pipAccept = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"

const simpleJSON = "application/vnd.pypi.simple.v1+json"

// projectPage is the PEP 691 JSON project page, the parts the tests read.
type projectPage struct {
	Name     string      `json:"name"`
	Versions []string    `json:"versions"`
	Files    []indexFile `json:"files"`
}

type indexFile struct {
	Filename string            `json:"filename"`
	URL      string            `json:"url"`
	Hashes   map[string]string `json:"hashes"`
	Size     int64             `json:"size"`
	Yanked   any               `json:"yanked"` // false, true or a reason string
}

func (p projectPage) filenames() []string {
	var out []string
	for _, f := range p.Files {
		out = append(out, f.Filename)
	}
	slices.Sort(out)
	return out
}

// projectJSON fetches /local/simple/<project>/ the way pip does and decodes
// it. A 404 (project unknown) returns an empty page and ok=false.
func (s *server) projectJSON(t *testing.T, project string) (page projectPage, ok bool) {
	t.Helper()
	req, err := http.NewRequest("GET", s.indexURL()+project+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", pipAccept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusNotFound {
		return projectPage{}, false
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", req.URL, resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, simpleJSON) {
		t.Fatalf("GET %s with pip's Accept: Content-Type %q, want %s", req.URL, ct, simpleJSON)
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatalf("GET %s: decoding JSON: %v\n%s", req.URL, err, body)
	}
	return page, true
}

// indexFilenames is the sorted list of files the index shows for project;
// nil when the project does not exist.
func (s *server) indexFilenames(t *testing.T, project string) []string {
	t.Helper()
	page, _ := s.projectJSON(t, project)
	return page.filenames()
}

// pipInstall installs req into a fresh target directory from indexURL only
// (never PyPI) and returns the directory.
func pipInstall(t *testing.T, indexURL, req string) (string, cmdResult) {
	t.Helper()
	py := python(t, "pip")
	target := filepath.Join(t.TempDir(), "target")
	r := runCmd(t, cmdSpec{name: py, args: []string{
		"-m", "pip", "install",
		"--disable-pip-version-check", "--no-cache-dir", "--no-input",
		"--index-url", indexURL, "--no-deps", "--target", target,
		req,
	}})
	return target, r
}

// installedVersion reads the version of an installed distribution from the
// name of its .dist-info directory under target.
func installedVersion(t *testing.T, target, distPrefix string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(target, distPrefix+"-*.dist-info"))
	if err != nil || len(m) != 1 {
		entries, _ := os.ReadDir(target)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("want one %s-*.dist-info in %s, found %v (dir: %v)", distPrefix, target, m, names)
	}
	base := strings.TrimSuffix(filepath.Base(m[0]), ".dist-info")
	return strings.TrimPrefix(base, distPrefix+"-")
}
