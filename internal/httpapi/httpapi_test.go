package httpapi_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/blob"
	"github.com/wharf-dev/wharf/internal/blob/fsblob"
	"github.com/wharf-dev/wharf/internal/httpapi"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/catalog"
	"github.com/wharf-dev/wharf/internal/registry/hosted"
	"github.com/wharf-dev/wharf/internal/store/sqlstore"
)

type env struct {
	api       *httpapi.Server
	downloads *catalog.Counter
	reg       *prometheus.Registry
	srv       *httptest.Server
	upload    string // token with upload+read on local
	other     string // token for another project only
	reader    string // read-only token on "private"
	demo      string // read-only token on project demo of "private"
	demos     string // read-only token on projects demo* of "private"
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, envOptions{})
}

// envOptions change newEnv's server.
type envOptions struct {
	// wrap, when set, wraps the blob store (to inject storage failures).
	wrap func(blob.Store) blob.Store
	// config, when set, edits the server's configuration.
	config func(*httpapi.Config)
}

func newEnvWith(t testing.TB, o envOptions) *env {
	t.Helper()
	dir := t.TempDir()
	ctx := t.Context()
	st, err := sqlstore.Open(ctx, sqlstore.Config{Driver: "sqlite", DSN: filepath.Join(dir, "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var bs blob.Store
	bs, err = fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	if o.wrap != nil {
		bs = o.wrap(bs)
	}
	for _, r := range []registry.Repository{{Name: "local", Kind: registry.Hosted, Public: true}, {Name: "private", Kind: registry.Hosted}} {
		if err := st.Repos().Create(ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	au := auth.New(auth.Config{Tokens: st.Tokens()})
	mint := func(sc registry.Scope) string {
		s, _, err := au.Mint(ctx, auth.MintRequest{Scope: sc})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	h := hosted.New(hosted.Config{Store: st, Blobs: bs, MaxFileSize: 1 << 20})
	reg := prometheus.NewRegistry()
	downloads := catalog.NewCounter(catalog.CounterConfig{Store: st.Downloads()})
	cfg := httpapi.Config{Repos: st.Repos(), Hosted: h, Catalog: catalog.New(catalog.Config{Store: st}), Downloads: downloads, Blobs: bs, Auth: au, MaxFileSize: 1 << 20, Metrics: reg, Gatherer: reg}
	if o.config != nil {
		o.config(&cfg)
	}
	api := httpapi.New(cfg)
	e := &env{
		api:       api,
		downloads: downloads,
		reg:       reg,
		srv:       httptest.NewServer(api.Handler()),
		upload:    mint(registry.Scope{Actions: []registry.Action{registry.Upload, registry.Read}}),
		other:     mint(registry.Scope{Projects: []string{"other"}, Actions: []registry.Action{registry.Upload}}),
		reader:    mint(registry.Scope{Repos: []string{"private"}, Actions: []registry.Action{registry.Read}}),
		demo:      mint(registry.Scope{Repos: []string{"private"}, Projects: []string{"demo"}, Actions: []registry.Action{registry.Read}}),
		demos:     mint(registry.Scope{Repos: []string{"private"}, Projects: []string{"demo*"}, Actions: []registry.Action{registry.Read}}),
	}
	t.Cleanup(e.srv.Close)
	return e
}

func wheel(t testing.TB, name, version string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	info := name + "-" + version + ".dist-info/"
	for path, body := range map[string]string{
		info + "METADATA": "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\nRequires-Python: >=3.8\n\n",
		info + "WHEEL":    "Wheel-Version: 1.0\nTag: py3-none-any\n",
		info + "RECORD":   "",
	} {
		w, _ := zw.Create(path)
		io.WriteString(w, body)
	}
	zw.Close()
	return name + "-" + version + "-py3-none-any.whl", buf.Bytes()
}

// uploadBody builds the multipart form twine sends.
func uploadBody(t testing.TB, name, version, filename string, content []byte, edit func(map[string]string)) (string, []byte) {
	t.Helper()
	sum := sha256.Sum256(content)
	fields := map[string]string{
		":action": "file_upload", "protocol_version": "1", "metadata_version": "2.1", "name": name,
		"version": version, "filetype": "bdist_wheel", "pyversion": "py3", "sha256_digest": hex.EncodeToString(sum[:]),
	}
	if edit != nil {
		edit(fields)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	// Raw header, so hostile filenames reach the server unchanged.
	part, _ := mw.CreatePart(map[string][]string{"Content-Disposition": {fmt.Sprintf(`form-data; name="content"; filename=%q`, filename)}})
	part.Write(content)
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

func (e *env) post(t testing.TB, repo, token, ctype string, body []byte) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+"/"+repo+"/legacy/", bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	if token != "" {
		req.SetBasicAuth("__token__", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (e *env) get(t *testing.T, path string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultTransport.RoundTrip(req) // no redirects followed
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestUploadServeDownload(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fn, content := wheel(t, "demo", "1.0")
	ct, body := uploadBody(t, "Demo", "1.0", fn, content, nil)
	if resp := e.post(t, "local", e.upload, ct, body); resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("upload: %s %s", resp.Status, b)
	}
	// The slash-less form is served too, not redirected.
	if resp := e.post(t, "local", e.upload, ct, body); resp.StatusCode != 200 {
		t.Fatalf("re-upload: %s", resp.Status)
	}

	pip := map[string]string{"Accept": "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"}
	resp, page := e.get(t, "/local/simple/demo/", pip)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.pypi.simple.v1+json" || resp.Header.Get("Vary") != "Accept, Accept-Encoding" {
		t.Fatalf("JSON page: %s %v", resp.Status, resp.Header)
	}
	var doc struct {
		Files []struct {
			URL          string            `json:"url"`
			Hashes       map[string]string `json:"hashes"`
			CoreMetadata map[string]string `json:"core-metadata"`
		} `json:"files"`
	}
	if err := json.Unmarshal([]byte(page), &doc); err != nil || len(doc.Files) != 1 {
		t.Fatalf("JSON page %q: %v", page, err)
	}
	etag := resp.Header.Get("Etag")
	if resp, _ := e.get(t, "/local/simple/demo/", map[string]string{"Accept": pip["Accept"], "If-None-Match": etag}); resp.StatusCode != 304 {
		t.Errorf("conditional GET: %s, want 304", resp.Status)
	}
	if resp, html := e.get(t, "/local/simple/demo/", map[string]string{"Accept": "text/html"}); resp.StatusCode != 200 || !strings.Contains(html, "data-requires-python=\"&gt;=3.8\"") {
		t.Errorf("HTML page: %s %q", resp.Status, html)
	}
	if resp, _ := e.get(t, "/local/simple/demo/?format=application/vnd.pypi.simple.v1+json", nil); resp.Header.Get("Content-Type") != "application/vnd.pypi.simple.v1+json" {
		t.Errorf("?format= ignored: %v", resp.Header.Get("Content-Type"))
	}
	if resp, _ := e.get(t, "/local/simple/demo/", map[string]string{"Accept": "image/png"}); resp.StatusCode != 406 {
		t.Errorf("unacceptable Accept: %s, want 406", resp.Status)
	}
	if resp, _ := e.get(t, "/local/simple/Demo/?x=1", nil); resp.StatusCode != 301 || resp.Header.Get("Location") != "/local/simple/demo/?x=1" {
		t.Errorf("non-normalised name: %s Location %q", resp.Status, resp.Header.Get("Location"))
	}
	if resp, _ := e.get(t, "/local/simple/nothing/", nil); resp.StatusCode != 404 {
		t.Errorf("missing project: %s", resp.Status)
	}

	// Files resolve relative to the page; Range and the metadata file work.
	fileURL := "/local/simple/demo/" + doc.Files[0].URL
	resp, got := e.get(t, "/local/files/"+strings.SplitN(strings.TrimPrefix(doc.Files[0].URL, "../../files/"), "/", 2)[0]+"/"+fn, map[string]string{"Range": "bytes=0-3"})
	if resp.StatusCode != 206 || got != string(content[:4]) {
		t.Errorf("range: %s %q (page URL %s)", resp.Status, got, fileURL)
	}
	sha := doc.Files[0].Hashes["sha256"]
	resp, meta := e.get(t, "/local/files/"+sha+"/"+fn+".metadata", nil)
	msum := sha256.Sum256([]byte(meta))
	if resp.StatusCode != 200 || hex.EncodeToString(msum[:]) != doc.Files[0].CoreMetadata["sha256"] {
		t.Errorf("metadata: %s, hash mismatch %q", resp.Status, meta)
	}
	if resp, _ := e.get(t, "/local/files/"+strings.Repeat("0", 64)+"/"+fn, nil); resp.StatusCode != 404 {
		t.Errorf("wrong hash in URL: %s, want 404", resp.Status)
	}
}

func TestUploadErrorsCarryTheMessageInTheStatusLine(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fn, content := wheel(t, "demo", "1.0")
	ct, body := uploadBody(t, "demo", "1.0", fn, content, func(f map[string]string) { f["sha256_digest"] = strings.Repeat("ab", 32) })
	resp := e.post(t, "local", e.upload, ct, body)
	if resp.StatusCode != 400 || !strings.Contains(resp.Status, "digest supplied does not match") {
		t.Errorf("status line = %q", resp.Status)
	}
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), "digest supplied does not match") {
		t.Errorf("body = %q", b)
	}
}

func TestUploadRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fn, content := wheel(t, "demo", "1.0")
	ct, body := uploadBody(t, "demo", "1.0", fn, content, nil)
	bigCT, big := uploadBody(t, "demo", "1.0", fn, bytes.Repeat([]byte("x"), 3<<20), nil)
	hugeCT, huge := uploadBody(t, "demo", "1.0", fn, content, func(f map[string]string) { f["description"] = strings.Repeat("d", 5<<20) })
	// Cut exactly between two parts: multipart alone would see a clean end.
	boundary := ct[strings.Index(ct, "boundary=")+len("boundary="):]
	between := body[:bytes.Index(body[10:], []byte("--"+boundary))+10]
	for _, tt := range []struct {
		name, repo, token string
		ctype             string
		body              []byte
		status            int
		want              string
	}{
		{"no token", "local", "", ct, body, 401, "authentication"},
		{"bad token", "local", "wharf_aaaaaaaaaaaaaaaa_" + strings.Repeat("b", 43), ct, body, 401, "invalid or expired token"},
		{"other project", "local", e.other, ct, body, 403, "project 'demo'"},
		{"read-only token", "private", e.reader, ct, body, 403, "'upload' permission"},
		{"unknown repo", "nope", e.upload, ct, body, 404, "does not exist"},
		{"not multipart", "local", e.upload, "application/json", []byte("{}"), 400, "multipart"},
		{"truncated", "local", e.upload, ct, body[:len(body)/2], 400, "truncated"},
		{"cut between parts", "local", e.upload, ct, between, 400, "truncated"},
		{"too large", "local", e.upload, bigCT, big, 413, "too large"},
		{"oversized field", "local", e.upload, hugeCT, huge, 413, "form field 'description' is larger"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.post(t, tt.repo, tt.token, tt.ctype, tt.body)
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(strings.ToLower(string(b)), strings.ToLower(tt.want)) {
				t.Errorf("%s: %q, want %d containing %q", resp.Status, b, tt.status, tt.want)
			}
		})
	}
	if _, page := e.get(t, "/local/simple/", nil); strings.Contains(page, "demo") {
		t.Errorf("refused uploads left a project: %q", page)
	}
}

// TestHijackedRefusalsAreCountedWithTheirStatus: refusals written on the
// hijacked connection (after the form was read) are counted in
// wharf_http_requests_total with the status the client got, not as 400.
func TestHijackedRefusalsAreCountedWithTheirStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fn, content := wheel(t, "demo", "1.0")
	ct, body := uploadBody(t, "demo", "1.0", fn, content, nil)
	sent := map[string]int{}
	for _, token := range []string{e.other, e.upload, e.upload} { // 403 after the form, 200, 400 (exists)
		resp := e.post(t, "local", token, ct, body)
		io.Copy(io.Discard, resp.Body)
		sent[fmt.Sprint(resp.StatusCode)]++
	}
	if sent["403"] != 1 {
		t.Fatalf("statuses sent: %v, want one 403", sent)
	}
	families, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counted := map[string]int{}
	for _, f := range families {
		if f.GetName() != "wharf_http_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if strings.Contains(labels["route"], "legacy") {
				counted[labels["code"]] += int(m.GetCounter().GetValue())
			}
		}
	}
	if fmt.Sprint(counted) != fmt.Sprint(sent) {
		t.Errorf("wharf_http_requests_total by code = %v, want the statuses sent %v", counted, sent)
	}
}

func TestPrivateRepository(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	resp, _ := e.get(t, "/private/simple/", nil)
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("anonymous: %s %v", resp.Status, resp.Header)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/private/simple/", nil)
	req.SetBasicAuth("__token__", e.reader)
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != 200 {
		t.Errorf("with read token: %s", r2.Status)
	}
	req.SetBasicAuth("__token__", e.other)
	r3, _ := http.DefaultClient.Do(req)
	r3.Body.Close()
	if r3.StatusCode != 403 {
		t.Errorf("with a token for another repository's project: %s", r3.Status)
	}
}

// TestTruncatedConnection closes the connection in the middle of the body:
// the server must not store anything and must keep serving.
func TestTruncatedConnection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fn, content := wheel(t, "demo", "1.0")
	ct, body := uploadBody(t, "demo", "1.0", fn, content, nil)
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(conn)
	fmt.Fprintf(w, "POST /local/legacy/ HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n", ct, len(body))
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth("__token__", e.upload)
	fmt.Fprintf(w, "Authorization: %s\r\n\r\n", req.Header.Get("Authorization"))
	w.Write(body[:len(body)*2/3])
	w.Flush()
	conn.Close()
	if resp, page := e.get(t, "/local/simple/", nil); resp.StatusCode != 200 || strings.Contains(page, "demo") {
		t.Errorf("after a cut connection: %s %q", resp.Status, page)
	}
}

// TestPrivateRootListsOnlyTheTokensProjects: a token limited to some
// projects of a private repository sees only those on the root page.
func TestPrivateRootListsOnlyTheTokensProjects(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, name := range []string{"demo", "hidden"} {
		fn, content := wheel(t, name, "1.0")
		ct, body := uploadBody(t, name, "1.0", fn, content, nil)
		if resp := e.post(t, "private", e.upload, ct, body); resp.StatusCode != 200 {
			t.Fatalf("upload %s: %s", name, resp.Status)
		}
	}
	root := func(token string) string {
		req, _ := http.NewRequest("GET", e.srv.URL+"/private/simple/", nil)
		req.SetBasicAuth("__token__", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("root: %s %s", resp.Status, b)
		}
		return string(b)
	}
	// The full listing first, so a cached page exists that must not leak.
	if page := root(e.reader); !strings.Contains(page, "hidden") || !strings.Contains(page, "demo") {
		t.Fatalf("repository-wide token: %q", page)
	}
	page := root(e.demo)
	if !strings.Contains(page, ">demo<") || strings.Contains(page, "hidden") {
		t.Errorf("project-limited token sees %q", page)
	}
}
