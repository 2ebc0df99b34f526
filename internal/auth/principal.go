package auth

import (
	"fmt"
	"slices"
	"time"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/glob"
	"github.com/wharf-dev/wharf/internal/registry"
)

// Principal is an authenticated caller. Its Scope shares memory with the
// authentication cache: treat it as read-only.
type Principal struct {
	TokenID   string
	Scope     registry.Scope
	ExpiresAt time.Time // zero: never
	Origin    string    // "admin", "cli", "oidc:<issuer>"
}

// Check reports whether the principal may perform action on repo and, when
// project is not "", on that project of repo. project "" means an action on
// the repository itself (listing its index, deleting it). The error is a
// PermissionDenied whose message tells the client what the token lacks.
func (p Principal) Check(action registry.Action, repo, project string) error {
	const op = "auth.Check"
	if !p.Scope.AllowsAction(action) {
		return errs.Errorf(errs.PermissionDenied, op, "The given token does not have the '%s' permission.", action)
	}
	if len(p.Scope.Repos) > 0 && !slices.Contains(p.Scope.Repos, repo) {
		return errs.Errorf(errs.PermissionDenied, op, "The given token isn't allowed to access repository '%s'.", repo)
	}
	if len(p.Scope.Bindings) > 0 {
		if err := p.checkBindings(action, repo, project); err != nil {
			return err
		}
	}
	if len(p.Scope.Projects) == 0 {
		return nil
	}
	if project == "" {
		// A token limited to some projects may list the repository's index
		// (the handler filters it with AllowsProject) but must not act on
		// the repository as a whole.
		if action == registry.Read {
			return nil
		}
		return errs.Errorf(errs.PermissionDenied, op,
			"The given token is limited to some projects and isn't allowed to %s repository '%s' as a whole.", verb(action), repo)
	}
	if !p.AllowsProject(project) {
		return errs.Errorf(errs.PermissionDenied, op, "The given token isn't allowed to %s project '%s'.", verbProject(action), project)
	}
	return nil
}

// AllowsProject reports whether the scope's project patterns admit project
// (any spelling; it is PEP 503 normalised first). An empty pattern list
// admits every project. Handlers use it to filter index listings.
func (p Principal) AllowsProject(project string) bool {
	if len(p.Scope.Projects) == 0 {
		return true
	}
	name := normalize(project)
	for _, pat := range p.Scope.Projects {
		if glob.Match(pat, name) {
			return true
		}
	}
	return false
}

func verb(a registry.Action) string {
	switch a {
	case registry.Admin:
		return "administer"
	default:
		return string(a)
	}
}

func verbProject(a registry.Action) string {
	switch a {
	case registry.Upload:
		return "upload to"
	case registry.Yank:
		return "yank releases of"
	case registry.Delete:
		return "delete from"
	case registry.Admin:
		return "administer"
	case registry.Read:
		return "read"
	default:
		return fmt.Sprintf("%q", string(a))
	}
}

// normalize is the PEP 503 rule: lower case, runs of '-', '_' and '.'
// become one '-'. (pypi.Normalize is the shared one; auth keeps this copy
// to stay below pypi in the import graph and allocation-free when the name
// is already normal, which it is on the request path.) '*' passes through
// so patterns normalise the same way as names.
func normalize(s string) string {
	if isNormal(s) {
		return s
	}
	b := make([]byte, 0, len(s))
	sep := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-' || c == '_' || c == '.':
			sep = true
			continue
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		if sep {
			b = append(b, '-')
			sep = false
		}
		b = append(b, c)
	}
	if sep {
		b = append(b, '-')
	}
	return string(b)
}

func isNormal(s string) bool {
	prevSep := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c == '_', c == '.':
			return false
		case c == '-':
			if prevSep {
				return false
			}
			prevSep = true
		default:
			prevSep = false
		}
	}
	return true
}

// validPattern reports whether a project pattern (already normalised) is a
// PEP 508 name, or is made of name characters and '*' wildcards.
func validPattern(pat string) bool {
	if pat == "" {
		return false
	}
	wild := false
	for i := 0; i < len(pat); i++ {
		c := pat[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
		case c == '*':
			wild = true
		default:
			return false
		}
	}
	if wild {
		return true
	}
	// A plain name must start and end with a letter or digit.
	return pat[0] != '-' && pat[len(pat)-1] != '-'
}

// checkBindings enforces Scope.Bindings: the (repository, project) pair
// must be one of them. Reading a bound repository's index is allowed.
func (p Principal) checkBindings(action registry.Action, repo, project string) error {
	const op = "auth.Check"
	name := normalize(project)
	for _, b := range p.Scope.Bindings {
		if b.Repo != repo {
			continue
		}
		if b.Project == name || project == "" && action == registry.Read {
			return nil
		}
	}
	if project == "" {
		return errs.Errorf(errs.PermissionDenied, op, "The given token isn't allowed to %s repository '%s'.", verb(action), repo)
	}
	return errs.Errorf(errs.PermissionDenied, op, "The given token isn't allowed to %s project '%s' in repository '%s'.", verbProject(action), project, repo)
}

// ServerAdmin reports whether the principal administers the whole server:
// the admin action, limited to no repository, project or binding. Only
// such callers are shown the detail of server-side failures.
func (p Principal) ServerAdmin() bool {
	return p.Scope.AllowsAction(registry.Admin) && len(p.Scope.Repos) == 0 &&
		len(p.Scope.Projects) == 0 && len(p.Scope.Bindings) == 0
}

// Reader returns what the principal may read: every public repository, and
// what its scope grants with the read action. Reading a private
// repository's index passes CanRead; its projects each pass CanReadProject
// (a project outside the token's patterns or bindings does not), and a file
// whose project is unknown passes only for a token that reads the whole
// repository.
func (p Principal) Reader() registry.Reader { return principalReader{p} }

type principalReader struct{ p Principal }

func (r principalReader) CanRead(repo registry.Repository) (ok, whole bool) {
	if repo.Public {
		return true, true
	}
	if !r.p.Scope.AllowsAction(registry.Read) || len(r.p.Scope.Repos) > 0 && !slices.Contains(r.p.Scope.Repos, repo.Name) {
		return false, false
	}
	if len(r.p.Scope.Bindings) > 0 && r.p.checkBindings(registry.Read, repo.Name, "") != nil {
		return false, false
	}
	return true, len(r.p.Scope.Projects) == 0 && len(r.p.Scope.Bindings) == 0
}

func (r principalReader) CanReadProject(repo registry.Repository, project string) bool {
	ok, whole := r.CanRead(repo)
	switch {
	case !ok:
		return false
	case whole:
		return true
	case project == "":
		return false // an unknown project is never a wildcard
	case len(r.p.Scope.Bindings) > 0:
		return r.p.Check(registry.Read, repo.Name, project) == nil
	}
	return r.p.AllowsProject(project)
}
