package ui

import (
	"html"
	"html/template"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/catalog"
)

type projectURL struct {
	Label, URL string
}

type fileRow struct {
	registry.File
	Provenance provenanceLine
}

type versionRow struct {
	Version      string
	Uploaded     string
	Yanked       bool
	YankedReason string
	Selected     bool
}

type projectPage struct {
	Repo        registry.Repository
	Project     catalog.Project
	Version     string // the release shown
	Latest      bool   // it is the current release
	Yanked      bool
	YankReason  string
	Summary     string
	Description description
	Meta        *registry.CoreMetadata
	URLs        []projectURL
	License     string
	Install     []installCommand
	Versions    []versionRow
	// VersionList is Versions as list items, written in Go: hundreds of
	// versions cost a template thousands of reflective calls.
	VersionList template.HTML
	Files       []fileRow
	Downloads   catalog.Downloads
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
		http.Redirect(w, r, projectPath(repo.Name, norm), http.StatusMovedPermanently)
		return nil
	}
	if !v.canReadProject(repo, name) {
		return errNoProject(repo.Name, name)
	}
	if repo.Kind != registry.Hosted {
		return errs.Errorf(errs.NotFound, "ui",
			"repository '%s' is a %s repository: its projects are listed on its index page (%s)", repo.Name, repo.Kind, u.indexURL(r, repo.Name))
	}
	proj, err := u.cfg.Read.Project(ctx, repo, name)
	if errs.KindOf(err) == errs.NotFound {
		return errNoProject(repo.Name, name)
	}
	if err != nil {
		return err
	}
	latest, ok := proj.Latest()
	cur := latest
	if want := r.URL.Query().Get("version"); want != "" {
		if cur, ok = proj.Release(want); !ok {
			return errs.Errorf(errs.NotFound, "ui", "project '%s' has no version '%s'", proj.Name, want)
		}
	}
	page := projectPage{Repo: repo, Project: proj, Downloads: proj.Downloads,
		CanYank: v.may(registry.Yank, repo.Name, proj.Name), CanDelete: v.may(registry.Delete, repo.Name, proj.Name)}
	page.Install = installCommands(u.indexURL(r, repo.Name), repo.Name, proj.DisplayName)
	for _, rel := range proj.Releases {
		page.Versions = append(page.Versions, versionRow{Version: rel.Version, Uploaded: formatDate(firstUpload(rel)),
			Yanked: rel.Yanked, YankedReason: rel.YankedReason, Selected: ok && rel.Version == cur.Version})
	}
	page.VersionList = versionList(page.Versions)
	if ok {
		page.Version, page.Yanked, page.YankReason = cur.Version, cur.Yanked, cur.YankedReason
		page.Latest = cur.Version == latest.Version
		for _, f := range cur.Files {
			page.Files = append(page.Files, fileRow{File: f.File, Provenance: describeProvenance(f.Provenance)})
		}
		if m := cur.Metadata; m != nil {
			page.Meta = m
			page.Summary = m.Summary
			page.Description = u.describe.render(m.Description, m.DescriptionContentType)
			page.URLs = projectURLs(m)
			page.License = m.LicenseExpression
			if page.License == "" && !strings.Contains(m.License, "\n") {
				page.License = m.License
			}
		}
	}
	title := proj.DisplayName
	if page.Version != "" {
		title += " " + page.Version
	}
	return u.render(w, r, v, http.StatusOK, "project", title, page)
}

func firstUpload(rel catalog.Release) time.Time {
	var t time.Time
	for _, f := range rel.Files {
		if t.IsZero() || f.UploadedAt.Before(t) {
			t = f.UploadedAt
		}
	}
	return t
}

// provenanceLine is a file's provenance as one sentence.
type provenanceLine struct {
	Line    string
	Trusted bool
}

// describeProvenance says how a file arrived: "published by trusted
// publishing from octo/demo, workflow release.yml at refs/tags/v1.2.0,
// commit abc1234, run 42", or "uploaded with token 'ci-upload'".
func describeProvenance(p registry.Provenance) provenanceLine {
	switch p.Kind {
	case registry.ProvenanceTrusted:
		parts := []string{"published by trusted publishing"}
		if p.Repository != "" {
			parts[0] += " from " + p.Repository
		}
		if p.WorkflowRef != "" {
			wf, _, _ := strings.Cut(p.WorkflowRef, "@")
			parts = append(parts, "workflow "+path.Base(wf))
			if p.Ref != "" {
				parts[len(parts)-1] += " at " + p.Ref
			}
		}
		if p.Environment != "" {
			parts = append(parts, "environment "+p.Environment)
		}
		if p.SHA != "" {
			parts = append(parts, "commit "+shorten(p.SHA, 7))
		}
		if p.RunID != "" {
			parts = append(parts, "run "+p.RunID)
		}
		if p.Issuer != "" && p.Repository == "" {
			parts = append(parts, "issuer "+p.Issuer)
		}
		return provenanceLine{Line: strings.Join(parts, ", "), Trusted: true}
	case registry.ProvenanceToken:
		if p.TokenDescription != "" {
			return provenanceLine{Line: "uploaded with token '" + p.TokenDescription + "' (" + p.TokenID + ")"}
		}
		return provenanceLine{Line: "uploaded with token " + p.TokenID}
	case registry.ProvenanceRemote:
		return provenanceLine{Line: "cached from " + p.Upstream + " on " + formatDateTime(p.FetchedAt)}
	}
	return provenanceLine{Line: "uploaded before wharf recorded provenance"}
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
func projectURLs(m *registry.CoreMetadata) []projectURL {
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

// versionList writes the versions as <li> items, every value escaped for
// its context (query string, text, attribute).
func versionList(vs []versionRow) template.HTML {
	var b strings.Builder
	b.Grow(len(vs) * 96)
	for _, v := range vs {
		b.WriteString("<li")
		if v.Selected {
			b.WriteString(` aria-current="page"`)
		}
		b.WriteString(`><a href="?version=`)
		b.WriteString(html.EscapeString(url.QueryEscape(v.Version)))
		b.WriteString(`">`)
		b.WriteString(html.EscapeString(v.Version))
		b.WriteString(`</a> <span class="muted">`)
		b.WriteString(html.EscapeString(v.Uploaded))
		b.WriteString(`</span>`)
		if v.Yanked {
			b.WriteString(` <span class="badge yanked" title="`)
			b.WriteString(html.EscapeString(v.YankedReason))
			b.WriteString(`">yanked</span>`)
			if v.YankedReason != "" {
				b.WriteString(` <span class="reason">`)
				b.WriteString(html.EscapeString(v.YankedReason))
				b.WriteString(`</span>`)
			}
		}
		b.WriteString("</li>\n")
	}
	return template.HTML(b.String()) //nolint:gosec // every value escaped above
}
