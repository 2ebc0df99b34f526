package httpapi_test

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/blob/fsblob"
	"github.com/wharf-dev/wharf/internal/httpapi"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/hosted"
	"github.com/wharf-dev/wharf/internal/registry/remote"
	"github.com/wharf-dev/wharf/internal/store/sqlstore"
	"github.com/wharf-dev/wharf/internal/upstream"
)

// remoteBench is a handler serving a hosted repository "local" and a remote
// repository "cache" whose upstream is an httptest server on loopback
// offering the same files under any project name (so every new name is a
// cold page).
type remoteBench struct {
	h        http.Handler
	upstream *httptest.Server
	fetches  atomic.Int64 // upstream page requests
	cold     atomic.Int64 // cold project names handed out
	files    map[string][]byte
}

const pipJSON = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"

// paddedWheel is a valid wheel with pad bytes of incompressible payload.
func paddedWheel(b testing.TB, name, version string, pad int) (string, []byte) {
	b.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	info := name + "-" + version + ".dist-info/"
	for _, f := range [][2]string{
		{info + "METADATA", "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\nRequires-Python: >=3.8\n\n"},
		{info + "WHEEL", "Wheel-Version: 1.0\nTag: py3-none-any\n"},
		{info + "RECORD", ""},
	} {
		w, _ := zw.Create(f[0])
		io.WriteString(w, f[1])
	}
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: name + "/data.bin", Method: zip.Store})
	p := make([]byte, pad)
	for i := range p {
		p[i] = byte(i*2654435761>>13) ^ byte(i)
	}
	w.Write(p)
	zw.Close()
	return name + "-" + version + "-py3-none-any.whl", buf.Bytes()
}

func newRemoteBench(b *testing.B, nfiles, pad int) *remoteBench {
	b.Helper()
	ctx := b.Context()
	dir := b.TempDir()
	st, err := sqlstore.Open(ctx, sqlstore.Config{Driver: "sqlite", DSN: filepath.Join(dir, "db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	bs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		b.Fatal(err)
	}
	local := registry.Repository{Name: "local", Kind: registry.Hosted, Public: true}
	cache := registry.Repository{Name: "cache", Kind: registry.Remote, Public: true}
	for _, r := range []*registry.Repository{&local, &cache} {
		if err := st.Repos().Create(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	rb := &remoteBench{files: map[string][]byte{}}

	// The same wheels, uploaded to local and offered by the upstream.
	type upFile struct {
		Filename string            `json:"filename"`
		URL      string            `json:"url"`
		Hashes   map[string]string `json:"hashes"`
		Requires string            `json:"requires-python"`
		Upload   string            `json:"upload-time"`
		Size     int               `json:"size"`
	}
	var upFiles []upFile
	var versions []string
	au := auth.New(auth.Config{Tokens: st.Tokens()})
	tok, _, err := au.Mint(ctx, auth.MintRequest{Scope: registry.Scope{Actions: []registry.Action{registry.Upload, registry.Read}}})
	if err != nil {
		b.Fatal(err)
	}
	hs := hosted.New(hosted.Config{Store: st, Blobs: bs, MaxFileSize: 64 << 20})
	rem := remote.New(remote.Config{Store: st, Blobs: bs, Upstream: upstream.New(upstream.Config{})})
	api := httpapi.New(httpapi.Config{Repos: st.Repos(), Hosted: hs, Remote: rem, Blobs: bs, Auth: au, MaxFileSize: 64 << 20})
	rb.h = api.Handler()
	for i := range nfiles {
		v := fmt.Sprintf("1.%d", i)
		fn, content := paddedWheel(b, "demo", v, pad)
		ct, body := uploadBody(b, "demo", v, fn, content, nil)
		req := httptest.NewRequest("POST", "/local/legacy/", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.SetBasicAuth("__token__", tok)
		w := httptest.NewRecorder()
		rb.h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("upload: %d %s", w.Code, w.Body)
		}
		sum := sha256.Sum256(content)
		rb.files[fn] = content
		upFiles = append(upFiles, upFile{Filename: fn, URL: "../../files/" + fn, Hashes: map[string]string{"sha256": hex.EncodeToString(sum[:])},
			Requires: ">=3.8", Upload: "2020-01-01T00:00:00Z", Size: len(content)})
		versions = append(versions, v)
	}
	rb.upstream = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fn, ok := strings.CutPrefix(r.URL.Path, "/files/"); ok {
			w.Write(rb.files[fn])
			return
		}
		project, ok := strings.CutPrefix(r.URL.Path, "/simple/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		rb.fetches.Add(1)
		w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
		json.NewEncoder(w).Encode(map[string]any{"meta": map[string]string{"api-version": "1.1"},
			"name": strings.TrimSuffix(project, "/"), "files": upFiles, "versions": versions})
	}))
	b.Cleanup(rb.upstream.Close)
	set, _ := json.Marshal(registry.RepoSettings{Remote: &registry.RemoteSettings{Upstream: rb.upstream.URL + "/simple/", TTL: registry.Duration(time.Hour)}})
	if err := st.Remote().PutSettings(ctx, cache.ID, set); err != nil {
		b.Fatal(err)
	}
	return rb
}

func (rb *remoteBench) get(b *testing.B, path, accept string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Accept", accept)
	w := httptest.NewRecorder()
	rb.h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		b.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
	}
	return w
}

// BenchmarkRemotePage compares a warm cached remote project page with the
// hosted page of the same files, through the whole handler, as pip asks.
func BenchmarkRemotePage(b *testing.B) {
	for _, n := range []int{1, 20} {
		rb := newRemoteBench(b, n, 256)
		hostedBody := rb.get(b, "/local/simple/demo/", pipJSON).Body.Len()
		remoteBody := rb.get(b, "/cache/simple/demo/", pipJSON).Body.Len()
		b.Logf("files=%d: hosted page %d bytes, remote page %d bytes", n, hostedBody, remoteBody)
		for _, repo := range []string{"local", "cache"} {
			b.Run(fmt.Sprintf("files=%d/%s", n, repo), func(b *testing.B) {
				req := httptest.NewRequest("GET", "/"+repo+"/simple/demo/", nil)
				req.Header.Set("Accept", pipJSON)
				b.ReportAllocs()
				for b.Loop() {
					w := httptest.NewRecorder()
					rb.h.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Fatal(w.Code)
					}
				}
			})
		}
	}
}

// BenchmarkRemoteColdPage measures a page no one asked for yet: one
// upstream round trip (loopback, JSON), parsing, the file map and page
// written to SQLite, rendering. "upstream" is the bare round trip to the
// same upstream, for the difference.
func BenchmarkRemoteColdPage(b *testing.B) {
	rb := newRemoteBench(b, 20, 256)
	b.Run("upstream", func(b *testing.B) {
		c := &http.Client{}
		for b.Loop() {
			req, _ := http.NewRequest("GET", rb.upstream.URL+"/simple/demo/", nil)
			req.Header.Set("Accept", "application/vnd.pypi.simple.v1+json")
			resp, err := c.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.Run("wharf", func(b *testing.B) {
		i := 0
		before := rb.fetches.Load()
		b.ReportAllocs()
		for b.Loop() {
			i++
			// Names are never reused, also across -count runs.
			rb.get(b, fmt.Sprintf("/cache/simple/cold-%d/", rb.cold.Add(1)), pipJSON)
		}
		if got := rb.fetches.Load() - before; got != int64(i) {
			b.Fatalf("%d upstream fetches for %d cold pages", got, i)
		}
	})
}

// BenchmarkRemoteDownload compares downloading a file from the remote
// cache (after its first fill) with the hosted copy of the same bytes.
func BenchmarkRemoteDownload(b *testing.B) {
	rb := newRemoteBench(b, 1, 1<<20)
	var fn string
	for k := range rb.files {
		fn = k
	}
	sum := sha256.Sum256(rb.files[fn])
	key := hex.EncodeToString(sum[:])
	rb.get(b, "/cache/simple/demo/", pipJSON) // the file map
	rb.get(b, "/cache/files/"+key+"/"+fn, "*/*")
	for _, repo := range []string{"local", "cache"} {
		b.Run(repo, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/"+repo+"/files/"+key+"/"+fn, nil)
			b.SetBytes(int64(len(rb.files[fn])))
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				rb.h.ServeHTTP(w, req)
				if w.Code != http.StatusOK || w.Body.Len() != len(rb.files[fn]) {
					b.Fatal(w.Code, w.Body.Len())
				}
			}
		})
	}
}
