package ui

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/wharf-dev/wharf/internal/registry"
)

// contentSecurityPolicy allows this server's own stylesheet and script and
// nothing else: no inline script or style, no other origin, no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; connect-src 'self'"

// securityHeaders sets the headers every UI response carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// staticFiles are the embedded stylesheet and script, served with a
// content hash in their URL so browsers may keep them.
type staticFiles struct {
	files map[string]staticFile
}

type staticFile struct {
	body  []byte
	hash  string
	ctype string
}

func loadStatic(fsys fs.FS) (staticFiles, error) {
	sf := staticFiles{files: map[string]staticFile{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ctype := "application/octet-stream"
		switch path.Ext(p) {
		case ".css":
			ctype = "text/css; charset=utf-8"
		case ".js":
			ctype = "text/javascript; charset=utf-8"
		case ".svg":
			ctype = "image/svg+xml"
		}
		sf.files[p] = staticFile{body: b, hash: hex.EncodeToString(sum[:8]), ctype: ctype}
		return nil
	})
	return sf, err
}

// url is a static file's address with its content hash.
func (sf staticFiles) url(name string) (string, error) {
	f, ok := sf.files[name]
	if !ok {
		return "", fmt.Errorf("no static file %q", name)
	}
	return Prefix + "static/" + name + "?v=" + f.hash, nil
}

func (sf staticFiles) serve(w http.ResponseWriter, r *http.Request) {
	f, ok := sf.files[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("Cache-Control", "public, max-age=86400")
	h.Set("ETag", `"`+f.hash+`"`)
	if r.Header.Get("If-None-Match") == `"`+f.hash+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(f.body)
}

// pages holds one template per page, each the layout plus the page's
// "content" block.
type pages map[string]*template.Template

func parsePages(fsys fs.FS, static staticFiles) (pages, error) {
	funcs := template.FuncMap{
		"static":   static.url,
		"date":     formatDate,
		"datetime": formatDateTime,
		"size":     formatSize,
		"short":    func(s string, n int) string { return shorten(s, n) },
		"join":     strings.Join,
		"actions":  joinActions,
		"add":      func(a, b int) int { return a + b },
		"pathesc":  pathEscape,
		"nonempty": func(s string) bool { return strings.TrimSpace(s) != "" },
	}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(fsys, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(fsys, "templates/*.html")
	if err != nil {
		return nil, err
	}
	ps := pages{}
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(fsys, n)
		if err != nil {
			return nil, err
		}
		ps[base] = t
	}
	return ps, nil
}

// view is what the layout needs around every page.
type view struct {
	Title    string
	SignedIn bool
	Admin    bool
	TokenID  string
	CSRF     string
	Query    string
	Page     any
}

// render writes a page. The body is rendered into a buffer first, so a
// template error becomes a clean 500 and not half a page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, v *viewer, status int, name, title string, data any) error {
	t, ok := u.pages[name]
	if !ok {
		return fmt.Errorf("ui: no template %q", name)
	}
	vw := view{Title: title, CSRF: u.csrfToken(v), Page: data, Query: r.URL.Query().Get("q")}
	if v.principal != nil {
		vw.SignedIn, vw.Admin, vw.TokenID = true, v.admin(), v.principal.TokenID
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", vw); err != nil {
		u.log.Error("ui template", "page", name, "error", err.Error())
		http.Error(w, "internal server error; the server log has the details", http.StatusInternalServerError)
		return nil
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// Pages differ by viewer and hold what only they may read.
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
	return nil
}

func formatDate(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02")
}

func formatDateTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func formatSize(n int64) string {
	switch {
	case n < 1024:
		return strconv.FormatInt(n, 10) + " B"
	case n < 1024*1024:
		return strconv.FormatFloat(float64(n)/1024, 'f', 1, 64) + " KiB"
	default:
		return strconv.FormatFloat(float64(n)/(1024*1024), 'f', 1, 64) + " MiB"
	}
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func joinActions(as []registry.Action) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}
