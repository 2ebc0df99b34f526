package e2e

// The web UI in a real browser: Debian's Chromium, driven over the DevTools
// protocol by chromedp, against a real `wharf serve`, with real twine and
// pip. One browser serves every step (starting Chromium costs a second or
// two); each step says what a person would do.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// screenshotsEnv names a directory to save the screenshots the README and
// docs/ui.md show (make them with `WHARF_UI_SCREENSHOTS=$PWD/docs/img`);
// without it they go to a temporary directory.
const screenshotsEnv = "WHARF_UI_SCREENSHOTS"

// stepTimeout bounds one browser step: a selector that matches nothing
// fails the test instead of waiting for the whole test's deadline.
const stepTimeout = 20 * time.Second

// uiBrowser is one headless Chromium.
type uiBrowser struct {
	t       *testing.T
	ctx     context.Context
	base    string
	shots   string
	axe     string
	dialogs atomic.Int32
}

func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	missing(t, "no chromium on PATH (Debian package chromium; scripts/test installs it)")
	return ""
}

func newUIBrowser(t *testing.T, base string) *uiBrowser {
	t.Helper()
	bin := chromiumPath(t)
	axe, err := os.ReadFile(filepath.Join("testdata", "axe-core", "axe.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	b := &uiBrowser{t: t, ctx: ctx, base: base, axe: string(axe), shots: os.Getenv(screenshotsEnv)}
	if b.shots == "" {
		b.shots = t.TempDir()
	}
	// The first action starts the browser, which lives as long as the
	// context of that call: b.ctx, not a step's.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	// Any dialog (alert, confirm) a page opens is counted and dismissed:
	// hostile content must never open one.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			b.dialogs.Add(1)
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	return b
}

func (b *uiBrowser) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// open navigates to a path of the server and waits for the page.
func (b *uiBrowser) open(path string) {
	b.t.Helper()
	b.run(chromedp.Navigate(b.base+path), chromedp.WaitReady(chromedp.CSS("main")))
}

// get runs one action that returns a value.
func get[T any](b *uiBrowser, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	return v
}

func (b *uiBrowser) text(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(get(b, chromedp.Text(chromedp.CSS(sel))))
}

// eval runs JavaScript in the page and returns its value as a string.
func (b *uiBrowser) eval(js string) string {
	b.t.Helper()
	return get(b, chromedp.Evaluate[string](js))
}

func (b *uiBrowser) location() string {
	b.t.Helper()
	return get(b, chromedp.Location())
}

// submit fills the named fields of the form matched by sel and submits it
// with its submit button, then waits for the next page.
func (b *uiBrowser) submit(sel string, fields map[string]string) {
	b.t.Helper()
	var acts []chromedp.Action[chromedp.Void]
	for name, value := range fields {
		acts = append(acts, chromedp.SetValue(chromedp.CSS(sel+` [name="`+name+`"]`), value))
	}
	acts = append(acts, chromedp.Click(chromedp.CSS(sel+` button[type="submit"]`)), chromedp.Sleep(300*time.Millisecond),
		chromedp.WaitReady(chromedp.CSS("main")))
	b.run(acts...)
}

func (b *uiBrowser) screenshot(name string) {
	b.t.Helper()
	png := get(b, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// axeCheck runs axe-core in the page and fails on serious or critical
// violations.
func (b *uiBrowser) axeCheck(screen string) {
	b.t.Helper()
	start := time.Now()
	defer func() { b.t.Logf("axe on %s: %s", screen, time.Since(start).Round(time.Millisecond)) }()
	if loaded := b.eval(b.axe + "\n;typeof axe"); loaded != "object" {
		b.t.Fatalf("axe-core did not load (typeof axe: %s)", loaded)
	}
	found := get(b, chromedp.Evaluate[[]string](`axe.run(document, {resultTypes: ['violations']}).then(r => r.violations
		.filter(v => v.impact === 'serious' || v.impact === 'critical')
		.map(v => v.impact + ' ' + v.id + ': ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', ')))`,
		chromedp.EvalAwaitPromise))
	for _, f := range found {
		b.t.Errorf("axe on %s: %s", screen, f)
	}
}

// uiProject writes a hatchling project with a README in Markdown.
func uiProject(t *testing.T, name, version, readme string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	module := strings.ReplaceAll(name, "-", "_")
	files := map[string]string{
		"pyproject.toml": fmt.Sprintf(`[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = %q
version = %q
description = "The %s project, as the browser test uploads it"
readme = "README.md"
requires-python = ">=3.8"
license = {text = "MIT"}
classifiers = ["Programming Language :: Python :: 3"]

[project.urls]
Homepage = "https://example.org/%s"

[tool.hatch.build.targets.wheel]
packages = ["src/%s"]
`, name, version, name, name, module),
		"README.md":                      readme,
		"src/" + module + "/__init__.py": "VERSION = " + fmt.Sprintf("%q", version) + "\n",
	}
	for p, body := range files {
		mustWrite(t, filepath.Join(dir, p), []byte(body))
	}
	return dir
}

func twineUploadTo(t *testing.T, uploadURL, token string, files []string) {
	t.Helper()
	twine := requireTool(t, "twine")
	args := append([]string{"upload", "--non-interactive", "--verbose", "--disable-progress-bar",
		"--repository-url", uploadURL, "-u", "__token__", "-p", token}, files...)
	runCmd(t, cmdSpec{name: twine, args: args}).mustSucceed(t)
}

const demoReadme = "# Demo heading\n\nA project uploaded by the **browser test**.\n\n" +
	"| feature | state |\n|---|---|\n| tables | yes |\n\n```python\nimport ui_demo\n```\n"

// hostileReadme tries everything a description could do to run code.
const hostileReadme = "# Hostile\n\n<script>window.__pwned = 'script'; alert('script')</script>\n\n" +
	"<img src=\"x\" alt=\"x\" onerror=\"window.__pwned = 'onerror'; alert('onerror')\">\n\n" +
	"[click me](javascript:window.__pwned='link') <a id=\"jslink\" href=\"javascript:window.__pwned='a'\">and me</a>\n\n" +
	"<iframe src=\"javascript:parent.__pwned='iframe'\"></iframe>\n\n" +
	"<svg onload=\"window.__pwned='svg'\"></svg><object data=\"javascript:window.__pwned='object'\"></object>\n\n" +
	"<form action=\"/ui/signout\" method=\"post\"><button id=\"evil\">Free stuff</button></form>\n\n" +
	"<div style=\"background:url(javascript:window.__pwned='css')\" onmouseover=\"window.__pwned='hover'\">hover</div>\n"

func TestUIInBrowser(t *testing.T) {
	s := startServer(t)
	python(t, "build", "hatchling", "pip")
	b := newUIBrowser(t, s.URL)

	// A browser at / lands on the UI; anonymous visitors see the public
	// repositories.
	b.open("/")
	if loc := b.location(); loc != s.URL+"/ui/" {
		t.Fatalf("/ in a browser went to %s, want %s/ui/", loc, s.URL)
	}
	b.axeCheck("home (anonymous)")

	// Sign in by pasting the admin token.
	b.open("/ui/signin")
	b.axeCheck("sign-in")
	b.submit(`form[action="/ui/signin"]`, map[string]string{"token": s.Admin})
	if who := b.text(".who"); !strings.Contains(who, "Sign out") {
		t.Fatalf("after sign-in the header says %q", who)
	}

	// Create a private repository and an upload token in the UI.
	b.open("/ui/repos/new")
	b.axeCheck("new repository")
	b.submit(`form[action="/ui/repos"]`, map[string]string{"name": "team", "description": "The team's private packages"})
	if loc := b.location(); loc != s.URL+"/ui/r/team/" {
		t.Fatalf("after creating a repository the browser is at %s", loc)
	}
	b.open("/ui/tokens")
	b.run(chromedp.Click(chromedp.CSS(`input[name="actions"][value="upload"]`)))
	b.submit(`form[action="/ui/tokens"]`, map[string]string{"description": "ci-upload", "repos": "team"})
	upload := get(b, chromedp.Value(chromedp.CSS(`#new-token`)))
	if !strings.HasPrefix(upload, "wharf_") {
		t.Fatalf("the tokens page shows no new token (got %q)", upload)
	}
	b.axeCheck("tokens")

	// twine uploads two versions of a project whose README is Markdown,
	// and another project, with that token.
	for _, v := range []string{"1.0.0", "1.1.0"} {
		twineUploadTo(t, s.URL+"/team/legacy/", upload, buildDists(t, uiProject(t, "ui-demo", v, demoReadme)))
	}
	twineUploadTo(t, s.URL+"/team/legacy/", upload, buildDists(t, uiProject(t, "ui-other", "2.0.0", "# Other\n")))

	// The project page: rendered heading, install command, provenance.
	b.open("/ui/r/team/ui-demo/")
	if h := b.text(".readme h1"); h != "Demo heading" {
		t.Errorf("rendered README heading %q, want %q", h, "Demo heading")
	}
	if cell := b.text(".readme table td"); cell != "tables" {
		t.Errorf("README table cell %q", cell)
	}
	wantPip := "pip install --index-url " + s.URL + "/team/simple/ ui-demo"
	if pip := b.text("#install-pip"); pip != wantPip {
		t.Errorf("pip command %q, want %q", pip, wantPip)
	}
	if prov := b.text(".provenance"); !strings.Contains(prov, "ci-upload") {
		t.Errorf("provenance line %q does not name the token 'ci-upload'", prov)
	}
	if v := b.text("h1 .version"); v != "1.1.0" {
		t.Errorf("project page shows version %q, want the newest 1.1.0", v)
	}
	b.axeCheck("project")
	b.screenshot("project")

	// Yank 1.1.0 in the UI: the badge and reason show, and pip skips it.
	const reason = "broken import, use 1.0.0"
	b.submit(`form[action$="/yank"]`, map[string]string{"reason": reason})
	if badge := b.text("h1 .badge.yanked"); badge != "yanked" {
		t.Errorf("no yanked badge after yanking (got %q)", badge)
	}
	if note := b.text(".flash.warn"); !strings.Contains(note, reason) {
		t.Errorf("yank note %q lacks the reason", note)
	}
	index := strings.Replace(s.URL, "http://", "http://__token__:"+url.QueryEscape(s.Admin)+"@", 1) + "/team/simple/"
	target, r := pipInstall(t, index, "ui-demo")
	r.mustSucceed(t)
	if got := installedVersion(t, target, "ui_demo"); got != "1.0.0" {
		t.Errorf("pip installed %s, want 1.0.0 (1.1.0 is yanked)", got)
	}

	// The repository page, search and the audit log, signed in.
	b.open("/ui/r/team/")
	b.axeCheck("repository")
	b.open("/ui/search?q=ui")
	b.axeCheck("search")
	b.open("/ui/audit")
	if !strings.Contains(b.text("main"), "release.yank") {
		t.Error("the audit log does not show the yank")
	}
	b.axeCheck("audit log")
	b.screenshot("audit")
	b.open("/ui/")
	b.screenshot("home")

	// A form posted without its CSRF token is refused.
	b.open("/ui/tokens")
	b.eval(`document.querySelector('form[action="/ui/tokens"] input[name="csrf"]').remove(); "ok"`)
	b.submit(`form[action="/ui/tokens"]`, map[string]string{"description": "no csrf"})
	if h := b.text("h1"); !strings.Contains(h, "403") {
		t.Errorf("a form without its CSRF token gave %q, want 403", h)
	}

	// Hostile content in a public repository: nothing runs.
	twineUploadTo(t, s.uploadURL(), s.Admin, buildDists(t, uiProject(t, "ui-hostile", "1.0.0", hostileReadme)))
	b.open("/ui/r/local/ui-hostile/")
	b.run(chromedp.Click(chromedp.CSS(`.readme`)))
	if pwned := b.eval(`String(window.__pwned)`); pwned != "undefined" {
		t.Errorf("hostile description ran code: window.__pwned = %s", pwned)
	}
	if n := b.dialogs.Load(); n != 0 {
		t.Errorf("hostile description opened %d dialogs", n)
	}
	hostileHTML := get(b, chromedp.InnerHTML(chromedp.CSS(".readme")))
	for _, bad := range []string{"<script", "onerror", "javascript:", "<iframe", "<object", "<form", "onmouseover", "style="} {
		if strings.Contains(hostileHTML, bad) {
			t.Errorf("rendered description still holds %q", bad)
		}
	}
	// And had something slipped through, the CSP blocks inline script: a
	// script element added to the page does not run.
	b.eval(`(() => { const s = document.createElement('script'); s.textContent = "window.__pwned = 'inline'"; document.body.appendChild(s); return "ok" })()`)
	b.run(chromedp.Sleep(100 * time.Millisecond))
	if pwned := b.eval(`String(window.__pwned)`); pwned != "undefined" {
		t.Errorf("an inline script ran (window.__pwned = %s): the CSP does not block it", pwned)
	}

	// Sign out; an anonymous visitor sees no private repository anywhere.
	b.open("/ui/")
	b.run(chromedp.Click(chromedp.CSS(`form[action="/ui/signout"] button`)), chromedp.WaitVisible(chromedp.CSS(`a[href="/ui/signin"]`)))
	for _, path := range []string{"/ui/", "/ui/search?q=ui", "/ui/search?q=team"} {
		b.open(path)
		links := b.eval(`String(document.querySelectorAll('a[href^="/ui/r/team"]').length)`)
		if body := b.text("main"); links != "0" || strings.Contains(body, "ui-demo") || strings.Contains(body, "private packages") {
			t.Errorf("anonymous %s shows the private repository (%s links):\n%s", path, links, body)
		}
	}
	b.open("/ui/r/team/")
	if h := b.text("h1"); !strings.Contains(h, "404") {
		t.Errorf("anonymous /ui/r/team/: %q, want 404", h)
	}
	b.screenshot("anonymous")

	// A token limited to one project sees only that project.
	scoped := firstLine(s.admin(t, "token", "create", "--repo", "team", "--project", "ui-demo", "--actions", "read"))
	b.open("/ui/signin")
	b.submit(`form[action="/ui/signin"]`, map[string]string{"token": scoped})
	b.open("/ui/r/team/")
	if body := b.text("main"); !strings.Contains(body, "ui-demo") || strings.Contains(body, "ui-other") {
		t.Errorf("a token for ui-demo sees on the repository page:\n%s", body)
	}
	b.open("/ui/search?q=ui")
	if body := b.text("main"); strings.Contains(body, "ui-other") {
		t.Errorf("a token for ui-demo finds ui-other:\n%s", body)
	}
	b.open("/ui/r/team/ui-other/")
	if h := b.text("h1"); !strings.Contains(h, "404") {
		t.Errorf("a token for ui-demo opening ui-other: %q, want 404", h)
	}

	// The CSP the pages carry.
	resp, err := http.Get(s.URL + "/ui/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
}
