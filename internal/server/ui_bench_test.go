package server_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wharf-dev/wharf/internal/config"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/server"
)

// benchUIServer is a server with a public hosted repository "big".
func benchUIServer(b *testing.B) (*server.Server, registry.Repository) {
	b.Helper()
	cfg := embeddedConfig(b)
	cfg.Repositories = []config.Repository{{Name: "big", Kind: registry.Hosted}}
	srv, err := server.New(b.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	repo, err := srv.Store.Repos().Get(b.Context(), "big")
	if err != nil {
		b.Fatal(err)
	}
	return srv, repo
}

// benchPage serves path once per iteration, server-side only (no network),
// and reports the page's size and its gzip size.
func benchPage(b *testing.B, h http.Handler, path string) {
	b.Helper()
	serve := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body.String()[:min(rec.Body.Len(), 300)])
		}
		return rec
	}
	body := serve().Body.Bytes()
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.DefaultCompression)
	zw.Write(body)
	zw.Close()
	b.ResetTimer()
	for b.Loop() {
		serve()
	}
	b.ReportMetric(float64(len(body)), "page-bytes")
	b.ReportMetric(float64(gz.Len()), "gzip-bytes")
}

// BenchmarkUIProjectPage500Versions renders the page of a project with 500
// releases (a wheel and an sdist each, core metadata with a Markdown
// README, token provenance) from SQLite.
func BenchmarkUIProjectPage500Versions(b *testing.B) {
	srv, repo := benchUIServer(b)
	ctx := b.Context()
	p, _, err := srv.Store.Projects().Ensure(ctx, registry.Project{RepoID: repo.ID, Name: "many", DisplayName: "many"})
	if err != nil {
		b.Fatal(err)
	}
	readme := "# many\n\n" + strings.Repeat("A paragraph of the README with **bold** and a [link](https://example.org).\n\n", 40)
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 500 {
		version := fmt.Sprintf("1.%d.%d", i/10, i%10)
		for j, kind := range []struct {
			name string
			ft   registry.Filetype
		}{{"many-" + version + "-py3-none-any.whl", registry.Wheel}, {"many-" + version + ".tar.gz", registry.Sdist}} {
			sum := fmt.Sprintf("%063x%d", i, j)
			f := registry.File{RepoID: repo.ID, ProjectID: p.ID, Filename: kind.name, Version: version, Release: version,
				Filetype: kind.ft, PythonVersion: "py3", Size: 12345, SHA256: sum, UploadedAt: at.Add(time.Duration(i) * time.Hour), UploadedBy: "tok"}
			if err := srv.Store.Files().Add(ctx, &f); err != nil {
				b.Fatal(err)
			}
			meta := &registry.CoreMetadata{Name: "many", Version: version, Summary: "A project with 500 releases",
				Description: readme, DescriptionContentType: "text/markdown", RequiresPython: ">=3.9", License: "MIT",
				Classifiers: []string{"Programming Language :: Python :: 3"}, ProjectURLs: []string{"Source, https://example.org/many"}}
			prov := registry.Provenance{Kind: registry.ProvenanceToken, TokenID: "tok", TokenDescription: "ci-upload", UploadedAt: f.UploadedAt}
			if err := srv.Store.Catalog().Put(ctx, f, registry.FileDetails{FileID: f.ID, Metadata: meta, Provenance: prov}); err != nil {
				b.Fatal(err)
			}
		}
	}
	benchPage(b, srv.Handler(), "/ui/r/big/many/")
}

// BenchmarkUIRepoPage10000Projects renders a page deep into the listing of
// a repository with 10,000 projects: the catalog pages in the database,
// so the cost is one page's rows, not the repository's.
func BenchmarkUIRepoPage10000Projects(b *testing.B) {
	srv, repo := benchUIServer(b)
	ctx := b.Context()
	for i := range 10_000 {
		name := fmt.Sprintf("project-%05d", i)
		if _, _, err := srv.Store.Projects().Ensure(ctx, registry.Project{RepoID: repo.ID, Name: name, DisplayName: name}); err != nil {
			b.Fatal(err)
		}
	}
	for _, path := range []string{"/ui/r/big/", "/ui/r/big/?page=150", "/ui/r/big/?q=project-09"} {
		b.Run(strings.TrimPrefix(path, "/ui/r/big/"), func(b *testing.B) { benchPage(b, srv.Handler(), path) })
	}
	b.Run("home", func(b *testing.B) { benchPage(b, srv.Handler(), "/ui/") })
}
