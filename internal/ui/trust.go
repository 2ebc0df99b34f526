package ui

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/wharf-dev/wharf/internal/adminapi"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/oidc"
)

// Trusted publishers: the CI identities allowed to upload a project
// without a stored token. Adding and removing go through the admin API.

func (u *UI) trustRoutes() {
	m := u.mux
	m.Handle("GET /ui/publishers", u.page(u.publishers))
	m.Handle("POST /ui/publishers", u.form(u.addPublisher))
	m.Handle("POST /ui/publishers/{id}/remove", u.form(u.removePublisher))
}

// publisherForm is the add form as typed.
type publisherForm struct {
	Kind, Repo, Project                                       string
	Pending                                                   bool
	Owner, OwnerID, Repository, RepositoryID, Workflow, GHEnv string
	Namespace, GLProject, CIFile, GLEnv                       string
	Issuer, Claims                                            string
}

type publishersPage struct {
	Publishers []adminapi.PublisherInfo
	Form       publisherForm
	Error      string
	Repo       string
}

func (u *UI) publishers(w http.ResponseWriter, r *http.Request, v *viewer) error {
	repo := r.URL.Query().Get("repo")
	return u.renderPublishers(w, r, v, http.StatusOK, publishersPage{Repo: repo, Form: publisherForm{Kind: "github", Repo: repo, CIFile: ".gitlab-ci.yml"}})
}

func (u *UI) renderPublishers(w http.ResponseWriter, r *http.Request, v *viewer, status int, page publishersPage) error {
	a, err := u.admin(v)
	if err != nil {
		return err
	}
	if page.Publishers, err = a.ListPublishers(r.Context(), adminapi.PublisherQuery{Repo: page.Repo}); err != nil {
		return err
	}
	return u.render(w, r, v, status, "publishers", "Trusted publishers", page)
}

func readPublisherForm(r *http.Request) publisherForm {
	g := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	return publisherForm{Kind: g("kind"), Repo: g("repo"), Project: g("project"), Pending: r.PostFormValue("pending") == "on",
		Owner: g("owner"), OwnerID: g("owner_id"), Repository: g("repository"), RepositoryID: g("repository_id"), Workflow: g("workflow"), GHEnv: g("gh_environment"),
		Namespace: g("namespace"), GLProject: g("gl_project"), CIFile: g("ci_file_path"), GLEnv: g("gl_environment"),
		Issuer: g("issuer"), Claims: r.PostFormValue("claims")}
}

// publisher builds the publisher the form describes; the admin API
// validates it.
func (f publisherForm) publisher() (oidc.Publisher, error) {
	p := oidc.Publisher{Repo: f.Repo, Project: f.Project, Pending: f.Pending, Kind: f.Kind}
	switch f.Kind {
	case "github":
		p.GitHub = &oidc.GitHubPublisher{Owner: f.Owner, OwnerID: f.OwnerID, Repository: f.Repository, RepositoryID: f.RepositoryID,
			Workflow: f.Workflow, Environment: f.GHEnv}
	case "gitlab":
		p.GitLab = &oidc.GitLabPublisher{Namespace: f.Namespace, Project: f.GLProject, CIFilePath: f.CIFile, Environment: f.GLEnv}
	case "generic":
		claims := map[string]string{}
		for _, line := range strings.Split(f.Claims, "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			k, val, ok := strings.Cut(line, "=")
			if !ok {
				return p, errs.Errorf(errs.Invalid, "ui", "claim %q: write one claim a line as name=value", line)
			}
			claims[strings.TrimSpace(k)] = strings.TrimSpace(val)
		}
		p.Generic = &oidc.GenericPublisher{Issuer: f.Issuer, Claims: claims}
	default:
		return p, errs.Errorf(errs.Invalid, "ui", "choose GitHub, GitLab or another issuer")
	}
	return p, nil
}

func (u *UI) addPublisher(w http.ResponseWriter, r *http.Request, v *viewer) error {
	a, err := u.admin(v)
	if err != nil {
		return err
	}
	f := readPublisherForm(r)
	p, err := f.publisher()
	if err == nil {
		_, err = a.AddPublisher(r.Context(), p)
	}
	if err != nil {
		if k := errs.KindOf(err); k != errs.Invalid && k != errs.Conflict && k != errs.NotFound {
			return err
		}
		return u.renderPublishers(w, r, v, http.StatusBadRequest, publishersPage{Form: f, Error: formMessage(err)})
	}
	http.Redirect(w, r, Prefix+"publishers", http.StatusSeeOther)
	return nil
}

func (u *UI) removePublisher(w http.ResponseWriter, r *http.Request, v *viewer) error {
	a, err := u.admin(v)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return errs.Errorf(errs.NotFound, "ui", "no publisher %q", r.PathValue("id"))
	}
	if err := a.RemovePublisher(r.Context(), id); err != nil {
		return err
	}
	http.Redirect(w, r, Prefix+"publishers", http.StatusSeeOther)
	return nil
}
