package sqlstore

import (
	"fmt"
	"testing"

	"github.com/wharf-dev/wharf/internal/registry"
)

// seed creates a repository with nProjects projects, the first of which has
// nFiles files, in one transaction.
func seed(b *testing.B, s *Store, nProjects, nFiles int) (registry.Repository, registry.Project) {
	b.Helper()
	ctx := b.Context()
	r := registry.Repository{Name: "main", Kind: registry.Hosted}
	if err := s.Repos().Create(ctx, &r); err != nil {
		b.Fatal(err)
	}
	var first registry.Project
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	ts := s.bind(tx)
	for i := range nProjects {
		p, _, err := ts.Projects().Ensure(ctx, registry.Project{RepoID: r.ID, Name: fmt.Sprintf("project-%05d", i), DisplayName: fmt.Sprintf("Project_%05d", i)})
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			first = p
		}
	}
	for i := range nFiles {
		f := benchFile(first, i)
		if err := ts.Files().Add(ctx, &f); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return r, first
}

func benchFile(p registry.Project, i int) registry.File {
	return registry.File{
		RepoID: p.RepoID, ProjectID: p.ID,
		Filename: fmt.Sprintf("%s-1.%d.0-py3-none-any.whl", p.Name, i),
		Version:  fmt.Sprintf("1.%d.0", i), Release: fmt.Sprintf("1.%d", i),
		Filetype: registry.Wheel, PythonVersion: "py3", RequiresPython: ">=3.9", Size: 123456,
		SHA256:         fmt.Sprintf("%064x", i),
		BLAKE2b256:     fmt.Sprintf("%064x", i+1),
		MD5:            fmt.Sprintf("%032x", i),
		MetadataSHA256: fmt.Sprintf("%064x", i+2),
		UploadedBy:     "tok-bench",
	}
}

// BenchmarkProjectsList10k is the cold-start listing of a large repository.
func BenchmarkProjectsList10k(b *testing.B) {
	s := openSQLiteT(b, nil)
	r, _ := seed(b, s, 10_000, 0)
	b.ReportAllocs()
	for b.Loop() {
		ps, err := s.Projects().List(b.Context(), r.ID)
		if err != nil || len(ps) != 10_000 {
			b.Fatalf("List: %d, %v", len(ps), err)
		}
	}
}

// BenchmarkFilesListByProject500 is one project page of a busy project.
func BenchmarkFilesListByProject500(b *testing.B) {
	s := openSQLiteT(b, nil)
	_, p := seed(b, s, 1, 500)
	b.ReportAllocs()
	for b.Loop() {
		fs, err := s.Files().ListByProject(b.Context(), p.ID)
		if err != nil || len(fs) != 500 {
			b.Fatalf("ListByProject: %d, %v", len(fs), err)
		}
	}
}

// BenchmarkFilesAdd inserts files one after another, each its own
// transaction, as uploads do.
func BenchmarkFilesAdd(b *testing.B) {
	s := openSQLiteT(b, nil)
	_, p := seed(b, s, 1, 0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		f := benchFile(p, i)
		i++
		if err := s.Files().Add(b.Context(), &f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFilesGetByFilename is the download path's lookup.
func BenchmarkFilesGetByFilename(b *testing.B) {
	s := openSQLiteT(b, nil)
	_, p := seed(b, s, 1, 500)
	name := benchFile(p, 250).Filename
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Files().GetByFilename(b.Context(), p.RepoID, name); err != nil {
			b.Fatal(err)
		}
	}
}
