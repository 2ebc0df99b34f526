package e2e

import (
	"path/filepath"
	"slices"
	"testing"
)

// The publishing clients, as Debian bookworm ships them:
//   - flit 3.8.0: `flit publish` builds with flit_core and uploads; sdists
//     are named wharf-publish-X.tar.gz (not PEP 625's wharf_publish-X), and
//     it sends md5 and sha256 digests and metadata_version 2.3 hard-coded.
//     It follows redirects.
//   - poetry 1.3.2: `poetry build` uses poetry-core, not PEP 517, and would
//     create a virtualenv unless POETRY_VIRTUALENVS_CREATE=false; credentials
//     come from POETRY_HTTP_BASIC_<REPO>_USERNAME/PASSWORD.
//   - pdm 2.2.1: `pdm publish` builds with an isolated (online) build env,
//     so the test builds offline first and passes --no-build; pdm sends
//     empty strings for absent metadata, and writes .pdm.toml into the
//     project.
// Each test checks what the index shows afterwards, not only the exit code.

func TestFlitPublish(t *testing.T) {
	t.Parallel()
	flit := requireTool(t, "flit")
	s := startServer(t)
	const project, version = "wharf-publish", "2.0.0"
	token := s.scopedToken(t, project, "upload,read", "1h")
	dir := fixture(t, project, version)

	r := runCmd(t, cmdSpec{name: flit, args: []string{"publish"}, dir: dir, env: []string{
		"FLIT_INDEX_URL=" + s.uploadURL(),
		"FLIT_USERNAME=__token__",
		"FLIT_PASSWORD=" + token,
	}})
	r.mustSucceed(t)
	checkPublished(t, s, project, version, dists(t, dir))
}

func TestPoetryPublish(t *testing.T) {
	t.Parallel()
	poetry := requireTool(t, "poetry")
	s := startServer(t)
	const project, version = "wharf-publish", "3.0.0"
	token := s.scopedToken(t, project, "upload,read", "1h")
	dir := fixture(t, project, version)
	env := []string{
		"POETRY_REPOSITORIES_WHARF_URL=" + s.uploadURL(),
		"POETRY_HTTP_BASIC_WHARF_USERNAME=__token__",
		"POETRY_HTTP_BASIC_WHARF_PASSWORD=" + token,
		"POETRY_CACHE_DIR=" + filepath.Join(t.TempDir(), "poetry-cache"),
	}
	runCmd(t, cmdSpec{name: poetry, args: []string{"build", "--no-ansi", "-n"}, dir: dir, env: env}).mustSucceed(t)
	built := dists(t, dir)
	runCmd(t, cmdSpec{name: poetry, args: []string{"publish", "-r", "wharf", "--no-ansi", "-n"}, dir: dir, env: env}).mustSucceed(t)
	checkPublished(t, s, project, version, built)
}

func TestPdmPublish(t *testing.T) {
	t.Parallel()
	pdm := requireTool(t, "pdm")
	s := startServer(t)
	const project, version = "wharf-demo", "4.0.0"
	token := s.scopedToken(t, project, "upload,read", "1h")
	dir := fixture(t, project, version)
	built := buildDists(t, dir)
	r := runCmd(t, cmdSpec{name: pdm, args: []string{"publish", "--no-build",
		"-r", s.uploadURL(), "-u", "__token__", "-P", token}, dir: dir, env: []string{
		// Without these pdm 2.2 first creates a virtualenv in the
		// project (about 6 s) that publishing never uses.
		"PDM_USE_VENV=false",
		"PDM_PYTHON=" + python(t, "pip"),
	}})
	r.mustSucceed(t)
	checkPublished(t, s, project, version, built)
}

// checkPublished asserts the index lists exactly the built files, with their
// sha256 and size, under the one version built.
func checkPublished(t *testing.T, s *server, project, version string, built []string) {
	t.Helper()
	page, ok := s.projectJSON(t, project)
	if !ok {
		t.Fatalf("%s not in the index after publishing %v", project, basenames(built))
	}
	got, want := page.filenames(), basenames(built)
	if !slices.Equal(got, want) {
		t.Fatalf("index lists %v, want %v", got, want)
	}
	for _, f := range built {
		checkIndexedFile(t, s, page, f)
	}
	if !slices.Equal(page.Versions, []string{version}) {
		t.Errorf("versions %v, want [%s]", page.Versions, version)
	}
}
