package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/catalog"
)

var contentTypeJSON = []string{"application/json"}

// pypiJSON answers PyPI's JSON API, GET /{repo}/pypi/{project}/json and
// /{repo}/pypi/{project}/{version}/json. Access is checked exactly as for
// the project's simple page (readable). Hosted repositories answer from the
// catalog (stored metadata and provenance); remote and virtual ones from
// their simple page and the latest release's core metadata.
func (s *Server) pypiJSON(w http.ResponseWriter, r *http.Request) error {
	raw, version := r.PathValue("project"), r.PathValue("version")
	name := pypi.Normalize(raw)
	if name != raw {
		u := "../" + name + "/json"
		if version != "" {
			u = "../../" + name + "/" + url.PathEscape(version) + "/json"
		}
		http.Redirect(w, r, u, http.StatusMovedPermanently)
		return nil
	}
	repo, rd, err := s.readable(r, name)
	if err != nil {
		return err
	}
	r = withReader(r, rd)
	p, serial, err := s.catalogProject(r.Context(), repo, name)
	if err != nil {
		return err
	}
	origin := requestOrigin(r)
	page, _ := url.Parse(origin + "/" + url.PathEscape(repo.Name) + "/simple/" + name + "/")
	links := catalog.JSONLinks{Page: page, Release: func(v string) string {
		return origin + "/" + url.PathEscape(repo.Name) + "/pypi/" + name + "/" + url.PathEscape(v) + "/json"
	}}
	j, err := catalog.PyPIJSON(p, version, serial, links)
	if err != nil {
		return err
	}
	body, err := json.Marshal(j)
	if err != nil {
		return err
	}
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	h["Vary"] = varyAcceptEncoding
	h["X-Pypi-Last-Serial"] = []string{strconv.FormatInt(serial, 10)}
	if s.sharedPage(r.Context(), repo, name) {
		h["Cache-Control"] = cachePublic
	} else {
		h["Cache-Control"] = cachePrivate
	}
	etag := etagOf(body)
	h["Etag"] = []string{etag}
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	if acceptsGzip(r) {
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

// catalogProject returns the project and its serial (the number that
// changes with it, PyPI's last_serial).
func (s *Server) catalogProject(ctx context.Context, repo registry.Repository, name string) (catalog.Project, int64, error) {
	if repo.Kind == registry.Hosted && s.cfg.Catalog != nil {
		p, err := s.cfg.Catalog.Project(ctx, repo, name)
		return p, int64(s.cfg.Hosted.Generation(repo.ID) & (1<<63 - 1)), err
	}
	idx, err := s.index(repo)
	if err != nil {
		return catalog.Project{}, 0, err
	}
	page, info, err := idx.Project(ctx, repo, name)
	if err != nil {
		return catalog.Project{}, 0, err
	}
	p := catalog.FromPage(repo.Name, page, nil)
	if l, ok := p.Latest(); ok {
		p = catalog.FromPage(repo.Name, page, s.releaseMetadata(ctx, repo, idx, l))
	}
	return p, int64(info.Token & (1<<63 - 1)), nil
}

// releaseMetadata reads the core metadata of a release's first file that
// advertises some (PEP 658); nil when none can be read.
func (s *Server) releaseMetadata(ctx context.Context, repo registry.Repository, idx registry.Index, rel catalog.Release) *registry.CoreMetadata {
	for _, f := range rel.Files {
		if f.MetadataSHA256 == "" {
			continue
		}
		d, err := idx.Open(ctx, repo, f.SHA256, f.Filename, true)
		if err != nil {
			s.log.Debug("json api: core metadata not readable", "repo", repo.Name, "filename", f.Filename, "error", err)
			continue
		}
		b, err := io.ReadAll(io.LimitReader(d.Content, pypi.MaxMetadataSize+1))
		d.Content.Close()
		if err != nil {
			continue
		}
		if m, err := pypi.ParseMetadata(b); err == nil {
			return registry.MetadataOf(m)
		}
	}
	return nil
}

// requestOrigin is scheme://host of the request as the client addressed
// it (a proxy in front sets X-Forwarded-Proto).
func requestOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
