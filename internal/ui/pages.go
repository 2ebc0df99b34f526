package ui

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
)

// pageSize is how many projects a listing shows at once.
const pageSize = 50

type repoRow struct {
	registry.Repository
	Count int
}

type homePage struct {
	Repos  []repoRow
	Recent []Upload
}

func (u *UI) home(w http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx, cancel := ctxTimeout(r)
	defer cancel()
	repos, err := u.readableRepos(ctx, v)
	if err != nil {
		return err
	}
	page := homePage{}
	for _, repo := range repos {
		n, err := u.projectCount(ctx, v, repo)
		if err != nil {
			return err
		}
		page.Repos = append(page.Repos, repoRow{Repository: repo, Count: n})
	}
	only := func(repo, project string) bool {
		i := slices.IndexFunc(repos, func(x registry.Repository) bool { return x.Name == repo })
		return i >= 0 && v.canReadProject(repos[i], project)
	}
	if page.Recent, err = u.cfg.Read.Recent(ctx, repos, 10, only); err != nil {
		return err
	}
	return u.render(w, r, v, http.StatusOK, "home", "wharf", page)
}

// projectCount counts the projects of repo the viewer may read.
func (u *UI) projectCount(ctx context.Context, v *viewer, repo registry.Repository) (int, error) {
	only := v.only(repo)
	if only == nil {
		return u.cfg.Read.ProjectCount(ctx, repo)
	}
	pg, err := u.cfg.Read.Projects(ctx, repo, ProjectQuery{Only: only})
	return pg.Total, err
}

type searchHit struct {
	Repo string
	ProjectRow
}

type searchPage struct {
	Query     string
	Hits      []searchHit
	Truncated bool
}

// maxHits bounds one search's results.
const maxHits = 100

func (u *UI) search(w http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx, cancel := ctxTimeout(r)
	defer cancel()
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	page := searchPage{Query: q}
	if q != "" {
		repos, err := u.readableRepos(ctx, v)
		if err != nil {
			return err
		}
		for _, repo := range repos {
			pg, err := u.cfg.Read.Projects(ctx, repo, ProjectQuery{Search: q, Limit: maxHits, Only: v.only(repo)})
			if err != nil {
				return err
			}
			for _, p := range pg.Projects {
				page.Hits = append(page.Hits, searchHit{Repo: repo.Name, ProjectRow: p})
			}
			page.Truncated = page.Truncated || pg.Total > len(pg.Projects)
		}
		// Exact names first, then by name.
		norm := pypi.Normalize(q)
		slices.SortStableFunc(page.Hits, func(a, b searchHit) int {
			ea, eb := a.Name == norm, b.Name == norm
			switch {
			case ea && !eb:
				return -1
			case eb && !ea:
				return 1
			}
			return strings.Compare(a.Name, b.Name)
		})
		if len(page.Hits) > maxHits {
			page.Hits, page.Truncated = page.Hits[:maxHits], true
		}
	}
	return u.render(w, r, v, http.StatusOK, "search", "Search", page)
}

type memberRow struct {
	Name string
	Kind registry.RepoKind
}

type repoPage struct {
	Repo     registry.Repository
	Settings registry.RepoSettings
	Search   string
	Projects []ProjectRow
	Total    int
	Page     int
	Prev     string
	Next     string
	Members  []memberRow
	Hidden   int // members the viewer may not read
	IndexURL string
	CanAdmin bool
}

func (u *UI) repoPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx, cancel := ctxTimeout(r)
	defer cancel()
	repo, err := u.repo(ctx, v, r.PathValue("repo"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	pg := 1
	if s := q.Get("page"); s != "" {
		if pg, err = strconv.Atoi(s); err != nil || pg < 1 || pg > 1_000_000 {
			return errs.Errorf(errs.Invalid, "ui", "page must be a number from 1")
		}
	}
	page := repoPage{Repo: repo, Search: strings.TrimSpace(q.Get("q")), Page: pg, IndexURL: u.indexURL(r, repo.Name),
		CanAdmin: v.may(registry.Admin, repo.Name, "")}
	if page.Settings, err = u.cfg.Read.Settings(ctx, repo); err != nil {
		return err
	}
	if vs := page.Settings.Virtual; vs != nil {
		for _, m := range vs.Members {
			mr, err := u.cfg.Read.Repo(ctx, m)
			if err != nil || !v.canRead(mr) {
				page.Hidden++
				continue
			}
			page.Members = append(page.Members, memberRow{Name: mr.Name, Kind: mr.Kind})
		}
	}
	list, err := u.cfg.Read.Projects(ctx, repo, ProjectQuery{Search: page.Search, Offset: (pg - 1) * pageSize, Limit: pageSize, Only: v.only(repo)})
	if err != nil {
		return err
	}
	page.Projects, page.Total = list.Projects, list.Total
	link := func(n int) string {
		vals := url.Values{}
		if page.Search != "" {
			vals.Set("q", page.Search)
		}
		if n > 1 {
			vals.Set("page", strconv.Itoa(n))
		}
		if len(vals) == 0 {
			return "?"
		}
		return "?" + vals.Encode()
	}
	if pg > 1 {
		page.Prev = link(pg - 1)
	}
	if pg*pageSize < list.Total {
		page.Next = link(pg + 1)
	}
	return u.render(w, r, v, http.StatusOK, "repo", repo.Name, page)
}

// indexURL is the simple index of a repository as clients should use it.
func (u *UI) indexURL(r *http.Request, repo string) string {
	base := strings.TrimRight(u.cfg.PublicURL, "/")
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	return base + "/" + repo + "/simple/"
}

func pathEscape(s string) string { return url.PathEscape(s) }
