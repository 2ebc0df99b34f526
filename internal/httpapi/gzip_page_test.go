package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"testing"
)

// TestPageGzip: a client that accepts gzip gets the cached page compressed,
// with its own strong ETag; either tag revalidates; q=0 and small pages get
// the identity form.
func TestPageGzip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range 6 {
		fn, content := wheel(t, "demo", fmt.Sprintf("1.%d", i))
		ct, body := uploadBody(t, "demo", fmt.Sprintf("1.%d", i), fn, content, nil)
		if resp := e.post(t, "local", e.upload, ct, body); resp.StatusCode != 200 {
			t.Fatalf("upload: %s", resp.Status)
		}
	}
	plain, plainBody := e.get(t, "/local/simple/demo/", map[string]string{"Accept-Encoding": "identity"})
	if plain.StatusCode != 200 || plain.Header.Get("Content-Encoding") != "" || len(plainBody) < 1024 {
		t.Fatalf("identity page: %s %v, %d bytes", plain.Status, plain.Header, len(plainBody))
	}
	zipped, zippedBody := e.get(t, "/local/simple/demo/", map[string]string{"Accept-Encoding": "gzip, deflate"})
	if zipped.StatusCode != 200 || zipped.Header.Get("Content-Encoding") != "gzip" || zipped.Header.Get("Vary") != "Accept, Accept-Encoding" {
		t.Fatalf("gzip page: %s %v", zipped.Status, zipped.Header)
	}
	if zipped.Header.Get("Content-Length") != fmt.Sprint(len(zippedBody)) || len(zippedBody) >= len(plainBody) {
		t.Errorf("gzip page: Content-Length %s, %d bytes against %d plain", zipped.Header.Get("Content-Length"), len(zippedBody), len(plainBody))
	}
	zr, err := gzip.NewReader(bytes.NewReader([]byte(zippedBody)))
	if err != nil {
		t.Fatal(err)
	}
	inflated, err := io.ReadAll(zr)
	if err != nil || string(inflated) != plainBody {
		t.Errorf("the gzip page does not inflate to the identity page: %v", err)
	}
	pe, ze := plain.Header.Get("Etag"), zipped.Header.Get("Etag")
	if pe == "" || ze == "" || pe == ze {
		t.Errorf("ETags: identity %s, gzip %s; want two different tags", pe, ze)
	}
	for _, tag := range []string{pe, ze} {
		resp, _ := e.get(t, "/local/simple/demo/", map[string]string{"Accept-Encoding": "gzip", "If-None-Match": tag})
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match %s: %s, want 304", tag, resp.Status)
		}
	}
	if resp, _ := e.get(t, "/local/simple/demo/", map[string]string{"Accept-Encoding": "gzip;q=0, deflate"}); resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 got Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	// A page under 1024 is sent as it is.
	resp, small := e.get(t, "/local/simple/", map[string]string{"Accept-Encoding": "gzip"})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "" || len(small) >= 1024 {
		t.Errorf("small root page: %s %v, %d bytes", resp.Status, resp.Header, len(small))
	}
	// A new upload renders a new page, compressed anew.
	fn, content := wheel(t, "demo", "2.0")
	ct, body := uploadBody(t, "demo", "2.0", fn, content, nil)
	if resp := e.post(t, "local", e.upload, ct, body); resp.StatusCode != 200 {
		t.Fatalf("upload: %s", resp.Status)
	}
	again, againBody := e.get(t, "/local/simple/demo/", map[string]string{"Accept-Encoding": "gzip"})
	zr, err = gzip.NewReader(bytes.NewReader([]byte(againBody)))
	if err != nil {
		t.Fatal(err)
	}
	inflated, _ = io.ReadAll(zr)
	if again.Header.Get("Etag") == ze || !bytes.Contains(inflated, []byte("demo-2.0")) {
		t.Errorf("after an upload the gzip page is the old one: %s", again.Header.Get("Etag"))
	}
}

// TestFilteredRootGzip: the root page a project-limited token gets, rendered
// per request, is compressed too when large enough, and still filtered.
func TestFilteredRootGzip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range 40 {
		name := fmt.Sprintf("demo%d", i)
		if i == 0 {
			name = "hidden"
		}
		fn, content := wheel(t, name, "1.0")
		ct, body := uploadBody(t, name, "1.0", fn, content, nil)
		if resp := e.post(t, "private", e.upload, ct, body); resp.StatusCode != 200 {
			t.Fatalf("upload %s: %s", name, resp.Status)
		}
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/private/simple/", nil)
	req.SetBasicAuth("__token__", e.demos)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Cache-Control") != "private, no-store" {
		t.Fatalf("filtered root: %s %v", resp.Status, resp.Header)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	page, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(page, []byte(">demo39<")) || bytes.Contains(page, []byte("hidden")) {
		t.Errorf("filtered root, inflated: %q", page)
	}
}
