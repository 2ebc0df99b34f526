package upstream_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/upstream"
)

func TestParseProjectHTML(t *testing.T) {
	t.Parallel()
	base, _ := url.Parse("https://idx.example/simple/demo/")
	body := `<!DOCTYPE html><html><body><!-- <a href="x">skip</a> -->
<a href="../../files/demo-1.0.tar.gz#sha256=ABCD" data-requires-python="&gt;=3.8" data-yanked="broken &amp; bad">demo-1.0.tar.gz</a><br/>
<A HREF='https://cdn.example/demo-2.0-py3-none-any.whl#sha256=ef01' data-core-metadata="sha256=99aa" >demo-2.0-py3-none-any.whl</A>
<a href="javascript:alert(1)">demo-3.0.tar.gz</a>
</body></html>`
	p, err := upstream.ParseProjectHTML([]byte(body), base)
	if err != nil {
		t.Fatal(err)
	}
	want := []pypi.FileEntry{
		{Filename: "demo-1.0.tar.gz", URL: "https://idx.example/files/demo-1.0.tar.gz", SHA256: "abcd", RequiresPython: ">=3.8", Yanked: true, YankedReason: "broken & bad", Version: "1.0"},
		{Filename: "demo-2.0-py3-none-any.whl", URL: "https://cdn.example/demo-2.0-py3-none-any.whl", SHA256: "ef01", CoreMetadataSHA256: "99aa", Version: "2.0"},
	}
	if d := cmp.Diff(want, p.Files); d != "" {
		t.Errorf("files (-want +got):\n%s", d)
	}
}

func TestParseProjectJSON(t *testing.T) {
	t.Parallel()
	base, _ := url.Parse("https://idx.example/simple/demo/")
	body := `{"name":"Demo","versions":["1.0"],"files":[
{"filename":"demo-1.0.tar.gz","url":"/f/demo-1.0.tar.gz","hashes":{"sha256":"aa"},"yanked":"why","core-metadata":{"sha256":"bb"},"size":12,"upload-time":"2024-01-02T03:04:05.123456Z"},
{"filename":"demo-1.0-py3-none-any.whl","url":"https://x/w.whl","hashes":{"sha256":"cc"},"yanked":false,"dist-info-metadata":true}]}`
	p, err := upstream.ParseProjectJSON([]byte(body), base)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Files[0]; !got.Yanked || got.YankedReason != "why" || got.CoreMetadataSHA256 != "bb" || got.Size != 12 || got.UploadTime.Nanosecond() != 123456000 || got.URL != "https://idx.example/f/demo-1.0.tar.gz" {
		t.Errorf("file 0 = %+v", got)
	}
	if got := p.Files[1]; got.Yanked || got.CoreMetadataSHA256 != "" {
		t.Errorf("file 1 = %+v (metadata without a hash is not offered)", got)
	}
}

type fakeSecrets struct{ versions []string }

func (f *fakeSecrets) Access(_ context.Context, repo, name, version string) ([]byte, int, error) {
	if name != "tok" {
		return nil, 0, errs.Errorf(errs.PermissionDenied, "secrets", "no grant")
	}
	n := len(f.versions)
	return []byte(f.versions[n-1]), n, nil
}

func TestTokenAuthLatestAndErrors(t *testing.T) {
	t.Parallel()
	accepted := "v2-secret"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != "__token__" || p != accepted {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		if !strings.Contains(r.Header.Get("Accept"), "application/vnd.pypi.simple.v1+json") {
			t.Errorf("Accept = %q", r.Header.Get("Accept"))
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<a href="demo-1.0.tar.gz#sha256=aa">demo-1.0.tar.gz</a>`)
	}))
	defer srv.Close()
	sec := &fakeSecrets{versions: []string{"v1-secret"}}
	c := upstream.New(upstream.Config{Secrets: sec})
	tgt := upstream.Target{Repo: "up", Settings: registry.RemoteSettings{Upstream: srv.URL + "/simple/", Auth: registry.AuthToken, Secret: "tok", SecretVersion: "latest"}}
	_, err := c.Project(context.Background(), tgt, "demo")
	if err == nil || !strings.Contains(err.Error(), "secret 'tok' version 1") || strings.Contains(err.Error(), "v1-secret") {
		t.Fatalf("err = %v; want it to name secret 'tok' version 1 and not its value", err)
	}
	sec.versions = append(sec.versions, "v2-secret") // a new version is used on the next request
	p, err := c.Project(context.Background(), tgt, "demo")
	if err != nil || len(p.Files) != 1 {
		t.Fatalf("with the new version: %+v, %v", p, err)
	}
}

func TestRedirectLimits(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
	}))
	defer srv.Close()
	c := upstream.New(upstream.Config{})
	_, err := c.Project(context.Background(), upstream.Target{Repo: "up", Settings: registry.RemoteSettings{Upstream: srv.URL + "/simple/"}}, "demo")
	if errs.KindOf(err) != errs.Upstream || !strings.Contains(err.Error(), "only http and https") {
		t.Fatalf("err = %v", err)
	}
}
