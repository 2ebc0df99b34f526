package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
)

func basic(token string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte("__token__:"+token))
}

func (e *env) uploadWheel(t *testing.T, repo, name, version string) {
	t.Helper()
	fn, body := wheel(t, name, version)
	ct, form := uploadBody(t, name, version, fn, body, nil)
	if resp := e.post(t, repo, e.upload, ct, form); resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("upload %s %s: %d %s", name, version, resp.StatusCode, b)
	}
}

// jsonType names a JSON value's type for the shape comparison.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	default:
		return "object"
	}
}

// nullable are keys PyPI sends as null or as a value, depending on the
// release's metadata.
var nullable = map[string]bool{
	"description_content_type": true, "dynamic": true, "license_expression": true, "license_files": true,
	"platform": true, "project_urls": true, "provides_extra": true, "requires_dist": true, "requires_python": true,
	"yanked_reason": true, "core-metadata": true,
}

// sameShape compares got with the documented example key by key: the same
// keys (wharf's namespaced extensions aside) with the same JSON types.
func sameShape(t *testing.T, path string, want, got map[string]any) {
	t.Helper()
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s.%s: missing", path, k)
			continue
		}
		wt, gt := jsonType(want[k]), jsonType(g)
		if wt != gt && !(nullable[k] && (wt == "null" || gt == "null" || k == "core-metadata")) {
			t.Errorf("%s.%s: type %s, PyPI's is %s", path, k, gt, wt)
			continue
		}
		if wm, ok := want[k].(map[string]any); ok && k != "project_urls" && k != "releases" && k != "core-metadata" {
			sameShape(t, path+"."+k, wm, g.(map[string]any))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok && !strings.HasPrefix(k, "wharf:") && path != "releases" && path != ".releases" {
			t.Errorf("%s.%s: not in PyPI's shape", path, k)
		}
	}
}

func TestPyPIJSONConformance(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.uploadWheel(t, "local", "demo", "1.0")
	e.uploadWheel(t, "local", "demo", "2.0")

	raw, err := os.ReadFile("testdata/pypi-json-example.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	resp, body := e.get(t, "/local/pypi/demo/json", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET json: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	sameShape(t, "", want, got)
	file := func(m map[string]any, key string) map[string]any {
		return m[key].([]any)[0].(map[string]any)
	}
	sameShape(t, "urls[0]", file(want, "urls"), file(got, "urls"))
	sameShape(t, "releases[4.0.0][0]", want["releases"].(map[string]any)["4.0.0"].([]any)[0].(map[string]any),
		got["releases"].(map[string]any)["2.0"].([]any)[0].(map[string]any))

	info := got["info"].(map[string]any)
	if info["name"] != "demo" || info["version"] != "2.0" || info["requires_python"] != ">=3.8" {
		t.Errorf("info = %v", info)
	}
	u := file(got, "urls")
	if u["filename"] != "demo-2.0-py3-none-any.whl" || !strings.HasPrefix(u["url"].(string), e.srv.URL+"/local/files/") ||
		u["packagetype"] != "bdist_wheel" || len(u["digests"].(map[string]any)["sha256"].(string)) != 64 ||
		len(u["digests"].(map[string]any)["blake2b_256"].(string)) != 64 || len(u["md5_digest"].(string)) != 32 {
		t.Errorf("urls[0] = %v", u)
	}
	prov, _ := u["wharf:provenance"].(map[string]any)
	if prov["kind"] != "token" || prov["token_id"] == "" {
		t.Errorf("provenance = %v", u["wharf:provenance"])
	}
	// The file URL downloads the file.
	if resp, _ := e.get(t, strings.TrimPrefix(u["url"].(string), e.srv.URL), nil); resp.StatusCode != http.StatusOK {
		t.Errorf("download of the JSON's url: %d", resp.StatusCode)
	}

	// The release endpoint has that release only, and no releases key.
	resp, body = e.get(t, "/local/pypi/demo/1.0/json", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET 1.0/json: %d %s", resp.StatusCode, body)
	}
	var rel map[string]any
	json.Unmarshal([]byte(body), &rel)
	if _, ok := rel["releases"]; ok || rel["info"].(map[string]any)["version"] != "1.0" || len(rel["urls"].([]any)) != 1 {
		t.Errorf("release json = %s", body)
	}
	if resp, _ := e.get(t, "/local/pypi/demo/3.0/json", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown version: %d, want 404", resp.StatusCode)
	}
	if resp, _ := e.get(t, "/local/pypi/nope/json", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown project: %d, want 404", resp.StatusCode)
	}
}

func TestPyPIJSONHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.uploadWheel(t, "local", "demo", "1.0")

	// Names are normalised by redirect, as on the simple pages.
	for path, loc := range map[string]string{
		"/local/pypi/Demo/json":     "../demo/json",
		"/local/pypi/Demo/1.0/json": "../../demo/1.0/json",
	} {
		resp, _ := e.get(t, path, nil)
		if resp.StatusCode != http.StatusMovedPermanently || !strings.HasSuffix(resp.Header.Get("Location"), strings.TrimLeft(loc, "./")) {
			t.Errorf("%s: %d Location %q", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	// ETag and 304; gzip for clients that accept it.
	resp, body := e.get(t, "/local/pypi/demo/json", map[string]string{"Accept-Encoding": "identity"})
	tag := resp.Header.Get("ETag")
	if tag == "" {
		t.Fatal("no ETag")
	}
	if resp, _ := e.get(t, "/local/pypi/demo/json", map[string]string{"If-None-Match": tag}); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", resp.StatusCode)
	}
	resp, zipped := e.get(t, "/local/pypi/demo/json", map[string]string{"Accept-Encoding": "gzip"})
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("no gzip: %v", resp.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader([]byte(zipped)))
	if err != nil {
		t.Fatal(err)
	}
	if plain, _ := io.ReadAll(zr); string(plain) != body {
		t.Error("gzip body differs from the plain one")
	}
}

// TestPyPIJSONAccess: private repositories and project-limited tokens are
// enforced as on the simple pages.
func TestPyPIJSONAccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.uploadWheel(t, "private", "demo", "1.0")
	e.uploadWheel(t, "private", "secret", "1.0")
	for _, tc := range []struct {
		path, token string
		want        int
	}{
		{"/private/pypi/demo/json", "", http.StatusUnauthorized},
		{"/private/pypi/demo/1.0/json", "", http.StatusUnauthorized},
		{"/private/pypi/demo/json", e.reader, http.StatusOK},
		{"/private/pypi/demo/json", e.demo, http.StatusOK},
		// Outside the token's patterns: 404, as an absent project (issue 20).
		{"/private/pypi/secret/json", e.demo, http.StatusNotFound},
		{"/private/pypi/secret/1.0/json", e.demo, http.StatusNotFound},
		{"/private/pypi/secret/json", e.other, http.StatusForbidden},
	} {
		hdr := map[string]string{}
		if tc.token != "" {
			hdr["Authorization"] = basic(tc.token)
		}
		simple := strings.Replace(strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(tc.path, "/json"), "/1.0"), "/"), "/pypi/", "/simple/", 1) + "/"
		sresp, _ := e.get(t, simple, hdr)
		resp, body := e.get(t, tc.path, hdr)
		if resp.StatusCode != tc.want || sresp.StatusCode != tc.want {
			t.Errorf("%s with %q: %d (simple page %d), want %d: %s", tc.path, tc.token, resp.StatusCode, sresp.StatusCode, tc.want, body)
		}
		if resp.StatusCode != http.StatusOK && strings.Contains(body, "secret-1.0") {
			t.Errorf("%s: refused response names the file: %s", tc.path, body)
		}
	}
}

// TestDownloadsCounted: whole-file GETs count, per version; core metadata,
// HEAD and Range requests do not. The JSON API shows the project's counts
// once flushed.
func TestDownloadsCounted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.uploadWheel(t, "local", "demo", "1.0")
	var doc struct {
		URLs []struct{ URL string } `json:"urls"`
	}
	_, body := e.get(t, "/local/pypi/demo/json", nil)
	json.Unmarshal([]byte(body), &doc)
	path := strings.TrimPrefix(doc.URLs[0].URL, e.srv.URL)
	for _, hdr := range []map[string]string{nil, nil, {"Range": "bytes=0-9"}, {"If-None-Match": `"x"`}} {
		if resp, _ := e.get(t, path, hdr); resp.StatusCode >= 300 {
			t.Fatalf("download: %d", resp.StatusCode)
		}
	}
	e.get(t, path+".metadata", nil)
	req, _ := http.NewRequest("HEAD", e.srv.URL+path, nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	if err := e.downloads.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Info struct {
			Downloads struct {
				Day   int64 `json:"last_day"`
				Month int64 `json:"last_month"`
			} `json:"downloads"`
		} `json:"info"`
	}
	_, body = e.get(t, "/local/pypi/demo/json", nil)
	json.Unmarshal([]byte(body), &got)
	if got.Info.Downloads.Day != 2 || got.Info.Downloads.Month != 2 {
		t.Errorf("info.downloads = %+v, want 2 (two whole GETs)", got.Info.Downloads)
	}
}
