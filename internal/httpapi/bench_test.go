package httpapi_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wharf-dev/wharf/internal/httpapi"
)

// BenchmarkProjectPage measures the whole handler (middleware, negotiation,
// the page cache) for a cached one-file page, as pip asks for it.
func BenchmarkProjectPage(b *testing.B) {
	e := newEnv(b)
	fn, content := wheel(b, "demo", "1.0")
	ct, body := uploadBody(b, "demo", "1.0", fn, content, nil)
	if resp := e.post(b, "local", e.upload, ct, body); resp.StatusCode != 200 {
		b.Fatalf("upload: %s", resp.Status)
	}
	h := e.api.Handler()
	for _, accept := range []string{"", "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"} {
		b.Run(fmt.Sprintf("accept=%q", accept[:min(len(accept), 20)]), func(b *testing.B) {
			req := httptest.NewRequest("GET", "/local/simple/demo/", nil)
			req.Header.Set("Accept", accept)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatal(w.Code)
				}
			}
		})
	}
}

// BenchmarkUpload measures one small-wheel upload through the handler:
// multipart parsing, hashing, archive checks, two blob commits (the wheel
// and its metadata, each fsynced) and the database transaction.
func BenchmarkUpload(b *testing.B) {
	e := newEnv(b)
	h := e.api.Handler()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		v := fmt.Sprintf("1.0.%d", i)
		fn, content := wheel(b, "demo", v)
		ct, body := uploadBody(b, "demo", v, fn, content, nil)
		req := httptest.NewRequest("POST", "/local/legacy/", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.SetBasicAuth("__token__", e.upload)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}

// BenchmarkDownload measures a small wheel's download through the handler
// with download counting on and off (the counter is one map increment
// under a mutex; the flush is not on the request path).
func BenchmarkDownload(b *testing.B) {
	for _, counting := range []bool{false, true} {
		b.Run(fmt.Sprintf("counting=%v", counting), func(b *testing.B) {
			e := newEnvWith(b, envOptions{config: func(c *httpapi.Config) {
				if !counting {
					c.Downloads = nil
				}
			}})
			fn, content := wheel(b, "demo", "1.0")
			ct, body := uploadBody(b, "demo", "1.0", fn, content, nil)
			if resp := e.post(b, "local", e.upload, ct, body); resp.StatusCode != 200 {
				b.Fatalf("upload: %s", resp.Status)
			}
			sum := sha256.Sum256(content)
			req := httptest.NewRequest("GET", "/local/files/"+hex.EncodeToString(sum[:])+"/"+fn, nil)
			h := e.api.Handler()
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatal(w.Code)
				}
			}
		})
	}
}
