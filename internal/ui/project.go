package ui

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
)

type projectURL struct {
	Label, URL string
}

type fileRow struct {
	registry.File
	Provenance Provenance
}

type versionRow struct {
	Version, Canonical string
	Uploaded           string
	Yanked             bool
	YankedReason       string
	Selected           bool
	Files              int
}

type projectPage struct {
	Repo        registry.Repository
	Project     registry.Project
	Version     string // the release shown
	Latest      bool   // it is the current release
	Yanked      bool
	YankReason  string
	Summary     string
	Description description
	HasMeta     bool
	Meta        pypi.Metadata
	URLs        []projectURL
	License     string
	Install     []installCommand
	Versions    []versionRow
	Files       []fileRow
	CanYank     bool
	CanDelete   bool
}

type installCommand struct {
	Tool, Command string
}

func (u *UI) projectPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx, cancel := ctxTimeout(r)
	defer cancel()
	repo, err := u.repo(ctx, v, r.PathValue("repo"))
	if err != nil {
		return err
	}
	name := r.PathValue("project")
	if norm := pypi.Normalize(name); norm != name {
		http.Redirect(w, r, Prefix+"r/"+url.PathEscape(repo.Name)+"/"+url.PathEscape(norm)+"/", http.StatusMovedPermanently)
		return nil
	}
	if !v.canReadProject(repo, name) {
		return errNoProject(repo.Name, name)
	}
	if repo.Kind != registry.Hosted {
		return errs.Errorf(errs.NotFound, "ui",
			"repository '%s' is a %s repository: its projects are listed on its index page (%s)", repo.Name, repo.Kind, u.indexURL(r, repo.Name))
	}
	proj, files, err := u.cfg.Read.Project(ctx, repo, name)
	if err != nil {
		return err
	}
	rels := releases(files)
	cur := current(rels)
	if want := r.URL.Query().Get("version"); want != "" {
		cur = nil
		for _, rel := range rels {
			if rel.Version == want || rel.Canonical == want {
				cur = rel
			}
		}
		if cur == nil {
			return errs.Errorf(errs.NotFound, "ui", "project '%s' has no version '%s'", proj.Name, want)
		}
	}
	page := projectPage{Repo: repo, Project: proj,
		CanYank: v.may(registry.Yank, repo.Name, proj.Name), CanDelete: v.may(registry.Delete, repo.Name, proj.Name)}
	page.Install = installCommands(u.indexURL(r, repo.Name), repo.Name, proj.DisplayName)
	for _, rel := range rels {
		page.Versions = append(page.Versions, versionRow{Version: rel.Version, Canonical: rel.Canonical, Uploaded: formatDate(rel.Uploaded),
			Yanked: rel.Yanked, YankedReason: rel.YankedReason, Selected: rel == cur, Files: len(rel.Files)})
	}
	if cur != nil {
		page.Version, page.Yanked, page.YankReason = cur.Version, cur.Yanked, cur.YankedReason
		page.Latest = cur == current(rels)
		for _, f := range cur.Files {
			page.Files = append(page.Files, fileRow{File: f, Provenance: u.cfg.Read.Provenance(ctx, f)})
			if page.HasMeta {
				continue
			}
			m, ok, err := u.cfg.Read.Metadata(ctx, f)
			if err != nil {
				u.log.Warn("ui: reading core metadata", "file", f.Filename, "error", err.Error())
				continue
			}
			if ok {
				page.HasMeta, page.Meta = true, m
			}
		}
	}
	if page.HasMeta {
		m := page.Meta
		page.Summary = m.Summary
		page.Description = u.describe.render(m.Description, m.DescriptionContentType)
		page.URLs = projectURLs(m)
		page.License = m.LicenseExpression
		if page.License == "" && !strings.Contains(m.License, "\n") {
			page.License = m.License
		}
	}
	title := proj.DisplayName
	if page.Version != "" {
		title += " " + page.Version
	}
	return u.render(w, r, v, http.StatusOK, "project", title, page)
}

// installCommands are the ways to install the project from this
// repository with pip, uv and poetry.
func installCommands(index, repo, project string) []installCommand {
	return []installCommand{
		{"pip", "pip install --index-url " + index + " " + project},
		{"uv", "uv pip install --index-url " + index + " " + project},
		{"poetry", "poetry source add --priority=explicit " + repo + " " + index + "\npoetry add --source " + repo + " " + project},
	}
}

// projectURLs lists the home page and the Project-URL entries whose
// address is http(s); anything else (javascript:, data:) is dropped.
func projectURLs(m pypi.Metadata) []projectURL {
	var out []projectURL
	add := func(label, raw string) {
		raw = strings.TrimSpace(raw)
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return
		}
		out = append(out, projectURL{Label: strings.TrimSpace(label), URL: raw})
	}
	if m.HomePage != "" {
		add("Homepage", m.HomePage)
	}
	for _, pu := range m.ProjectURLs {
		label, addr, ok := strings.Cut(pu, ",")
		if ok {
			add(label, addr)
		}
	}
	return out
}
