package ui

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

// pageSize is how many projects a listing shows at once.
const pageSize = 50

type repoRow struct {
	registry.Repository
	Count int
	More  bool // Count is countCap and there are more
}

type homePage struct {
	Repos  []repoRow
	Recent []store.ProjectEntry
}

// recentUploads is how many recently uploaded projects the home page lists.
const recentUploads = 10

func (u *UI) home(w http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx, cancel := ctxTimeout(r)
	defer cancel()
	repos, err := u.readableRepos(ctx, v)
	if err != nil {
		return err
	}
	page := homePage{}
	for _, repo := range repos {
		n, more, err := u.projectCount(ctx, v, repo)
		if err != nil {
			return err
		}
		page.Repos = append(page.Repos, repoRow{Repository: repo, Count: n, More: more})
		if repo.Kind != registry.Hosted {
			continue
		}
		recent, err := u.cfg.Read.Projects(ctx, repo, store.ProjectQuery{Sort: store.SortLastUpload, Limit: recentUploads}, v.only(repo))
		if err != nil {
			return err
		}
		for _, e := range recent.Projects {
			if !e.LastUpload.IsZero() {
				e.Repo = repo.Name
				page.Recent = append(page.Recent, e)
			}
		}
	}
	slices.SortFunc(page.Recent, func(a, b store.ProjectEntry) int {
		return cmp.Or(b.LastUpload.Compare(a.LastUpload), strings.Compare(a.Name, b.Name))
	})
	page.Recent = page.Recent[:min(len(page.Recent), recentUploads)]
	return u.render(w, r, v, http.StatusOK, "home", "wharf", page)
}

// countCap bounds the projects the home page counts per repository:
// larger ones show "1000+" (the store keeps no count, and listing 10,000
// names on every visit to the home page is what paging avoids).
const countCap = 1000

// projectCount counts the projects of repo the viewer may read, up to
// countCap; more reports that there are more.
func (u *UI) projectCount(ctx context.Context, v *viewer, repo registry.Repository) (n int, more bool, err error) {
	if repo.Kind == registry.Virtual {
		return 0, false, nil
	}
	pg, err := u.cfg.Read.Projects(ctx, repo, store.ProjectQuery{Limit: countCap}, v.only(repo))
	return len(pg.Projects), pg.More, err
}

type searchPage struct {
	Query string
	Hits  []store.ProjectEntry
	Full  bool // as many hits as a search returns
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
		byName := map[string]registry.Repository{}
		for _, repo := range repos {
			byName[repo.Name] = repo
		}
		only := func(repo, project string) bool { return v.canReadProject(byName[repo], project) }
		if page.Hits, err = u.cfg.Read.Search(ctx, repos, q, only, maxHits); err != nil {
			return err
		}
		page.Full = len(page.Hits) == maxHits
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
	Projects []store.ProjectEntry
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
		if pg, err = strconv.Atoi(s); err != nil || pg < 1 || pg > 100_000 {
			return errs.Errorf(errs.Invalid, "ui", "page must be a number from 1 to 100000")
		}
	}
	page := repoPage{Repo: repo, Search: strings.TrimSpace(q.Get("q")), Page: pg, IndexURL: u.indexURL(r, repo.Name),
		CanAdmin: v.may(registry.Admin, repo.Name, "")}
	if page.Settings, err = u.cfg.Read.Settings(ctx, repo); err != nil {
		return err
	}
	if repo.Kind == registry.Virtual {
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
		return u.render(w, r, v, http.StatusOK, "repo", repo.Name, page)
	}
	// The catalog pages in the database: only this page's rows are read.
	list, err := u.cfg.Read.Projects(ctx, repo, store.ProjectQuery{Prefix: page.Search, Offset: (pg - 1) * pageSize, Limit: pageSize}, v.only(repo))
	if err != nil {
		return err
	}
	page.Projects = list.Projects
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
	if list.More {
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
