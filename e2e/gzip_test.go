package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestPipGzipPages: pip asks for gzip (requests sends "Accept-Encoding:
// gzip, deflate"); a project page large enough is sent compressed, and pip
// resolves and installs from it.
func TestPipGzipPages(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	const project = "gzip-demo"
	token := s.scopedToken(t, project, "upload,read", "1h")
	dir := t.TempDir()
	var files []string
	for i := range 8 {
		v := fmt.Sprintf("1.%d.0", i)
		f := filepath.Join(dir, fmt.Sprintf("%s-%s-py3-none-any.whl", modName(project), v))
		if err := os.WriteFile(f, makeWheel(t, project, v), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	twineUpload(t, s, token, files).mustSucceed(t)

	req, _ := http.NewRequest("GET", s.indexURL()+project+"/", nil)
	req.Header.Set("Accept", "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01")
	req.Header.Set("Accept-Encoding", "gzip, deflate")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("the project page with pip's headers: %s, Content-Encoding %q", resp.Status, resp.Header.Get("Content-Encoding"))
	}

	target, r := pipInstall(t, s.indexURL(), project)
	r.mustSucceed(t)
	if got := installedVersion(t, target, modName(project)); got != "1.7.0" {
		t.Errorf("pip installed %s from the gzip page, want 1.7.0", got)
	}
}
