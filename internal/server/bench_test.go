package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/wharf-dev/wharf/internal/oidc/oidctest"
	"github.com/wharf-dev/wharf/internal/registry"
)

// BenchmarkMintTokenHTTP measures whole trusted-publishing exchanges over
// HTTP against a real server on SQLite, keys cached: verify, match the
// publisher, claim the jti, mint and store the upload token, audit. ID
// tokens are signed before the timer starts (each is usable once).
func BenchmarkMintTokenHTTP(b *testing.B) {
	w := oidctest.NewWorld(b, nil)
	srv := newOIDCServer(b, w)
	ctx := b.Context()
	repo, _ := srv.Store.Repos().Get(ctx, "main")
	srv.Store.Projects().Ensure(ctx, registry.Project{RepoID: repo.ID, Name: "widgets", DisplayName: "widgets"})
	rec, _ := w.Publishers[0].Record()
	if err := srv.Store.Publishers().Create(ctx, &rec); err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	bodies := make([][]byte, b.N+1)
	for i := range bodies {
		tok, err := w.GitHub.Token(w.Audience, w.Good) // a fresh jti each
		if err != nil {
			b.Fatal(err)
		}
		bodies[i], _ = json.Marshal(map[string]string{"token": tok})
	}
	var next atomic.Int64
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := bodies[next.Add(1)-1]
			resp, err := client.Post(hs.URL+"/_/oidc/mint-token", "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %s", resp.Status)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "exchanges/s")
}
