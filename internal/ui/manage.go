package ui

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wharf-dev/wharf/internal/adminapi"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
)

// The pages that change things. Each calls the admin API's operation as
// the signed-in viewer, so the API's checks, validation and audit apply;
// the UI only decides which buttons to show.

func (u *UI) manageRoutes() {
	m := u.mux
	const project = "/ui/r/{repo}/{project}/"
	m.Handle("POST "+project+"yank", u.form(u.yank))
	m.Handle("POST "+project+"unyank", u.form(u.unyank))
	m.Handle("POST "+project+"delete", u.form(u.deleteRelease))
	m.Handle("GET /ui/tokens", u.page(u.tokens))
	m.Handle("POST /ui/tokens", u.form(u.createToken))
	m.Handle("POST /ui/tokens/{id}/revoke", u.form(u.revokeToken))
	m.Handle("GET /ui/repos/new", u.page(u.newRepoForm))
	m.Handle("POST /ui/repos", u.form(u.createRepo))
	m.Handle("GET /ui/r/{repo}/-/settings", u.page(u.repoSettingsForm))
	m.Handle("POST /ui/r/{repo}/-/settings", u.form(u.updateRepo))
	m.Handle("GET /ui/audit", u.page(u.audit))
	u.trustRoutes()
}

// admin returns the write operations for the signed-in viewer.
func (u *UI) admin(v *viewer) (Admin, error) {
	if v.session == nil {
		return nil, errNotSignedIn
	}
	return u.cfg.Admin(v.session.token), nil
}

func projectPath(repo, project string) string {
	return Prefix + "r/" + url.PathEscape(repo) + "/" + url.PathEscape(project) + "/"
}

func (u *UI) yank(w http.ResponseWriter, r *http.Request, v *viewer) error {
	a, err := u.admin(v)
	if err != nil {
		return err
	}
	repo, project, version := r.PathValue("repo"), r.PathValue("project"), r.PostFormValue("version")
	if _, err := a.Yank(r.Context(), repo, project, version, strings.TrimSpace(r.PostFormValue("reason"))); err != nil {
		return err
	}
	http.Redirect(w, r, projectPath(repo, project)+"?version="+url.QueryEscape(version), http.StatusSeeOther)
	return nil
}

func (u *UI) unyank(w http.ResponseWriter, r *http.Request, v *viewer) error {
	a, err := u.admin(v)
	if err != nil {
		return err
	}
	repo, project, version := r.PathValue("repo"), r.PathValue("project"), r.PostFormValue("version")
	if _, err := a.Unyank(r.Context(), repo, project, version); err != nil {
		return err
	}
	http.Redirect(w, r, projectPath(repo, project)+"?version="+url.QueryEscape(version), http.StatusSeeOther)
	return nil
}

// deleteRelease deletes one file (file set) or a whole release, after the
// viewer typed its name: deletion is final and the names are never
// accepted again.
func (u *UI) deleteRelease(w http.ResponseWriter, r *http.Request, v *viewer) error {
	a, err := u.admin(v)
	if err != nil {
		return err
	}
	repo, project := r.PathValue("repo"), r.PathValue("project")
	version, file, confirm := r.PostFormValue("version"), r.PostFormValue("file"), strings.TrimSpace(r.PostFormValue("confirm"))
	want := version
	if file != "" {
		want = file
	}
	if confirm != want {
		return errs.Errorf(errs.Invalid, "ui", "nothing was deleted: type %q exactly to confirm", want)
	}
	if file != "" {
		_, err = a.DeleteFile(r.Context(), repo, project, version, file)
	} else {
		_, err = a.DeleteRelease(r.Context(), repo, project, version)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, projectPath(repo, project), http.StatusSeeOther)
	return nil
}

type tokensPage struct {
	Tokens  []adminapi.TokenInfo
	Created *adminapi.CreatedToken
	Error   string
	Form    tokenForm
	Actions []registry.Action
}

type tokenForm struct {
	Description, Repos, Projects, ExpiresIn string
	Actions                                 []registry.Action
}

func (f tokenForm) Has(a registry.Action) bool { return slices.Contains(f.Actions, a) }

func (u *UI) tokens(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return u.renderTokens(w, r, v, http.StatusOK, tokensPage{Form: tokenForm{Actions: []registry.Action{registry.Read}}})
}

func (u *UI) renderTokens(w http.ResponseWriter, r *http.Request, v *viewer, status int, page tokensPage) error {
	a, err := u.admin(v)
	if err != nil {
		return err
	}
	if page.Tokens, err = a.ListTokens(r.Context()); err != nil {
		return err
	}
	page.Actions = registry.Actions
	return u.render(w, r, v, status, "tokens", "Tokens", page)
}

// splitList reads a comma- or line-separated form field.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == ' ' }) {
		out = append(out, f)
	}
	return out
}

func (u *UI) createToken(w http.ResponseWriter, r *http.Request, v *viewer) error {
	a, err := u.admin(v)
	if err != nil {
		return err
	}
	f := tokenForm{Description: r.PostFormValue("description"), Repos: r.PostFormValue("repos"),
		Projects: r.PostFormValue("projects"), ExpiresIn: r.PostFormValue("expires_in")}
	for _, s := range r.PostForm["actions"] {
		f.Actions = append(f.Actions, registry.Action(s))
	}
	page := tokensPage{Form: f}
	ttl, err := adminapi.ParseDuration(f.ExpiresIn)
	if err == nil {
		var tok adminapi.CreatedToken
		tok, err = a.CreateToken(r.Context(), adminapi.CreateTokenRequest{Description: f.Description, Repos: splitList(f.Repos),
			Projects: splitList(f.Projects), Actions: f.Actions, ExpiresIn: adminapi.Duration(ttl)})
		if err == nil {
			page = tokensPage{Created: &tok, Form: tokenForm{Actions: []registry.Action{registry.Read}}}
			return u.renderTokens(w, r, v, http.StatusCreated, page)
		}
	}
	if errs.KindOf(err) != errs.Invalid {
		return err
	}
	page.Error = formMessage(err)
	return u.renderTokens(w, r, v, http.StatusBadRequest, page)
}

func (u *UI) revokeToken(w http.ResponseWriter, r *http.Request, v *viewer) error {
	a, err := u.admin(v)
	if err != nil {
		return err
	}
	if err := a.RevokeToken(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	http.Redirect(w, r, Prefix+"tokens", http.StatusSeeOther)
	return nil
}

// repoForm is the repository form's fields, as typed.
type repoForm struct {
	Name, Kind, Description                      string
	Public                                       bool
	Upstream, Auth, Username, Secret, SecretVer  string
	TTL, NegativeTTL, StaleMaxAge, MinReleaseAge string
	CooldownExceptions, Members, UploadTo, Merge string
}

type repoFormPage struct {
	Form  repoForm
	Edit  bool
	Error string
}

func (u *UI) newRepoForm(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if !v.admin() {
		return u.needAdmin(v)
	}
	return u.render(w, r, v, http.StatusOK, "repoform", "New repository",
		repoFormPage{Form: repoForm{Kind: "hosted", Upstream: registry.DefaultUpstream, Auth: registry.AuthNone}})
}

// needAdmin is the answer to a page that needs an unrestricted admin token.
func (u *UI) needAdmin(v *viewer) error {
	if v.principal == nil {
		return errNotSignedIn
	}
	return errs.Errorf(errs.PermissionDenied, "ui", "this page needs an admin token without repository or project limits")
}

func readRepoForm(r *http.Request) repoForm {
	g := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	return repoForm{
		Name: g("name"), Kind: g("kind"), Description: g("description"), Public: r.PostFormValue("public") == "on",
		Upstream: g("upstream"), Auth: g("auth"), Username: g("username"), Secret: g("secret"), SecretVer: g("secret_version"),
		TTL: g("ttl"), NegativeTTL: g("negative_ttl"), StaleMaxAge: g("stale_max_age"), MinReleaseAge: g("min_release_age"),
		CooldownExceptions: g("cooldown_exceptions"), Members: g("members"), UploadTo: g("upload_to"), Merge: g("merge"),
	}
}

// settings turns the form into kind-specific settings.
func (f repoForm) settings() (*registry.RemoteSettings, *registry.VirtualSettings, error) {
	switch f.Kind {
	case "remote":
		rs := &registry.RemoteSettings{Upstream: f.Upstream, Auth: f.Auth, Username: f.Username, Secret: f.Secret,
			SecretVersion: f.SecretVer, CooldownExceptions: splitList(f.CooldownExceptions)}
		for _, d := range []struct {
			field, text string
			to          *registry.Duration
		}{{"fresh for", f.TTL, &rs.TTL}, {"not-found remembered", f.NegativeTTL, &rs.NegativeTTL},
			{"stale max age", f.StaleMaxAge, &rs.StaleMaxAge}, {"cooldown", f.MinReleaseAge, &rs.MinReleaseAge}} {
			if d.text == "" {
				continue
			}
			x, err := time.ParseDuration(d.text)
			if err != nil {
				return nil, nil, errs.Errorf(errs.Invalid, "ui", "%s: %q is not a duration; write it like 90s, 10m or 72h", d.field, d.text)
			}
			*d.to = registry.Duration(x)
		}
		return rs, nil, nil
	case "virtual":
		return nil, &registry.VirtualSettings{Members: splitList(f.Members), UploadTo: f.UploadTo, Merge: splitList(f.Merge)}, nil
	}
	return nil, nil, nil
}

func (u *UI) createRepo(w http.ResponseWriter, r *http.Request, v *viewer) error {
	a, err := u.admin(v)
	if err != nil {
		return err
	}
	f := readRepoForm(r)
	remote, virtual, err := f.settings()
	if err == nil {
		_, err = a.CreateRepo(r.Context(), adminapi.CreateRepoRequest{Name: f.Name, Kind: f.Kind, Public: f.Public,
			Description: f.Description, Remote: remote, Virtual: virtual})
	}
	if err != nil {
		if k := errs.KindOf(err); k != errs.Invalid && k != errs.Conflict && k != errs.NotFound {
			return err
		}
		return u.render(w, r, v, http.StatusBadRequest, "repoform", "New repository", repoFormPage{Form: f, Error: formMessage(err)})
	}
	http.Redirect(w, r, Prefix+"r/"+url.PathEscape(f.Name)+"/", http.StatusSeeOther)
	return nil
}

func durText(d registry.Duration) string {
	if d == 0 {
		return ""
	}
	return time.Duration(d).String()
}

func (u *UI) repoSettingsForm(w http.ResponseWriter, r *http.Request, v *viewer) error {
	a, err := u.admin(v)
	if err != nil {
		return err
	}
	repo, err := a.GetRepo(r.Context(), r.PathValue("repo"))
	if err != nil {
		return err
	}
	f := repoForm{Name: repo.Name, Kind: repo.Kind, Public: repo.Public, Description: repo.Description}
	if rs := repo.Remote; rs != nil {
		f.Upstream, f.Auth, f.Username, f.Secret, f.SecretVer = rs.Upstream, rs.Auth, rs.Username, rs.Secret, rs.SecretVersion
		f.TTL, f.NegativeTTL, f.StaleMaxAge, f.MinReleaseAge = durText(rs.TTL), durText(rs.NegativeTTL), durText(rs.StaleMaxAge), durText(rs.MinReleaseAge)
		f.CooldownExceptions = strings.Join(rs.CooldownExceptions, "\n")
	}
	if vs := repo.Virtual; vs != nil {
		f.Members, f.UploadTo, f.Merge = strings.Join(vs.Members, "\n"), vs.UploadTo, strings.Join(vs.Merge, "\n")
	}
	return u.render(w, r, v, http.StatusOK, "repoform", "Settings of "+repo.Name, repoFormPage{Form: f, Edit: true})
}

func (u *UI) updateRepo(w http.ResponseWriter, r *http.Request, v *viewer) error {
	a, err := u.admin(v)
	if err != nil {
		return err
	}
	name := r.PathValue("repo")
	f := readRepoForm(r)
	cur, err := a.GetRepo(r.Context(), name)
	if err != nil {
		return err
	}
	f.Name, f.Kind = cur.Name, cur.Kind
	remote, virtual, err := f.settings()
	if err == nil {
		_, err = a.UpdateRepo(r.Context(), name, adminapi.UpdateRepoRequest{Public: &f.Public, Description: &f.Description, Remote: remote, Virtual: virtual})
	}
	if err != nil {
		if k := errs.KindOf(err); k != errs.Invalid && k != errs.Conflict && k != errs.NotFound {
			return err
		}
		return u.render(w, r, v, http.StatusBadRequest, "repoform", "Settings of "+name, repoFormPage{Form: f, Edit: true, Error: formMessage(err)})
	}
	http.Redirect(w, r, Prefix+"r/"+url.PathEscape(name)+"/", http.StatusSeeOther)
	return nil
}

// auditPageSize is how many events one audit page shows; auditWindow how
// many of the newest matching events the filters and pages reach (the
// admin API's limit).
const (
	auditPageSize = 50
	auditWindow   = 1000
)

type auditPage struct {
	Repo, Project, Action, Actor, Since, Until string
	Events                                     []adminapi.AuditEvent
	Page                                       int
	Prev, Next                                 string
	Window                                     bool // the filters reached the window's end
}

func (u *UI) audit(w http.ResponseWriter, r *http.Request, v *viewer) error {
	a, err := u.admin(v)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	page := auditPage{Repo: q.Get("repo"), Project: q.Get("project"), Action: q.Get("action"), Actor: q.Get("actor"),
		Since: q.Get("since"), Until: q.Get("until"), Page: 1}
	if s := q.Get("page"); s != "" {
		if page.Page, err = strconv.Atoi(s); err != nil || page.Page < 1 {
			return errs.Errorf(errs.Invalid, "ui", "page must be a number from 1")
		}
	}
	since, err := parseDay(page.Since, "since")
	if err != nil {
		return err
	}
	until, err := parseDay(page.Until, "until")
	if err != nil {
		return err
	}
	project := page.Project
	if project != "" {
		project = pypi.Normalize(project)
	}
	events, err := a.Audit(r.Context(), adminapi.AuditQuery{Repo: page.Repo, Project: project, Action: page.Action, Limit: auditWindow})
	if err != nil {
		return err
	}
	page.Window = len(events) == auditWindow
	kept := events[:0]
	for _, e := range events {
		if (page.Actor == "" || e.Actor == page.Actor) && (since.IsZero() || !e.Time.Before(since)) &&
			(until.IsZero() || e.Time.Before(until.Add(24*time.Hour))) {
			kept = append(kept, e)
		}
	}
	lo := min((page.Page-1)*auditPageSize, len(kept))
	hi := min(lo+auditPageSize, len(kept))
	page.Events = kept[lo:hi]
	link := func(n int) string {
		vals := url.Values{}
		for k, x := range map[string]string{"repo": page.Repo, "project": page.Project, "action": page.Action, "actor": page.Actor, "since": page.Since, "until": page.Until} {
			if x != "" {
				vals.Set(k, x)
			}
		}
		vals.Set("page", strconv.Itoa(n))
		return "?" + vals.Encode()
	}
	if page.Page > 1 {
		page.Prev = link(page.Page - 1)
	}
	if hi < len(kept) {
		page.Next = link(page.Page + 1)
	}
	return u.render(w, r, v, http.StatusOK, "audit", "Audit log", page)
}

func parseDay(s, field string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return t, errs.Errorf(errs.Invalid, "ui", "%s: write a date as 2006-01-02", field)
	}
	return t, nil
}
