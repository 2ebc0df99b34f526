package e2e

import (
	"html"
	"strings"
	"testing"
)

// TestYank: a yanked release keeps its files, carries the reason in the
// index, is skipped by an unpinned pip install and still installs when
// pinned (PEP 592); unyank makes it the newest again.
func TestYank(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	const project, reason = "wharf-demo", "broken build, use 1.0.0"
	token := s.scopedToken(t, project, "upload,read", "1h")
	for _, v := range []string{"1.0.0", "1.1.0"} {
		twineUpload(t, s, token, buildDists(t, fixture(t, project, v))).mustSucceed(t)
	}

	s.admin(t, "yank", "--repo", "local", project, "1.1.0", "--reason", reason)

	page, _ := s.projectJSON(t, project)
	if len(page.Files) != 4 {
		t.Fatalf("want 4 files (2 versions x wheel+sdist) after yank, got %v", page.filenames())
	}
	for _, f := range page.Files {
		var want any = false
		if strings.Contains(f.Filename, "1.1.0") {
			want = reason
		}
		// Unyanked files may also omit "yanked" (nil).
		if got := f.Yanked; got != want && !(want == false && got == nil) {
			t.Errorf("%s: \"yanked\": %#v, want %#v", f.Filename, got, want)
		}
	}
	htmlPage := fetch(t, s.indexURL()+project+"/", "text/html")
	if !strings.Contains(htmlPage.body, `data-yanked="`+html.EscapeString(reason)+`"`) {
		t.Errorf("HTML page does not carry data-yanked=%q:\n%s", reason, htmlPage.body)
	}

	target, r := pipInstall(t, s.indexURL(), project)
	r.mustSucceed(t)
	if got := installedVersion(t, target, "wharf_demo"); got != "1.0.0" {
		t.Errorf("unpinned install picked %s, want 1.0.0 (1.1.0 is yanked)", got)
	}
	target, r = pipInstall(t, s.indexURL(), project+"==1.1.0")
	r.mustSucceed(t)
	if got := installedVersion(t, target, "wharf_demo"); got != "1.1.0" {
		t.Errorf("pinned install got %s, want the yanked 1.1.0", got)
	}

	s.admin(t, "unyank", "--repo", "local", project, "1.1.0")
	page, _ = s.projectJSON(t, project)
	for _, f := range page.Files {
		if f.Yanked != nil && f.Yanked != false {
			t.Errorf("%s still yanked after unyank: %#v", f.Filename, f.Yanked)
		}
	}
	target, r = pipInstall(t, s.indexURL(), project)
	r.mustSucceed(t)
	if got := installedVersion(t, target, "wharf_demo"); got != "1.1.0" {
		t.Errorf("unpinned install after unyank picked %s, want 1.1.0", got)
	}
}
