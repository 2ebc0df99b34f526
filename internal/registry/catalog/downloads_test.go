package catalog_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/catalog"
	"github.com/wharf-dev/wharf/internal/store/sqlstore"
)

// TestCounterReplicas: two counters (two replicas) over one database add
// up; nothing is written until a flush; the metric counts per repository.
func TestCounterReplicas(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, err := sqlstore.Open(ctx, sqlstore.Config{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	repo := registry.Repository{Name: "local", Kind: registry.Hosted, Public: true}
	if err := st.Repos().Create(ctx, &repo); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	reg := prometheus.NewRegistry()
	a := catalog.NewCounter(catalog.CounterConfig{Store: st.Downloads(), Now: clock, Metrics: reg})
	b := catalog.NewCounter(catalog.CounterConfig{Store: st.Downloads(), Now: clock})
	for range 3 {
		a.Count(repo, "Demo_Pkg-1.0.0-py3-none-any.whl")
	}
	b.Count(repo, "demo-pkg-1.0.tar.gz")
	b.Count(repo, "demo_pkg-2.0.tar.gz")
	b.Count(repo, "not a distribution")

	if got, _ := st.Downloads().Counts(ctx, repo.ID, "demo-pkg", "", now.Truncate(24*time.Hour)); len(got) != 0 {
		t.Fatalf("counts written before a flush: %v", got)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := st.Downloads().Counts(ctx, repo.ID, "demo-pkg", "", now.Truncate(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"1": 4, "2": 1} // 1.0.0 and 1.0 are one release
	if len(got) != 2 || got[0].Version != "1" || got[0].Count != want["1"] || got[1].Version != "2" || got[1].Count != want["2"] {
		t.Errorf("counts = %+v, want %v", got, want)
	}
	var m dto.Metric
	if err := a.Metric().WithLabelValues("local").Write(&m); err != nil || m.GetCounter().GetValue() != 3 {
		t.Errorf("metric = %v, %v; want 3", m.GetCounter().GetValue(), err)
	}
}
