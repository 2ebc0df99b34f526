package ui

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/catalog"
	"github.com/wharf-dev/wharf/internal/store"
)

// fixedReader serves one prepared project: the benchmark below measures
// the UI's own work (access checks, Markdown, sanitizing, templates),
// apart from the catalog's database reads.
type fixedReader struct {
	repo registry.Repository
	proj catalog.Project
}

func (f fixedReader) Repos(context.Context) ([]registry.Repository, error) {
	return []registry.Repository{f.repo}, nil
}
func (f fixedReader) Repo(context.Context, string) (registry.Repository, error) { return f.repo, nil }
func (f fixedReader) Settings(context.Context, registry.Repository) (registry.RepoSettings, error) {
	return registry.RepoSettings{}, nil
}
func (f fixedReader) Projects(context.Context, registry.Repository, store.ProjectQuery, catalog.Only) (catalog.Page, error) {
	return catalog.Page{}, nil
}
func (f fixedReader) Project(context.Context, registry.Repository, string) (catalog.Project, error) {
	return f.proj, nil
}
func (f fixedReader) Search(context.Context, []registry.Repository, string, func(string, string) bool, int) ([]store.ProjectEntry, error) {
	return nil, nil
}

// BenchmarkProjectPageRender renders a project with 500 releases of two
// files each from memory.
func BenchmarkProjectPageRender(b *testing.B) {
	readme := "# many\n\n" + strings.Repeat("A paragraph of the README with **bold** and a [link](https://example.org).\n\n", 40)
	meta := &registry.CoreMetadata{Name: "many", Summary: "A project with 500 releases", Description: readme,
		DescriptionContentType: "text/markdown", RequiresPython: ">=3.9", License: "MIT"}
	p := catalog.Project{Repo: "big", Name: "many", DisplayName: "many"}
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 499; i >= 0; i-- {
		v := fmt.Sprintf("1.%d.%d", i/10, i%10)
		rel := catalog.Release{Version: v, Metadata: meta}
		for _, name := range []string{"many-" + v + "-py3-none-any.whl", "many-" + v + ".tar.gz"} {
			rel.Files = append(rel.Files, catalog.File{File: registry.File{Filename: name, Version: v, Size: 12345,
				SHA256: strings.Repeat("ab", 32), UploadedAt: at.Add(time.Duration(i) * time.Hour)},
				Provenance: registry.Provenance{Kind: registry.ProvenanceToken, TokenID: "tok", TokenDescription: "ci-upload"}})
		}
		p.Releases = append(p.Releases, rel)
	}
	u, err := New(Config{Auth: auth.New(auth.Config{}), Read: fixedReader{repo: registry.Repository{ID: 1, Name: "big", Kind: registry.Hosted, Public: true}, proj: p}})
	if err != nil {
		b.Fatal(err)
	}
	h := u.Handler()
	serve := func() []byte {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ui/r/big/many/", nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("%d %s", rec.Code, rec.Body.String())
		}
		return rec.Body.Bytes()
	}
	body := serve()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(body)
	zw.Close()
	for b.Loop() {
		serve()
	}
	b.ReportMetric(float64(len(body)), "page-bytes")
	b.ReportMetric(float64(gz.Len()), "gzip-bytes")
}
