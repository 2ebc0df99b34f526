// Package catalog answers "what is inside, who put it there": listings of a
// repository's projects, one project with its releases, files, core
// metadata and provenance, search across repositories, and PyPI's JSON API
// built from them. The admin API, the PyPI-facing JSON routes and the web
// UI all read through it; callers decide what the caller may read and pass
// it in (Only), so the rules stay where the simple API keeps them.
package catalog

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

// Config holds the service's dependencies.
type Config struct {
	Store store.Store
	Now   func() time.Time
}

// Service is the catalog domain service.
type Service struct {
	store store.Store
	now   func() time.Time
}

// New builds a Service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{store: cfg.Store, now: cfg.Now}
}

// Only reports whether the caller may read a project (PEP 503 normalised)
// of the repository at hand; nil allows every project.
type Only func(project string) bool

// Page is one page of a listing.
type Page struct {
	Projects []store.ProjectEntry
	More     bool // a next page exists
}

// Downloads are a project's or release's download counts.
type Downloads struct {
	LastDay   int64 `json:"last_day"`
	LastWeek  int64 `json:"last_week"`
	LastMonth int64 `json:"last_month"`
}

// Project is one project with everything known about it.
type Project struct {
	Repo        string
	Name        string // normalised
	DisplayName string
	Summary     string
	LastUpload  time.Time
	// Releases, newest version first (PEP 440 order).
	Releases  []Release
	Downloads Downloads
}

// Release is one version with its files.
type Release struct {
	Version      string
	Yanked       bool // every file of the release is yanked
	YankedReason string
	// Metadata is the core metadata of the release's first uploaded file
	// that has some (PyPI keeps the first upload's); nil when none.
	Metadata  *registry.CoreMetadata
	Files     []File
	Downloads Downloads
}

// File is one distribution file with its provenance.
type File struct {
	registry.File
	// URL is where the file is downloaded: relative to the project's
	// simple page (../../files/...) for local files, as the index gives.
	URL        string
	Metadata   *registry.CoreMetadata
	Provenance registry.Provenance
}

// Latest returns the newest release that is not a pre-release, else the
// newest; ok is false when the project has no release.
func (p Project) Latest() (Release, bool) {
	for _, r := range p.Releases {
		if !r.Yanked {
			if v, err := pypi.ParseVersion(r.Version); err == nil && !v.IsPrerelease() {
				return r, true
			}
		}
	}
	if len(p.Releases) == 0 {
		return Release{}, false
	}
	return p.Releases[0], true
}

// Release returns the release whose version equals version under PEP 440.
func (p Project) Release(version string) (Release, bool) {
	want, err := pypi.ParseVersion(version)
	if err != nil {
		return Release{}, false
	}
	for _, r := range p.Releases {
		if v, err := pypi.ParseVersion(r.Version); err == nil && pypi.Compare(v, want) == 0 {
			return r, true
		}
	}
	return Release{}, false
}

// maxListScan bounds the rows read to fill one page for a caller limited
// to some projects.
const maxListScan = 100_000

// Projects returns a page of a hosted repository's projects. With only,
// projects the caller may not read are skipped before paging, so pages
// stay full and offsets stay stable for that caller.
func (s *Service) Projects(ctx context.Context, repo registry.Repository, q store.ProjectQuery, only Only) (Page, error) {
	q.RepoID = repo.ID
	q.Prefix = normalizedPrefix(q.Prefix)
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 100
	}
	if repo.Kind != registry.Hosted {
		return s.cachedProjects(ctx, repo, q, only)
	}
	if only == nil {
		ps, more, err := s.store.Catalog().Projects(ctx, q)
		return Page{Projects: ps, More: more}, err
	}
	want, skip := q.Limit, q.Offset
	scan := store.ProjectQuery{RepoID: repo.ID, Prefix: q.Prefix, Sort: q.Sort, Limit: 500}
	var out Page
	for scan.Offset < maxListScan {
		ps, more, err := s.store.Catalog().Projects(ctx, scan)
		if err != nil {
			return Page{}, err
		}
		for _, p := range ps {
			if !only(p.Name) {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			if len(out.Projects) == want {
				out.More = true
				return out, nil
			}
			out.Projects = append(out.Projects, p)
		}
		if !more {
			break
		}
		scan.Offset += len(ps)
	}
	return out, nil
}

// cachedProjects lists a remote repository's cached projects by name
// (what it holds is what was fetched); a virtual repository lists nothing
// of its own.
func (s *Service) cachedProjects(ctx context.Context, repo registry.Repository, q store.ProjectQuery, only Only) (Page, error) {
	if repo.Kind != registry.Remote {
		return Page{}, errs.Errorf(errs.Invalid, "catalog", "repository '%s' is virtual: list its member repositories", repo.Name)
	}
	names, err := s.store.Remote().Projects(ctx, repo.ID)
	if err != nil {
		return Page{}, err
	}
	var out Page
	skip := q.Offset
	for _, n := range names {
		if q.Prefix != "" && !strings.HasPrefix(n, q.Prefix) || only != nil && !only(n) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		if len(out.Projects) == q.Limit {
			out.More = true
			break
		}
		out.Projects = append(out.Projects, store.ProjectEntry{Project: registry.Project{RepoID: repo.ID, Name: n, DisplayName: n}, Repo: repo.Name})
	}
	return out, nil
}

// normalizedPrefix is a prefix of PEP 503 normalised names: lower case,
// runs of - _ . as one -.
func normalizedPrefix(p string) string {
	if p == "" {
		return ""
	}
	n := pypi.Normalize(p)
	if strings.ContainsAny(p[len(p)-1:], "-_.") && !strings.HasSuffix(n, "-") {
		n += "-"
	}
	return n
}

// Project returns a hosted project with its releases, files, metadata,
// provenance and download counts; errs.NotFound when missing.
func (s *Service) Project(ctx context.Context, repo registry.Repository, name string) (Project, error) {
	name = pypi.Normalize(name)
	p, err := s.store.Projects().Get(ctx, repo.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return Project{}, errs.Errorf(errs.NotFound, "catalog", "project '%s' not found in repository '%s'", name, repo.Name)
	}
	if err != nil {
		return Project{}, err
	}
	files, err := s.store.Files().ListByProject(ctx, p.ID)
	if err != nil {
		return Project{}, err
	}
	details, err := s.store.Catalog().ByProject(ctx, p.ID)
	if err != nil {
		return Project{}, err
	}
	out := Project{Repo: repo.Name, Name: p.Name, DisplayName: p.DisplayName}
	fs := make([]File, len(files))
	for i, f := range files {
		d := details[f.ID]
		fs[i] = File{File: f, URL: "../../files/" + f.SHA256 + "/" + f.Filename, Metadata: d.Metadata, Provenance: d.Provenance}
	}
	out.Releases = group(fs)
	for _, f := range fs {
		if f.UploadedAt.After(out.LastUpload) {
			out.LastUpload = f.UploadedAt
		}
	}
	if l, ok := out.Latest(); ok && l.Metadata != nil {
		out.Summary = l.Metadata.Summary
	}
	if err := s.addDownloads(ctx, repo, &out); err != nil {
		return Project{}, err
	}
	return out, nil
}

// group sorts files into releases, newest version first; inside a
// release files are in upload order, then by filename.
func group(fs []File) []Release {
	type keyed struct {
		v pypi.Version
		f File
	}
	ks := make([]keyed, len(fs))
	for i, f := range fs {
		v, _ := pypi.ParseVersion(f.Version)
		ks[i] = keyed{v, f}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int {
		if c := pypi.Compare(b.v, a.v); c != 0 {
			return c
		}
		if c := a.f.UploadedAt.Compare(b.f.UploadedAt); c != 0 {
			return c
		}
		return strings.Compare(a.f.Filename, b.f.Filename)
	})
	var out []Release
	for i, k := range ks {
		if i == 0 || pypi.Compare(ks[i-1].v, k.v) != 0 {
			out = append(out, Release{Version: k.f.Version, Yanked: true})
		}
		r := &out[len(out)-1]
		r.Files = append(r.Files, k.f)
		if !k.f.Yanked {
			r.Yanked = false
		} else if r.YankedReason == "" {
			r.YankedReason = k.f.YankedReason
		}
		if r.Metadata == nil {
			r.Metadata = k.f.Metadata
		}
	}
	for i := range out {
		if !out[i].Yanked {
			out[i].YankedReason = ""
		}
	}
	return out
}

// addDownloads fills the project's and releases' counts of the last day,
// week and month (30 days), today included.
func (s *Service) addDownloads(ctx context.Context, repo registry.Repository, p *Project) error {
	today := s.now().UTC().Truncate(24 * time.Hour)
	counts, err := s.store.Downloads().Counts(ctx, repo.ID, p.Name, "", today.AddDate(0, 0, -29))
	if err != nil {
		return err
	}
	idx := map[string]*Downloads{}
	for i := range p.Releases {
		v, _ := pypi.ParseVersion(p.Releases[i].Version)
		idx[v.Canonical()] = &p.Releases[i].Downloads
	}
	for _, c := range counts {
		add := func(d *Downloads) {
			d.LastMonth += c.Count
			if !c.Day.Before(today.AddDate(0, 0, -6)) {
				d.LastWeek += c.Count
			}
			if !c.Day.Before(today) {
				d.LastDay += c.Count
			}
		}
		add(&p.Downloads)
		if d := idx[c.Version]; d != nil {
			add(d)
		}
	}
	return nil
}

// Search finds projects by name and summary words in the given
// repositories (those the caller may read), the exact normalised name
// first. only, when set, filters (repository, project) pairs for a caller
// limited to some projects.
func (s *Service) Search(ctx context.Context, repos []registry.Repository, text string, only func(repo, project string) bool, limit int) ([]store.ProjectEntry, error) {
	if limit <= 0 || limit > 200 {
		limit = 20
	}
	text = strings.TrimSpace(text)
	if text == "" || len(repos) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(repos))
	for i, r := range repos {
		ids[i] = r.ID
	}
	name := ""
	if pypi.ValidName(text) {
		name = pypi.Normalize(text)
	}
	fetch := limit
	if only != nil {
		fetch = limit * 5
	}
	hits, err := s.store.Catalog().Search(ctx, ids, name, store.SearchWords(text), fetch)
	if err != nil || only == nil {
		return hits, err
	}
	out := hits[:0]
	for _, h := range hits {
		if only(h.Repo, h.Name) && len(out) < limit {
			out = append(out, h)
		}
	}
	return out, nil
}
