package sqlstore

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

// searchVocabulary are the words project names and summaries are made of.
var searchVocabulary = strings.Fields(`http client server async json yaml toml parser cli tool test mock data frame
	array numeric plot chart image audio video stream queue cache redis sql orm postgres sqlite mongo kafka grpc proto
	auth oauth token crypto hash sign verify cloud aws gcp azure docker kube deploy config log trace metric monitor
	alert web flask django fast api rest graph schema model train learn neural vision text nlp token spell lint format
	type check build package wheel index mirror sync file path glob watch time date zone money unit geo map route`)

// seedSearch creates n projects in one repository with a name of two
// vocabulary words and a number, a summary of six words, and their search
// words, in batched statements (what Catalog.Put would write one by one).
func seedSearch(b *testing.B, s *Store, n int) registry.Repository {
	b.Helper()
	ctx := b.Context()
	r := registry.Repository{Name: "main", Kind: registry.Hosted}
	if err := s.Repos().Create(ctx, &r); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	word := func() string { return searchVocabulary[rng.IntN(len(searchVocabulary))] }
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	const batch = 500
	for lo := 0; lo < n; lo += batch {
		var pv, tv []string
		var pargs, targs []any
		type proj struct{ name, summary string }
		var ps []proj
		for i := lo; i < min(lo+batch, n); i++ {
			name := fmt.Sprintf("%s-%s-%06d", word(), word(), i)
			summary := strings.Join([]string{word(), word(), word(), word(), word(), word()}, " ")
			ps = append(ps, proj{name, summary})
			k := len(pargs)
			pv = append(pv, fmt.Sprintf("($%d, $%d, $%d, $%d, $%d, $%d)", k+1, k+2, k+3, k+4, k+5, k+6))
			pargs = append(pargs, r.ID, name, name, int64(i), summary, int64(i))
		}
		rows, err := tx.QueryContext(ctx, `INSERT INTO projects (repo_id, name, display_name, created_at, summary, last_upload_at) VALUES `+
			strings.Join(pv, ", ")+` RETURNING id`, pargs...)
		if err != nil {
			b.Fatal(err)
		}
		var ids []int64
		for rows.Next() {
			var id int64
			rows.Scan(&id)
			ids = append(ids, id)
		}
		rows.Close()
		for j, p := range ps {
			for _, w := range store.SearchWords(p.name + " " + p.summary) {
				k := len(targs)
				tv = append(tv, fmt.Sprintf("($%d, $%d)", k+1, k+2))
				targs = append(targs, w, ids[j])
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO project_terms (term, project_id) VALUES `+strings.Join(tv, ", ")+
			` ON CONFLICT DO NOTHING`, targs...); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkSearch100k is GET /api/v1/search's query over 100,000 projects:
// an exact name (with its words), one common word prefix, two words.
func BenchmarkSearch100k(b *testing.B) {
	for _, d := range []struct {
		name string
		open func(testing.TB) *Store
	}{
		{"sqlite", func(t testing.TB) *Store { return openSQLiteT(t, nil) }},
		{"postgres", func(t testing.TB) *Store { return openPostgresT(t) }},
	} {
		b.Run(d.name, func(b *testing.B) {
			s := d.open(b)
			r := seedSearch(b, s, 100_000)
			for _, q := range []struct {
				label, name string
				words       []string
			}{
				{"exact", "http-client-000042", store.SearchWords("http-client-000042")},
				{"one-word", "http", []string{"http"}},
				{"prefix", "", []string{"ser"}},
				{"two-words", "", []string{"async", "queue"}},
			} {
				b.Run(q.label, func(b *testing.B) {
					for b.Loop() {
						if _, err := s.Catalog().Search(b.Context(), []int64{r.ID}, q.name, q.words, 20); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
