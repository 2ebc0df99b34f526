// Package repos is the one write path of repositories: creating,
// changing and deleting them, with their kind-specific settings. The
// admin API, the configuration's declarations and the web UI all call it,
// so a repository is validated, audited and announced the same way
// whoever writes it, and a declared repository cannot be told apart from
// one created through the API.
package repos

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/remote"
	"github.com/wharf-dev/wharf/internal/registry/virtual"
	"github.com/wharf-dev/wharf/internal/store"
)

// MaxDescription bounds a repository's description, in characters.
const MaxDescription = 500

// Audit actors of the repositories the server writes itself: those the
// configuration file declares, and the defaults of a new installation.
const (
	ActorConfig    = "config"
	ActorBootstrap = "bootstrap"
)

// Config holds the service's dependencies.
type Config struct {
	Store  store.Store
	Logger *slog.Logger
	// Now is the clock of audit entries; default time.Now.
	Now func() time.Time
	// Changed is told, after the change is committed, that a repository
	// was created, changed or deleted, so caches keyed on it forget it.
	Changed func(registry.Repository)
}

// Service writes repositories.
type Service struct {
	st      store.Store
	log     *slog.Logger
	now     func() time.Time
	changed func(registry.Repository)
}

// New builds the service.
func New(cfg Config) *Service {
	s := &Service{st: cfg.Store, log: cfg.Logger, now: cfg.Now, changed: cfg.Changed}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.changed == nil {
		s.changed = func(registry.Repository) {}
	}
	return s
}

// Spec is a repository as a writer asks for it.
type Spec struct {
	Name        string
	Kind        registry.RepoKind // "" is hosted
	Public      bool
	Description string
	Remote      *registry.RemoteSettings
	Virtual     *registry.VirtualSettings
}

// Change is a partial update: nil fields are left as they are.
type Change struct {
	Public      *bool
	Description *string
	Remote      *registry.RemoteSettings
	Virtual     *registry.VirtualSettings
}

// Repo is a stored repository with its settings as stored.
type Repo struct {
	registry.Repository
	Settings registry.RepoSettings
}

// Create creates a repository on behalf of actor (a token ID, or
// ActorConfig) and records it in the audit log.
func (s *Service) Create(ctx context.Context, actor string, spec Spec) (Repo, error) {
	const op = "repos.Create"
	if !registry.ValidRepoName(spec.Name) {
		return Repo{}, errs.Errorf(errs.Invalid, op,
			"invalid repository name %q: use up to 64 lower-case letters, digits, '.', '_' and '-', starting with a letter or digit, and not one of the reserved words %v",
			spec.Name, registry.ReservedNames)
	}
	kind, err := Kind(string(spec.Kind))
	if err != nil {
		return Repo{}, err
	}
	if err := checkDescription(spec.Description); err != nil {
		return Repo{}, err
	}
	out := Repo{Repository: registry.Repository{Name: spec.Name, Kind: kind, Public: spec.Public, Description: spec.Description}}
	err = s.st.InTx(ctx, func(tx store.Store) error {
		settings, raw, err := checkSettings(ctx, tx, spec.Name, kind, spec.Remote, spec.Virtual)
		if err != nil {
			return err
		}
		if err := checkPublic(ctx, tx, out.Repository, settings.Virtual); err != nil {
			return err
		}
		if err := tx.Repos().Create(ctx, &out.Repository); err != nil {
			if errors.Is(err, store.ErrExists) {
				return errs.Errorf(errs.Conflict, op, "repository '%s' already exists", spec.Name)
			}
			return err
		}
		if raw != nil {
			if err := tx.Remote().PutSettings(ctx, out.ID, raw); err != nil {
				return err
			}
		}
		out.Settings = settings
		detail := map[string]string{"kind": string(kind), "public": boolString(spec.Public)}
		settingsDetail(detail, raw)
		return s.audit(ctx, tx, registry.AuditEvent{Actor: actor, Action: "repo.create", Repo: spec.Name, Detail: detail})
	})
	if err != nil {
		return Repo{}, err
	}
	s.log.InfoContext(ctx, "repository created", "repo", out.Name, "kind", out.Kind, "public", out.Public, "by", actor)
	// A cached "does not exist" elsewhere must not outlive the creation.
	s.changed(out.Repository)
	return out, nil
}

// Update changes a repository on behalf of actor.
func (s *Service) Update(ctx context.Context, actor, name string, c Change) (Repo, error) {
	if c.Description != nil {
		if err := checkDescription(*c.Description); err != nil {
			return Repo{}, err
		}
	}
	var out Repo
	err := s.st.InTx(ctx, func(tx store.Store) error {
		repo, err := ByName(ctx, tx, name)
		if err != nil {
			return err
		}
		detail := map[string]string{}
		if c.Remote != nil || c.Virtual != nil {
			settings, raw, err := checkSettings(ctx, tx, name, repo.Kind, c.Remote, c.Virtual)
			if err != nil {
				return err
			}
			if err := tx.Remote().PutSettings(ctx, repo.ID, raw); err != nil {
				return err
			}
			out.Settings = settings
			settingsDetail(detail, raw)
		} else if out.Settings, err = StoredSettings(ctx, tx, repo); err != nil {
			return err
		}
		if c.Public != nil {
			repo.Public = *c.Public
			detail["public"] = boolString(repo.Public)
		}
		// Made public, or its members changed: the public-virtual rule. A
		// member made private later is not refused (reads skip it).
		if c.Public != nil || c.Virtual != nil {
			if err := checkPublic(ctx, tx, repo, out.Settings.Virtual); err != nil {
				return err
			}
		}
		if c.Description != nil {
			repo.Description = *c.Description
			detail["description"] = repo.Description
		}
		if err := tx.Repos().Update(ctx, repo); err != nil {
			return err
		}
		out.Repository = repo
		return s.audit(ctx, tx, registry.AuditEvent{Actor: actor, Action: "repo.update", Repo: name, Detail: detail})
	})
	if err != nil {
		return Repo{}, err
	}
	s.changed(out.Repository)
	return out, nil
}

// Delete deletes a repository and everything in it on behalf of actor.
func (s *Service) Delete(ctx context.Context, actor, name string) error {
	var repo registry.Repository
	err := s.st.InTx(ctx, func(tx store.Store) error {
		var err error
		if repo, err = ByName(ctx, tx, name); err != nil {
			return err
		}
		if err := tx.Repos().Delete(ctx, name); err != nil {
			return err
		}
		return s.audit(ctx, tx, registry.AuditEvent{Actor: actor, Action: "repo.delete", Repo: name})
	})
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "repository deleted", "repo", name, "by", actor)
	s.changed(repo)
	return nil
}

// Declare makes a repository the configuration file declares (or a new
// installation's default, actor ActorBootstrap) exist: it is
// created as the API would create it when missing; when it exists, the
// declared settings win over earlier API changes (as for every declared
// object) and are written, through Update, only if they differ. Its
// visibility and description are the database's once it exists.
func (s *Service) Declare(ctx context.Context, actor string, spec Spec) error {
	kind, err := Kind(string(spec.Kind))
	if err != nil {
		return err
	}
	repo, err := s.st.Repos().Get(ctx, spec.Name)
	if errors.Is(err, store.ErrNotFound) {
		_, err = s.Create(ctx, actor, spec)
		if errs.Is(err, errs.Conflict) { // created meanwhile by another replica
			return nil
		}
		return err
	}
	if err != nil {
		return err
	}
	if repo.Kind != kind {
		return errs.Errorf(errs.Invalid, "repos.Declare", "repository %s is %s in the database but declared %s", spec.Name, repo.Kind, kind)
	}
	if spec.Remote == nil && spec.Virtual == nil {
		return nil
	}
	want, _, err := checkSettings(ctx, s.st, spec.Name, kind, spec.Remote, spec.Virtual)
	if err != nil {
		return err
	}
	have, err := StoredSettings(ctx, s.st, repo)
	if err != nil {
		return err
	}
	if reflect.DeepEqual(want, have) {
		return nil
	}
	_, err = s.Update(ctx, actor, spec.Name, Change{Remote: spec.Remote, Virtual: spec.Virtual})
	return err
}

func (s *Service) audit(ctx context.Context, st store.Store, e registry.AuditEvent) error {
	e.Time = s.now().UTC()
	if e.Outcome == "" {
		e.Outcome = "ok"
	}
	if err := st.Audit().Append(ctx, e); err != nil {
		return errs.Errorf(errs.Internal, "repos.audit", "recording %s: %w", e.Action, err)
	}
	return nil
}

// ByName loads a repository from st (the service's store, or a
// transaction), turning "not found" into a message naming it.
func ByName(ctx context.Context, st store.Store, name string) (registry.Repository, error) {
	repo, err := st.Repos().Get(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return repo, errs.Errorf(errs.NotFound, "repos", "repository '%s' does not exist", name)
	}
	return repo, err
}

// Kind reads the kind a writer names; "" is hosted.
func Kind(kind string) (registry.RepoKind, error) {
	switch k := registry.RepoKind(kind); k {
	case "":
		return registry.Hosted, nil
	case registry.Hosted, registry.Remote, registry.Virtual:
		return k, nil
	}
	return "", errs.Errorf(errs.Invalid, "repos", "unknown repository kind %q: use \"hosted\", \"remote\" or \"virtual\"", kind)
}

func checkDescription(d string) error {
	if utf8.RuneCountInString(d) > MaxDescription {
		return errs.Errorf(errs.Invalid, "repos", "the description is longer than %d characters", MaxDescription)
	}
	return nil
}

// checkSettings validates the kind-specific settings of a repository being
// created or changed and returns them, normalised, with the JSON the store
// keeps (nil for a hosted repository). Virtual members are looked up in
// st, the transaction the change is made in, so a concurrent change cannot
// slip a cycle past.
func checkSettings(ctx context.Context, st store.Store, name string, kind registry.RepoKind,
	rem *registry.RemoteSettings, vir *registry.VirtualSettings) (registry.RepoSettings, []byte, error) {
	const op = "repos.checkSettings"
	var out registry.RepoSettings
	switch kind {
	case registry.Hosted:
		if rem != nil || vir != nil {
			return out, nil, errs.Errorf(errs.Invalid, op, "repository '%s' is hosted: remote and virtual settings only apply to repositories of those kinds", name)
		}
		return out, nil, nil
	case registry.Remote:
		if vir != nil {
			return out, nil, errs.Errorf(errs.Invalid, op, "repository '%s' is remote: give remote settings, not virtual ones", name)
		}
		set := registry.RemoteSettings{}
		if rem != nil {
			set = *rem
		}
		if set.Upstream == "" {
			set.Upstream = registry.DefaultUpstream
		}
		if !strings.HasSuffix(set.Upstream, "/") {
			set.Upstream += "/" // a simple index URL is a directory; relative links need the slash
		}
		set.CooldownExceptions = normalized(set.CooldownExceptions)
		if err := set.Check(); err != nil {
			return out, nil, errs.E(errs.Invalid, op, err)
		}
		out.Remote = &set
	case registry.Virtual:
		if rem != nil {
			return out, nil, errs.Errorf(errs.Invalid, op, "repository '%s' is virtual: give virtual settings (members), not remote ones", name)
		}
		if vir == nil {
			return out, nil, errs.Errorf(errs.Invalid, op, "virtual repository '%s' needs members: list the repositories it serves, in order", name)
		}
		set := *vir
		set.Merge = normalized(set.Merge)
		if err := set.Check(); err != nil {
			return out, nil, errs.E(errs.Invalid, op, err)
		}
		err := virtual.CheckMembers(ctx, name, set, repoIn(st), virtualSettingsIn(st))
		if err != nil {
			return out, nil, err
		}
		out.Virtual = &set
	default:
		return out, nil, errs.Errorf(errs.Invalid, op, "unknown repository kind %q", kind)
	}
	raw, err := json.Marshal(out)
	return out, raw, err
}

// checkPublic refuses a public virtual repository with a private member
// (virtual.CheckPublic), looking members up in st; nil settings or a
// repository of another kind pass.
func checkPublic(ctx context.Context, st store.Store, repo registry.Repository, set *registry.VirtualSettings) error {
	if repo.Kind != registry.Virtual || set == nil {
		return nil
	}
	return virtual.CheckPublic(ctx, repo.Name, repo.Public, *set, repoIn(st), virtualSettingsIn(st))
}

// repoIn and virtualSettingsIn are the lookups the virtual checks take,
// answered by st (the change's transaction).
func repoIn(st store.Store) func(ctx context.Context, n string) (registry.Repository, error) {
	return func(ctx context.Context, n string) (registry.Repository, error) { return st.Repos().Get(ctx, n) }
}

func virtualSettingsIn(st store.Store) func(ctx context.Context, r registry.Repository) (*registry.VirtualSettings, error) {
	return func(ctx context.Context, r registry.Repository) (*registry.VirtualSettings, error) {
		rs, err := StoredSettings(ctx, st, r)
		return rs.Virtual, err
	}
}

// normalized returns PEP 503 names, sorted and without duplicates, so a
// project listed as "Foo_Bar" matches the page "foo-bar".
func normalized(names []string) []string {
	if len(names) == 0 {
		return nil
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = pypi.Normalize(n)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// StoredSettings reads a repository's kind-specific settings from st;
// zero when none are stored.
func StoredSettings(ctx context.Context, st store.Store, r registry.Repository) (registry.RepoSettings, error) {
	var rs registry.RepoSettings
	if r.Kind == registry.Hosted {
		return rs, nil
	}
	raw, err := st.Remote().Settings(ctx, r.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && len(raw) == 0) {
		return rs, nil
	}
	if err != nil {
		return rs, err
	}
	if err := json.Unmarshal(raw, &rs); err != nil {
		return rs, errs.E(errs.Internal, "repos.StoredSettings", err)
	}
	return rs, nil
}

// Effective is a repository's settings with the defaults in force filled
// in, as readers (the API, the web UI) show them.
func Effective(r registry.Repository, rs registry.RepoSettings) registry.RepoSettings {
	var out registry.RepoSettings
	switch r.Kind {
	case registry.Remote:
		set := registry.RemoteSettings{}
		if rs.Remote != nil {
			set = *rs.Remote
		}
		remote.ApplyDefaults(&set)
		out.Remote = &set
	case registry.Virtual:
		set := registry.VirtualSettings{Members: []string{}}
		if rs.Virtual != nil {
			set = *rs.Virtual
		}
		out.Virtual = &set
	}
	return out
}

// settingsDetail is what the audit log records of a settings change:
// names and references, never secret values (settings hold none).
func settingsDetail(detail map[string]string, raw []byte) {
	if len(raw) > 0 {
		detail["settings"] = string(raw)
	}
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
