package httpapi

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
)

// page is a rendered index page, kept until its repository changes. The
// header values are built once, so serving a cached page allocates little.
type page struct {
	gen     uint64
	body    []byte
	etag    string
	etagHdr []string
	lenHdr  []string
	gz      gzipVariant
}

// pageKey identifies a cached page; a struct key needs no concatenation.
type pageKey struct {
	repo    int64
	project string
	format  pypi.Format
	// view is, for a virtual repository, which members the caller sees
	// (registry.PageView): a page is never served to a caller with
	// another view. 0 for the other kinds.
	view uint64
}

// Shared header values; net/http never modifies them.
var (
	cachePublic    = []string{"max-age=0, must-revalidate"}
	cachePrivate   = []string{"private, max-age=0, must-revalidate"}
	contentTypeHdr = map[pypi.Format][]string{
		pypi.HTML: {pypi.HTML.ContentType()}, pypi.HTMLv1: {pypi.HTMLv1.ContentType()}, pypi.JSONv1: {pypi.JSONv1.ContentType()},
	}
)

// pageCache keeps rendered pages keyed by repository, project and format,
// tagged with the repository's generation. Rendering a 10,000-project root
// costs milliseconds; serving it from here costs a map lookup.
type pageCache struct {
	mu  sync.RWMutex
	max int
	m   map[pageKey]*page
}

func (c *pageCache) init(max int) { c.max, c.m = max, make(map[pageKey]*page) }

func (c *pageCache) get(key pageKey, gen uint64) *page {
	c.mu.RLock()
	p := c.m[key]
	c.mu.RUnlock()
	if p != nil && p.gen == gen {
		return p
	}
	return nil
}

// last returns the page cached under key whatever its generation.
func (c *pageCache) last(key pageKey) *page {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[key]
}

func (c *pageCache) put(key pageKey, p *page) {
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m) // crude, but bounded; hot pages come back on the next hit
	}
	c.m[key] = p
	c.mu.Unlock()
}

func etagOf(b []byte) string {
	h := fnv.New128a()
	h.Write(b)
	var sum [16]byte
	return `"` + strconv.FormatUint(binary.BigEndian.Uint64(h.Sum(sum[:0])), 36) + `"`
}

// negotiate picks the response format from ?format= and Accept.
func negotiate(r *http.Request) (pypi.Format, error) {
	format := ""
	if r.URL.RawQuery != "" {
		format = r.URL.Query().Get("format")
	}
	f, ok := pypi.Negotiate(r.Header.Get("Accept"), format)
	if !ok {
		return f, errs.Errorf(errs.NotAcceptable, "httpapi", "no acceptable format: use text/html, application/vnd.pypi.simple.v1+html or application/vnd.pypi.simple.v1+json")
	}
	return f, nil
}

// warningStale is the header of a page served stale-if-error (RFC 7234's
// Warning 110; clients print it, caches understand it).
var warningStale = []string{`110 - "Response is Stale"`}

// servePage answers with a cached page or renders one. The index's
// PageToken says, without I/O, whether a rendered page is still current;
// when it cannot tell, build asks the index, whose answer carries the token
// of the data it used.
func (s *Server) servePage(w http.ResponseWriter, r *http.Request, repo registry.Repository, idx registry.Index, project string, build func(buf *bytes.Buffer, f pypi.Format) (registry.PageInfo, error)) error {
	f, err := negotiate(r)
	if err != nil {
		return err
	}
	key := pageKey{repo: repo.ID, project: project, format: f}
	// A virtual repository's page depends on the members the caller may
	// read: it is cached per view, only for the view it was built for, and
	// shared caches may keep it only when every member is public.
	cacheable, shared := true, repo.Public
	var tok uint64
	var current bool
	if v, ok := idx.(registry.Viewer); ok {
		pv := v.PageView(r.Context(), repo, project)
		key.view, tok, current, cacheable, shared = pv.ID, pv.Token, pv.Current, pv.Cacheable, shared && pv.Shared
	} else {
		tok, current = idx.PageToken(repo, project)
	}
	var p *page
	stale := false
	if cacheable && current {
		p = s.pages.get(key, tok)
	}
	if p == nil {
		var buf bytes.Buffer
		info, err := build(&buf, f)
		switch {
		case err != nil && errs.KindOf(err) == errs.Unavailable:
			// The database is unreachable: the last page rendered is
			// better than an error (stale-if-error, as remote pages do).
			if !cacheable {
				return err
			}
			if p = s.pages.last(key); p == nil {
				return err
			}
			s.log.Warn("serving a stale page: the database is unavailable", "repo", repo.Name, "project", project, "error", err)
			stale = true
		case err != nil:
			return err
		default:
			stale = info.Stale
			p = &page{gen: info.Token, body: buf.Bytes(), etag: etagOf(buf.Bytes())}
			p.etagHdr, p.lenHdr = []string{p.etag}, []string{strconv.Itoa(len(p.body))}
			if cacheable && !info.PerCaller && info.View == key.view {
				s.pages.put(key, p)
			}
		}
	}
	h := w.Header()
	if stale {
		h["Warning"] = warningStale
	}
	h["Content-Type"] = contentTypeHdr[f]
	h["Vary"] = varyAcceptEncoding
	if shared {
		h["Cache-Control"] = cachePublic
	} else {
		h["Cache-Control"] = cachePrivate
	}
	body, etag, etagHdr, lenHdr := p.body, p.etag, p.etagHdr, p.lenHdr
	if acceptsGzip(r) {
		if gz := p.gz.get(p.body, p.etag); gz != nil {
			body, etag, etagHdr, lenHdr = gz.body, gz.etag, gz.etagHdr, gz.lenHdr
			h["Content-Encoding"] = encodingGzip
		}
	}
	h["Etag"] = etagHdr
	// Either representation's tag validates: both stand for the same
	// rendering, and a client switching encodings needs no new copy.
	if inm := r.Header.Get("If-None-Match"); inm != "" && (etagMatch(inm, etag) || etag != p.etag && etagMatch(inm, p.etag)) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h["Content-Length"] = lenHdr
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	return nil
}

// sharedPage reports whether a page of repo is the same for every reader,
// so shared caches may keep it: a public repository, and for a virtual one
// only while every member is public (otherwise what it shows depends on
// the reader's token).
func (s *Server) sharedPage(ctx context.Context, repo registry.Repository, project string) bool {
	if !repo.Public {
		return false
	}
	idx, err := s.index(repo)
	if err != nil {
		return false
	}
	if v, ok := idx.(registry.Viewer); ok {
		return v.PageView(ctx, repo, project).Shared
	}
	return true
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

func (s *Server) rootPage(w http.ResponseWriter, r *http.Request) error {
	repo, rd, err := s.readable(r, "")
	if err != nil {
		return err
	}
	r = withReader(r, rd)
	idx, err := s.index(repo)
	if err != nil {
		return err
	}
	if _, whole := rd.CanRead(repo); !whole {
		return s.filteredRoot(w, r, repo, idx, rd)
	}
	return s.servePage(w, r, repo, idx, "", func(buf *bytes.Buffer, f pypi.Format) (registry.PageInfo, error) {
		l, info, err := idx.Root(r.Context(), repo)
		if err != nil {
			return info, err
		}
		if f == pypi.JSONv1 {
			pypi.RenderProjectListJSON(buf, l)
		} else {
			pypi.RenderProjectListHTML(buf, l)
		}
		return info, nil
	})
}

// filteredRoot renders, uncached, the root page of a private repository for
// a token limited to some of its projects: only those are listed.
func (s *Server) filteredRoot(w http.ResponseWriter, r *http.Request, repo registry.Repository, idx registry.Index, rd registry.Reader) error {
	f, err := negotiate(r)
	if err != nil {
		return err
	}
	l, _, err := idx.Root(r.Context(), repo)
	if err != nil {
		return err
	}
	kept := l.Projects[:0:0]
	for _, p := range l.Projects {
		if rd.CanReadProject(repo, p.Normalized) {
			kept = append(kept, p)
		}
	}
	l.Projects = kept
	var buf bytes.Buffer
	if f == pypi.JSONv1 {
		pypi.RenderProjectListJSON(&buf, l)
	} else {
		pypi.RenderProjectListHTML(&buf, l)
	}
	h := w.Header()
	h["Content-Type"] = contentTypeHdr[f]
	h["Vary"] = varyAcceptEncoding
	h["Cache-Control"] = []string{"private, no-store"}
	body := buf.Bytes()
	if acceptsGzip(r) {
		// Compressed per request: this page is never cached.
		if gz := gzipBytes(body); gz != nil {
			body = gz
			h["Content-Encoding"] = encodingGzip
		}
	}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	return nil
}

func (s *Server) projectPage(w http.ResponseWriter, r *http.Request) error {
	raw := r.PathValue("project")
	name := pypi.Normalize(raw)
	if name != raw {
		// PEP 503: clients request normalised names; redirect the rest.
		u := "../" + name + "/"
		if r.URL.RawQuery != "" {
			u += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, u, http.StatusMovedPermanently)
		return nil
	}
	repo, rd, err := s.readable(r, name)
	if err != nil {
		return err
	}
	r = withReader(r, rd)
	idx, err := s.index(repo)
	if err != nil {
		return err
	}
	return s.servePage(w, r, repo, idx, name, func(buf *bytes.Buffer, f pypi.Format) (registry.PageInfo, error) {
		p, info, err := idx.Project(r.Context(), repo, name)
		if err != nil {
			return info, err
		}
		if f == pypi.JSONv1 {
			pypi.RenderProjectJSON(buf, p)
		} else {
			pypi.RenderProjectHTML(buf, p)
		}
		return info, nil
	})
}
