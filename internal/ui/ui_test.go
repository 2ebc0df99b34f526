package ui

import (
	"strings"
	"testing"
	"time"
)

func TestWantsHTMLPage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		accept string
		want   bool
	}{
		{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", true},                                     // Firefox
		{"application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01", false}, // pip
		{"application/vnd.pypi.simple.v1+json", false},                                                                // uv
		{"*/*", false}, // curl
		{"", false},
	} {
		if got := wantsHTMLPage(tc.accept); got != tc.want {
			t.Errorf("wantsHTMLPage(%q) = %v, want %v", tc.accept, got, tc.want)
		}
	}
}

func TestSafeNext(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/ui/r/local/":          "/ui/r/local/",
		"https://evil.example/": "/ui/",
		"//evil.example/ui/":    "/ui/",
		"/ui/\\evil":            "/ui/",
		"/local/simple/":        "/ui/",
		"":                      "/ui/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSessionsExpire(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	s := newSessions(time.Hour, 3*time.Hour, clock)
	ss, err := s.create("tok")
	if err != nil {
		t.Fatal(err)
	}
	// Used every 50 minutes: the idle limit never hits, the absolute one does.
	for range 3 {
		now = now.Add(50 * time.Minute)
		if s.get(ss.id) == nil {
			t.Fatalf("session ended at %v, before either limit", now)
		}
	}
	now = now.Add(31 * time.Minute) // 3h01m after sign-in
	if s.get(ss.id) != nil {
		t.Fatal("session outlived its absolute limit")
	}
	ss2, _ := s.create("tok")
	now = now.Add(61 * time.Minute)
	if s.get(ss2.id) != nil {
		t.Fatal("session outlived its idle limit")
	}
	ss3, _ := s.create("tok")
	s.end(ss3.id)
	if s.get(ss3.id) != nil {
		t.Fatal("an ended session still works")
	}
}

func TestDescriptionSanitized(t *testing.T) {
	t.Parallel()
	d := newDescriber()
	const hostile = "# Title\n\n<script>alert(1)</script>\n\n<img src=x onerror=\"alert(2)\">\n\n" +
		"[x](javascript:alert(3)) <a href=\"javascript:alert(4)\">y</a> <a href=\"JaVaScRiPt:alert(5)\">z</a>\n\n" +
		"<iframe src=\"https://example.org\"></iframe><style>body{}</style><div style=\"color:red\" onclick=\"alert(6)\">d</div>\n\n" +
		"<svg><script>alert(7)</script></svg><form action=/x><input name=q></form>"
	got := string(d.render(hostile, "text/markdown; charset=UTF-8").HTML)
	if !strings.Contains(got, `<h1 id="title">Title</h1>`) {
		t.Errorf("heading not rendered:\n%s", got)
	}
	for _, bad := range []string{"<script", "onerror", "javascript:", "JaVaScRiPt", "<iframe", "<style", "style=", "onclick", "<svg", "<form", "alert(1)"} {
		if strings.Contains(got, bad) {
			t.Errorf("sanitized description still contains %q:\n%s", bad, got)
		}
	}
}

func TestDescriptionKinds(t *testing.T) {
	t.Parallel()
	d := newDescriber()
	for _, tc := range []struct{ ct, kind string }{
		{"", "restructuredtext"},
		{"text/x-rst", "restructuredtext"},
		{"text/plain", "text"},
		{"text/markdown; variant=GFM", "markdown"},
	} {
		got := d.render("Title\n=====\n\n<script>x</script>", tc.ct)
		if got.Kind != tc.kind {
			t.Errorf("%q: kind %q, want %q", tc.ct, got.Kind, tc.kind)
		}
		if tc.kind != "markdown" && (got.HTML != "" || got.Text == "") {
			t.Errorf("%q: want preformatted text (escaped by the template), got %+v", tc.ct, got)
		}
	}
}

func TestVersionListEscapes(t *testing.T) {
	t.Parallel()
	got := string(versionList([]versionRow{{Version: `1.0"><script>x</script>`, Uploaded: "2025-01-01", Yanked: true, YankedReason: `"<b>`}}))
	for _, bad := range []string{"<script", `"><`, "<b>"} {
		if strings.Contains(got, bad) {
			t.Errorf("versionList left %q unescaped: %s", bad, got)
		}
	}
}
