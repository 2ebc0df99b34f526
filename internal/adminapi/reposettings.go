package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/remote"
	"github.com/wharf-dev/wharf/internal/registry/virtual"
	"github.com/wharf-dev/wharf/internal/store"
)

// repoKind reads the kind of a create request; "" is hosted.
func repoKind(kind string) (registry.RepoKind, error) {
	switch k := registry.RepoKind(kind); k {
	case "":
		return registry.Hosted, nil
	case registry.Hosted, registry.Remote, registry.Virtual:
		return k, nil
	}
	return "", errs.Errorf(errs.Invalid, "adminapi", "unknown repository kind %q: use \"hosted\", \"remote\" or \"virtual\"", kind)
}

// checkSettings validates the kind-specific settings of a repository being
// created or changed and returns them as the JSON the store keeps (nil for a
// hosted repository). Virtual members are looked up in st, the transaction
// the change is made in, so a concurrent change cannot slip a cycle past.
func checkSettings(ctx context.Context, st store.Store, name string, kind registry.RepoKind,
	rem *registry.RemoteSettings, vir *registry.VirtualSettings) ([]byte, error) {
	const op = "adminapi.checkSettings"
	switch kind {
	case registry.Hosted:
		if rem != nil || vir != nil {
			return nil, errs.Errorf(errs.Invalid, op, "repository '%s' is hosted: remote and virtual settings only apply to repositories of those kinds", name)
		}
		return nil, nil
	case registry.Remote:
		if vir != nil {
			return nil, errs.Errorf(errs.Invalid, op, "repository '%s' is remote: give remote settings, not virtual ones", name)
		}
		set := registry.RemoteSettings{}
		if rem != nil {
			set = *rem
		}
		if set.Upstream == "" {
			set.Upstream = registry.DefaultUpstream
		}
		if set.Upstream != "" && !strings.HasSuffix(set.Upstream, "/") {
			set.Upstream += "/" // a simple index URL is a directory; relative links need the slash
		}
		set.CooldownExceptions = normalized(set.CooldownExceptions)
		if err := set.Check(); err != nil {
			return nil, errs.E(errs.Invalid, op, err)
		}
		return json.Marshal(registry.RepoSettings{Remote: &set})
	case registry.Virtual:
		if rem != nil {
			return nil, errs.Errorf(errs.Invalid, op, "repository '%s' is virtual: give virtual settings (members), not remote ones", name)
		}
		if vir == nil {
			return nil, errs.Errorf(errs.Invalid, op, "virtual repository '%s' needs members: list the repositories it serves, in order", name)
		}
		set := *vir
		set.Merge = normalized(set.Merge)
		if err := set.Check(); err != nil {
			return nil, errs.E(errs.Invalid, op, err)
		}
		err := virtual.CheckMembers(ctx, name, set,
			func(ctx context.Context, n string) (registry.Repository, error) { return st.Repos().Get(ctx, n) },
			func(ctx context.Context, r registry.Repository) (*registry.VirtualSettings, error) {
				rs, err := storedSettings(ctx, st, r)
				return rs.Virtual, err
			})
		if err != nil {
			return nil, err
		}
		return json.Marshal(registry.RepoSettings{Virtual: &set})
	}
	return nil, errs.Errorf(errs.Invalid, op, "unknown repository kind %q", kind)
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

// storedSettings reads a repository's kind-specific settings; zero when
// none are stored.
func storedSettings(ctx context.Context, st store.Store, r registry.Repository) (registry.RepoSettings, error) {
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
		return rs, errs.E(errs.Internal, "adminapi", err)
	}
	return rs, nil
}

// repoView is a repository as the API shows it, with its effective
// settings (defaults filled in, so a reader sees the TTLs in force).
func (a *API) repoView(ctx context.Context, st store.Store, r registry.Repository) (Repo, error) {
	out := repoOf(r)
	if r.Kind == registry.Hosted {
		return out, nil
	}
	rs, err := storedSettings(ctx, st, r)
	if err != nil {
		return out, err
	}
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
	return out, nil
}

// settingsDetail is what the audit log records of a settings change:
// names and references, never secret values (settings hold none).
func settingsDetail(detail map[string]string, raw []byte) {
	if len(raw) > 0 {
		detail["settings"] = string(raw)
	}
}
