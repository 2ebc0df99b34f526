package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// twineUpload runs Debian's twine (4.0.2 in bookworm). Quirks: twine puts
// only the status line in its error unless --verbose, which prints the
// response body (Go cannot send PyPI's custom reason phrases), and it
// refuses redirects on upload.
func twineUpload(t *testing.T, s *server, token string, files []string, extra ...string) cmdResult {
	t.Helper()
	twine := requireTool(t, "twine")
	args := append([]string{"upload", "--non-interactive", "--verbose", "--disable-progress-bar",
		"--repository-url", s.uploadURL(), "-u", "__token__", "-p", token}, extra...)
	return runCmd(t, cmdSpec{name: twine, args: append(args, files...)})
}

// TestTwineUploadPipInstall is the main publishing path: build with the
// PEP 517 frontend, upload with twine, duplicate handling as twine
// understands it, then install with pip from both index formats.
func TestTwineUploadPipInstall(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	const project, version = "wharf-demo", "1.0.0"
	token := s.scopedToken(t, project, "upload,read", "1h")

	dir := fixture(t, project, version)
	files := buildDists(t, dir)
	want := basenames(files)

	twineUpload(t, s, token, files).mustSucceed(t)
	if diff := cmp.Diff(want, s.indexFilenames(t, project)); diff != "" {
		t.Fatalf("index after twine upload (-want +got):\n%s", diff)
	}

	// Same bytes again: 200 from the server, so twine succeeds with and
	// without --skip-existing.
	twineUpload(t, s, token, files, "--skip-existing").mustSucceed(t)
	twineUpload(t, s, token, files).mustSucceed(t)

	// Same filenames, other bytes (built in a second copy, so files keeps
	// the original bytes): refused, and twine must show why.
	other := fixture(t, project, version)
	setMarker(t, other, "changed")
	changed := buildDists(t, other)
	if diff := cmp.Diff(want, basenames(changed)); diff != "" {
		t.Fatalf("rebuild changed the filenames (-want +got):\n%s", diff)
	}
	r := twineUpload(t, s, token, changed)
	r.mustFail(t)
	if !strings.Contains(r.output(), "File already exists") {
		t.Errorf("twine output does not show %q:\n%s", "File already exists", r)
	}
	// --skip-existing recognises the refusal (400 + "already exist").
	twineUpload(t, s, token, changed, "--skip-existing").mustSucceed(t)

	page, _ := s.projectJSON(t, project)
	if diff := cmp.Diff(want, page.filenames()); diff != "" {
		t.Fatalf("index after duplicate uploads (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{version}, page.Versions); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
	// The index must still describe the original bytes, not the refused ones.
	for _, f := range files {
		checkIndexedFile(t, s, page, f)
	}

	// pip negotiates JSON by default (projectJSON checked that the server
	// answers JSON to exactly pip's Accept header).
	target, r := pipInstall(t, s.indexURL(), project+"=="+version)
	r.mustSucceed(t)
	checkInstalled(t, target, version, "original")

	// The HTML form: pip cannot be told to ask for it, so a proxy rewrites
	// pip's Accept header to text/html and pip installs from the HTML page.
	htmlPage := fetch(t, s.indexURL()+project+"/", "text/html")
	if ct := htmlPage.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") && !strings.HasPrefix(ct, "application/vnd.pypi.simple.v1+html") {
		t.Errorf("Accept: text/html answered with Content-Type %q", ct)
	}
	for _, name := range want {
		if !strings.Contains(htmlPage.body, ">"+name+"</a>") {
			t.Errorf("HTML page has no link for %s:\n%s", name, htmlPage.body)
		}
	}
	proxy := htmlOnlyProxy(t, s.URL)
	target, r = pipInstall(t, proxy.URL+"/local/simple/", project+"=="+version)
	r.mustSucceed(t)
	checkInstalled(t, target, version, "original")
	if got := proxy.contentTypes(); !strings.Contains(got, "html") || strings.Contains(got, "json") {
		t.Errorf("proxied index pages had Content-Types %q, want HTML only", got)
	}
}

// checkIndexedFile compares the index entry of a local file with its bytes,
// and downloads the file through the URL the index gives.
func checkIndexedFile(t *testing.T, s *server, page projectPage, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(path)
	for _, f := range page.Files {
		if f.Filename != name {
			continue
		}
		sum := sha256hex(b)
		if f.Hashes["sha256"] != sum {
			t.Errorf("%s: index sha256 %s, want %s", name, f.Hashes["sha256"], sum)
		}
		if f.Size != int64(len(b)) {
			t.Errorf("%s: index size %d, want %d", name, f.Size, len(b))
		}
		u, err := url.Parse(s.indexURL() + page.Name + "/")
		if err != nil {
			t.Fatal(err)
		}
		ref, err := u.Parse(f.URL)
		if err != nil {
			t.Fatalf("%s: bad url %q: %v", name, f.URL, err)
		}
		got := fetch(t, ref.String(), "*/*")
		if got.status != http.StatusOK || got.body != string(b) {
			t.Errorf("%s: GET %s: %d, %d bytes; want 200 and the uploaded %d bytes", name, ref, got.status, len(got.body), len(b))
		}
		return
	}
	t.Errorf("%s not in the index", name)
}

// checkInstalled checks pip put the package's module into target.
func checkInstalled(t *testing.T, target, version, marker string) {
	t.Helper()
	if got := installedVersion(t, target, "wharf_demo"); got != version {
		t.Errorf("installed version %s, want %s", got, version)
	}
	b, err := os.ReadFile(filepath.Join(target, "wharf_demo", "__init__.py"))
	if err != nil {
		t.Fatalf("pip did not install the module: %v", err)
	}
	for _, want := range []string{`__version__ = "` + version + `"`, `MARKER = "` + marker + `"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("installed module lacks %s:\n%s", want, b)
		}
	}
}

type fetched struct {
	status int
	Header http.Header
	body   string
}

func fetch(t *testing.T, u, accept string) fetched {
	t.Helper()
	return fetchAs(t, u, accept, "")
}

// fetchAs is fetch with an API token ("" for none).
func fetchAs(t *testing.T, u, accept, token string) fetched {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", accept)
	if token != "" {
		req.SetBasicAuth("__token__", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", u, err)
	}
	return fetched{status: resp.StatusCode, Header: resp.Header, body: string(b)}
}

// recordingProxy forwards to wharf with Accept forced to text/html on index
// pages, and remembers the Content-Types it saw on them.
type recordingProxy struct {
	*httptest.Server
	seen *logBuffer
}

func (p recordingProxy) contentTypes() string { return p.seen.tail(1 << 20) }

func htmlOnlyProxy(t *testing.T, upstream string) recordingProxy {
	t.Helper()
	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	seen := &logBuffer{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			if strings.Contains(r.In.URL.Path, "/simple/") {
				r.Out.Header.Set("Accept", "text/html")
			}
		},
		ModifyResponse: func(resp *http.Response) error {
			if strings.Contains(resp.Request.URL.Path, "/simple/") {
				seen.Write([]byte(resp.Header.Get("Content-Type") + ";"))
			}
			return nil
		},
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return recordingProxy{Server: srv, seen: seen}
}
