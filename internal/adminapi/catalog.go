package adminapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/catalog"
	"github.com/wharf-dev/wharf/internal/store"
)

// reader is a caller of the read-only catalog routes: a token, or nobody
// (anonymous callers read public repositories, as on the simple API).
type reader struct {
	p      auth.Principal
	authed bool
}

// readHandlerFunc is a catalog route.
type readHandlerFunc func(w http.ResponseWriter, r *http.Request, c reader) error

// handleRead authenticates when credentials are sent and lets anonymous
// callers through; the route decides with canRead.
func (a *API) handleRead(h readHandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c reader
		var err error
		if r.Header.Get("Authorization") != "" {
			c.p, err = a.authenticate(r)
			c.authed = err == nil
		}
		if err == nil {
			err = h(w, r, c)
		}
		if err != nil {
			a.fail(w, r, err)
		}
	})
}

// check applies the simple API's read rule to repo (and project, when not
// ""): public repositories are readable by anyone, private ones need a
// token whose scope covers them.
func (c reader) check(repo registry.Repository, project string) error {
	if repo.Public {
		return nil
	}
	if !c.authed {
		return errs.Errorf(errs.Unauthenticated, "adminapi", "repository '%s' is private: authenticate with a token", repo.Name)
	}
	return c.p.Check(registry.Read, repo.Name, project)
}

// only is the project filter of a caller limited to some projects of a
// private repository; nil when the caller may read every project.
func (c reader) only(repo registry.Repository) catalog.Only {
	if repo.Public || len(c.p.Scope.Projects) == 0 && len(c.p.Scope.Bindings) == 0 {
		return nil
	}
	return func(name string) bool { return c.p.Check(registry.Read, repo.Name, name) == nil }
}

// readableRepo looks the repository up after authentication, so anonymous
// callers learn nothing about private repositories.
func (a *API) readableRepo(r *http.Request, c reader, project string) (registry.Repository, error) {
	name := r.PathValue("repo")
	repo, err := repoByName(r.Context(), a.store, name)
	if errs.KindOf(err) == errs.NotFound && !c.authed {
		return repo, errs.Errorf(errs.Unauthenticated, "adminapi", "repository '%s' is private or does not exist: authenticate with a token", name)
	}
	if err != nil {
		return repo, err
	}
	return repo, c.check(repo, project)
}

func intParam(q map[string][]string, key string, dflt, lo, hi int) (int, error) {
	v := ""
	if vs := q[key]; len(vs) > 0 {
		v = vs[0]
	}
	if v == "" {
		return dflt, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, errs.Errorf(errs.Invalid, "adminapi", "%s must be a number from %d to %d", key, lo, hi)
	}
	return n, nil
}

func entryView(e store.ProjectEntry) ProjectEntry {
	return ProjectEntry{Repo: e.Repo, Name: e.Name, DisplayName: e.DisplayName, Summary: e.Summary, LastUpload: e.LastUpload}
}

// listProjects: GET /api/v1/repos/{repo}/projects?prefix=&sort=name|last_upload&offset=&limit=
func (a *API) listProjects(w http.ResponseWriter, r *http.Request, c reader) error {
	repo, err := a.readableRepo(r, c, "")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	pq := store.ProjectQuery{Prefix: q.Get("prefix"), Sort: q.Get("sort")}
	switch pq.Sort {
	case "", store.SortName, store.SortLastUpload:
	default:
		return errs.Errorf(errs.Invalid, "adminapi", "sort must be '%s' or '%s'", store.SortName, store.SortLastUpload)
	}
	if pq.Offset, err = intParam(q, "offset", 0, 0, 1<<30); err != nil {
		return err
	}
	if pq.Limit, err = intParam(q, "limit", 100, 1, 1000); err != nil {
		return err
	}
	page, err := a.catalog.Projects(r.Context(), repo, pq, c.only(repo))
	if err != nil {
		return err
	}
	out := ProjectPage{Projects: make([]ProjectEntry, len(page.Projects)), More: page.More}
	for i, e := range page.Projects {
		out.Projects[i] = entryView(e)
	}
	if page.More {
		out.NextOffset = pq.Offset + len(page.Projects)
	}
	return writeJSON(w, http.StatusOK, out)
}

// getProject: GET /api/v1/repos/{repo}/projects/{project}
func (a *API) getProject(w http.ResponseWriter, r *http.Request, c reader) error {
	name := pypi.Normalize(r.PathValue("project"))
	repo, err := a.readableRepo(r, c, name)
	if err != nil {
		return err
	}
	if repo.Kind != registry.Hosted {
		return errs.Errorf(errs.Invalid, "adminapi", "repository '%s' is %s: read its projects with the JSON API (/%s/pypi/%s/json)", repo.Name, repo.Kind, repo.Name, name)
	}
	p, err := a.catalog.Project(r.Context(), repo, name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, projectView(p))
}

func projectView(p catalog.Project) ProjectDetail {
	out := ProjectDetail{Repo: p.Repo, Name: p.Name, DisplayName: p.DisplayName, Summary: p.Summary,
		LastUpload: p.LastUpload, Downloads: p.Downloads, Releases: make([]ReleaseDetail, len(p.Releases))}
	for i, rel := range p.Releases {
		rd := ReleaseDetail{Version: rel.Version, Yanked: rel.Yanked, YankedReason: rel.YankedReason,
			Downloads: rel.Downloads, Files: make([]FileDetail, len(rel.Files))}
		for j, f := range rel.Files {
			rd.Files[j] = FileDetail{
				Filename: f.Filename, Packagetype: string(f.Filetype), PythonVersion: f.PythonVersion,
				RequiresPython: f.RequiresPython, Size: f.Size, SHA256: f.SHA256, MD5: f.MD5, BLAKE2b256: f.BLAKE2b256,
				UploadedAt: f.UploadedAt, Yanked: f.Yanked, YankedReason: f.YankedReason, Provenance: f.Provenance,
			}
		}
		out.Releases[i] = rd
	}
	return out
}

// search: GET /api/v1/search?q=&limit= over the repositories the caller
// may read, the exact normalised name first.
func (a *API) search(w http.ResponseWriter, r *http.Request, c reader) error {
	q := r.URL.Query()
	text := q.Get("q")
	if text == "" {
		return errs.Errorf(errs.Invalid, "adminapi", "search needs ?q=")
	}
	limit, err := intParam(q, "limit", 20, 1, 200)
	if err != nil {
		return err
	}
	all, err := a.store.Repos().List(r.Context())
	if err != nil {
		return err
	}
	var repos []registry.Repository
	byName := map[string]registry.Repository{}
	for _, repo := range all {
		if repo.Kind == registry.Hosted && c.check(repo, "") == nil {
			repos = append(repos, repo)
			byName[repo.Name] = repo
		}
	}
	only := func(repo, project string) bool {
		f := c.only(byName[repo])
		return f == nil || f(project)
	}
	hits, err := a.catalog.Search(r.Context(), repos, text, only, limit)
	if err != nil {
		return err
	}
	out := make([]ProjectEntry, len(hits))
	for i, h := range hits {
		out[i] = entryView(h)
	}
	return writeJSON(w, http.StatusOK, SearchResult{Query: text, Projects: out})
}

// backfill: POST /api/v1/catalog/backfill records the details of files
// stored before wharf kept them (the server also does it at start).
func (a *API) backfill(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if err := requireGlobalAdmin(p); err != nil {
		return err
	}
	if a.hosted == nil {
		return errors.New("no hosted service")
	}
	n, err := a.hosted.Backfill(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, BackfillResult{Filled: n})
}

// ProjectEntry is one project of a listing or search.
type ProjectEntry struct {
	Repo        string    `json:"repo"`
	Name        string    `json:"name"`
	DisplayName string    `json:"display_name"`
	Summary     string    `json:"summary"`
	LastUpload  time.Time `json:"last_upload,omitzero"`
}

// ProjectPage is one page of GET /api/v1/repos/{repo}/projects.
type ProjectPage struct {
	Projects   []ProjectEntry `json:"projects"`
	More       bool           `json:"more"`
	NextOffset int            `json:"next_offset,omitempty"`
}

// ProjectDetail is GET /api/v1/repos/{repo}/projects/{project}.
type ProjectDetail struct {
	Repo        string            `json:"repo"`
	Name        string            `json:"name"`
	DisplayName string            `json:"display_name"`
	Summary     string            `json:"summary"`
	LastUpload  time.Time         `json:"last_upload,omitzero"`
	Downloads   catalog.Downloads `json:"downloads"`
	Releases    []ReleaseDetail   `json:"releases"` // newest first
}

// ReleaseDetail is one version of a project.
type ReleaseDetail struct {
	Version      string            `json:"version"`
	Yanked       bool              `json:"yanked"`
	YankedReason string            `json:"yanked_reason,omitempty"`
	Downloads    catalog.Downloads `json:"downloads"`
	Files        []FileDetail      `json:"files"`
}

// FileDetail is one file with its provenance.
type FileDetail struct {
	Filename       string              `json:"filename"`
	Packagetype    string              `json:"packagetype"`
	PythonVersion  string              `json:"python_version"`
	RequiresPython string              `json:"requires_python,omitempty"`
	Size           int64               `json:"size"`
	SHA256         string              `json:"sha256"`
	MD5            string              `json:"md5,omitempty"`
	BLAKE2b256     string              `json:"blake2b_256,omitempty"`
	UploadedAt     time.Time           `json:"uploaded_at"`
	Yanked         bool                `json:"yanked"`
	YankedReason   string              `json:"yanked_reason,omitempty"`
	Provenance     registry.Provenance `json:"provenance"`
}

// SearchResult is GET /api/v1/search.
type SearchResult struct {
	Query    string         `json:"query"`
	Projects []ProjectEntry `json:"projects"`
}

// BackfillResult is POST /api/v1/catalog/backfill.
type BackfillResult struct {
	Filled int `json:"filled"`
}
