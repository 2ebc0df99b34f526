// Package virtual implements virtual repositories: an ordered list of other
// repositories (hosted, remote or virtual) served as one index. By default
// the first member that has a project at all supplies all of its files, so a
// public project can never shadow or mix into a private one of the same
// name (dependency confusion); merging is opt-in per project.
package virtual

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

// maxDepth bounds nesting; cycles are refused at creation, this is the
// backstop for one made by editing the database.
const maxDepth = 8

// offset is FNV-1a's offset basis, where page-token hashes start.
const offset = uint64(14695981039346656037)

// Config holds the service's dependencies.
type Config struct {
	Store store.Store
	// Repo resolves a member repository by name (a cached lookup).
	Repo func(ctx context.Context, name string) (registry.Repository, error)
	// Index returns the index serving a kind; Virtual is this service.
	Index func(kind registry.RepoKind) registry.Index
	Now   func() time.Time
	// SettingsTTL bounds how long settings are cached (default 2s).
	SettingsTTL time.Duration
}

// Service serves every virtual repository.
type Service struct {
	cfg      Config
	mu       sync.RWMutex
	settings map[int64]settingsEntry
}

type settingsEntry struct {
	s registry.VirtualSettings
	// gen hashes the stored settings, so page tokens change when members,
	// their order or the merge list do.
	gen      uint64
	loadedAt time.Time
}

// New builds a Service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SettingsTTL <= 0 {
		cfg.SettingsTTL = 2 * time.Second
	}
	return &Service{cfg: cfg, settings: map[int64]settingsEntry{}}
}

// Settings returns the repository's settings, cached for a short time.
func (s *Service) Settings(ctx context.Context, repo registry.Repository) (registry.VirtualSettings, error) {
	se, err := s.settingsOf(ctx, repo)
	return se.s, err
}

func (s *Service) settingsOf(ctx context.Context, repo registry.Repository) (settingsEntry, error) {
	now := s.cfg.Now()
	s.mu.RLock()
	se, ok := s.settings[repo.ID]
	s.mu.RUnlock()
	if ok && now.Sub(se.loadedAt) < s.cfg.SettingsTTL {
		return se, nil
	}
	raw, err := s.cfg.Store.Remote().Settings(ctx, repo.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return settingsEntry{}, err
	}
	var rs registry.RepoSettings
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &rs); err != nil {
			return settingsEntry{}, errs.E(errs.Internal, "virtual", err)
		}
	}
	var v registry.VirtualSettings
	if rs.Virtual != nil {
		v = *rs.Virtual
	}
	h := fnv.New64a()
	h.Write(raw)
	se = settingsEntry{s: v, gen: h.Sum64(), loadedAt: now}
	s.mu.Lock()
	s.settings[repo.ID] = se
	s.mu.Unlock()
	return se, nil
}

// Forget drops cached settings (after an administrative change).
func (s *Service) Forget(repoID int64) {
	s.mu.Lock()
	delete(s.settings, repoID)
	s.mu.Unlock()
}

// UploadTarget returns the hosted repository uploads to repo go to.
func (s *Service) UploadTarget(ctx context.Context, repo registry.Repository) (registry.Repository, error) {
	set, err := s.Settings(ctx, repo)
	if err != nil {
		return registry.Repository{}, err
	}
	if set.UploadTo == "" {
		return registry.Repository{}, errs.Errorf(errs.Invalid, "virtual", "virtual repository '%s' has no upload target: upload to one of its hosted members (%s) or set upload_to", repo.Name, strings.Join(set.Members, ", "))
	}
	t, err := s.cfg.Repo(ctx, set.UploadTo)
	if err != nil {
		return t, err
	}
	if t.Kind != registry.Hosted {
		return registry.Repository{}, errs.Errorf(errs.Invalid, "virtual", "upload target '%s' of virtual repository '%s' is %s, not hosted", t.Name, repo.Name, t.Kind)
	}
	return t, nil
}

type member struct {
	repo registry.Repository
	idx  registry.Index
	// visible says whether the caller may use the member for the page or
	// file being served; whole, on the root page, that it may list every
	// project of it (otherwise its names are filtered one by one).
	visible, whole bool
}

func (s *Service) members(ctx context.Context, repo registry.Repository) ([]member, settingsEntry, error) {
	se, err := s.settingsOf(ctx, repo)
	if err != nil {
		return nil, se, err
	}
	ms, err := s.resolve(ctx, se)
	return ms, se, err
}

// resolve looks up the members of se (a deleted member is skipped, not
// fatal).
func (s *Service) resolve(ctx context.Context, se settingsEntry) ([]member, error) {
	ms := make([]member, 0, len(se.s.Members))
	for _, name := range se.s.Members {
		r, err := s.cfg.Repo(ctx, name)
		if errs.KindOf(err) == errs.NotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		idx := s.cfg.Index(r.Kind)
		if idx == nil {
			continue
		}
		ms = append(ms, member{repo: r, idx: idx})
	}
	return ms, nil
}

// see decides which members the caller (ctx's Reader) may use for project
// ("" the root page) and returns the view of the page: a fingerprint of
// the settings and of the hidden members, under which the page may be
// cached. Reading through a virtual repository needs read access to each
// member that supplies the data: a member the caller may not read is
// skipped as if absent. cacheable is false when the page is built for this
// caller alone: a member only partly readable on the root page (its names
// are filtered by the caller's own patterns), or a visible nested virtual
// repository (whose own view is not part of the fingerprint). shared is
// set when every member is public.
func see(ctx context.Context, se settingsEntry, ms []member, project string) (view uint64, cacheable, shared bool) {
	rd := registry.ReaderFrom(ctx)
	view, cacheable, shared = (offset^se.gen)*prime, true, true
	for i := range ms {
		m := &ms[i]
		shared = shared && m.repo.Public
		if project == "" {
			m.visible, m.whole = rd.CanRead(m.repo)
			if m.visible && !m.whole {
				cacheable = false
			}
		} else {
			m.visible = rd.CanReadProject(m.repo, project)
		}
		if !m.visible {
			view = (view ^ uint64(m.repo.ID)) * prime
			continue
		}
		if m.repo.Kind == registry.Virtual {
			cacheable = false
		}
	}
	return view, cacheable, shared
}

const prime = 1099511628211

type depthKey struct{}

func deeper(ctx context.Context, repo registry.Repository) (context.Context, error) {
	d, _ := ctx.Value(depthKey{}).(int)
	if d >= maxDepth {
		return ctx, errs.Errorf(errs.Invalid, "virtual", "virtual repository '%s' nests more than %d levels deep (a cycle?)", repo.Name, maxDepth)
	}
	return context.WithValue(ctx, depthKey{}, d+1), nil
}

// PageToken never answers: a virtual repository's page depends on who
// reads it, so a token without the caller would let one caller's page be
// served to another. The HTTP layer uses PageView.
func (s *Service) PageToken(registry.Repository, string) (uint64, bool) { return 0, false }

// PageView is the caller's view of a page (registry.Viewer), from the
// settings in memory, without touching the database; the token combines
// the visible members' tokens and is current only when every one of them
// answers. Expired settings still give the view (a page cached for it may
// be served stale while the database is unreachable), never a token.
func (s *Service) PageView(ctx context.Context, repo registry.Repository, project string) registry.PageView {
	s.mu.RLock()
	se, ok := s.settings[repo.ID]
	s.mu.RUnlock()
	if !ok {
		return registry.PageView{}
	}
	ms, err := s.resolve(ctx, se)
	if err != nil {
		return registry.PageView{}
	}
	view, cacheable, shared := see(ctx, se, ms, project)
	pv := registry.PageView{ID: view, Cacheable: cacheable, Shared: shared}
	if !cacheable || s.cfg.Now().Sub(se.loadedAt) >= s.cfg.SettingsTTL {
		return pv
	}
	h := offset ^ se.gen
	for _, m := range ms {
		if !m.visible {
			continue
		}
		t, ok := m.idx.PageToken(m.repo, project)
		if !ok {
			return pv
		}
		h = (h ^ t ^ uint64(m.repo.ID)<<32) * prime
	}
	pv.Token, pv.Current = h, true
	return pv
}

// Root merges the project lists of the members the caller may read (names
// only: listing a name is not serving its files).
func (s *Service) Root(ctx context.Context, repo registry.Repository) (pypi.ProjectList, registry.PageInfo, error) {
	ctx, err := deeper(ctx, repo)
	if err != nil {
		return pypi.ProjectList{}, registry.PageInfo{}, err
	}
	ms, se, err := s.members(ctx, repo)
	if err != nil {
		return pypi.ProjectList{}, registry.PageInfo{}, err
	}
	var out pypi.ProjectList
	var info registry.PageInfo
	view, cacheable, _ := see(ctx, se, ms, "")
	info.View, info.PerCaller = view, !cacheable
	rd := registry.ReaderFrom(ctx)
	h := offset ^ se.gen
	for _, m := range ms {
		if !m.visible {
			continue
		}
		l, mi, err := m.idx.Root(ctx, m.repo)
		if err != nil {
			return out, info, err
		}
		h = (h ^ mi.Token ^ uint64(m.repo.ID)<<32) * prime
		info.Stale = info.Stale || mi.Stale
		info.PerCaller = info.PerCaller || mi.PerCaller
		for _, p := range l.Projects {
			if m.whole || rd.CanReadProject(m.repo, p.Normalized) {
				out.Projects = append(out.Projects, p)
			}
		}
	}
	slices.SortStableFunc(out.Projects, func(a, b pypi.ProjectEntry) int { return strings.Compare(a.Normalized, b.Normalized) })
	out.Projects = slices.CompactFunc(out.Projects, func(a, b pypi.ProjectEntry) bool { return a.Normalized == b.Normalized })
	info.Token = h
	return out, info, nil
}

// Project resolves a project: the first member the caller may read that
// has it supplies all its files, unless the project is in the merge list.
// Members after the one that answers are never asked, so an unreachable
// upstream does not slow a project found in a hosted member listed before
// it.
func (s *Service) Project(ctx context.Context, repo registry.Repository, name string) (pypi.ProjectPage, registry.PageInfo, error) {
	ctx, err := deeper(ctx, repo)
	if err != nil {
		return pypi.ProjectPage{}, registry.PageInfo{}, err
	}
	ms, se, err := s.members(ctx, repo)
	if err != nil {
		return pypi.ProjectPage{}, registry.PageInfo{}, err
	}
	merge := slices.Contains(se.s.Merge, name)
	var out pypi.ProjectPage
	var info registry.PageInfo
	view, cacheable, _ := see(ctx, se, ms, name)
	info.View, info.PerCaller = view, !cacheable
	found := false
	h := offset ^ se.gen
	for _, m := range ms {
		if !m.visible {
			continue
		}
		p, mi, err := m.idx.Project(ctx, m.repo, name)
		if errs.KindOf(err) == errs.NotFound {
			h = (h ^ mi.Token ^ uint64(m.repo.ID)<<32) * prime
			continue
		}
		if err != nil {
			return out, info, err
		}
		h = (h ^ mi.Token ^ uint64(m.repo.ID)<<32) * prime
		info.Stale = info.Stale || mi.Stale
		info.PerCaller = info.PerCaller || mi.PerCaller
		if !found {
			out, found = p, true
			if !merge {
				break
			}
			continue
		}
		mergeInto(&out, p)
	}
	if !found {
		return out, info, errs.Errorf(errs.NotFound, "virtual", "project '%s' not found in repository '%s' or its members", name, repo.Name)
	}
	info.Token = h
	return out, info, nil
}

// mergeInto adds p's files whose filenames out does not have yet (earlier
// members win) and its versions.
func mergeInto(out *pypi.ProjectPage, p pypi.ProjectPage) {
	have := make(map[string]bool, len(out.Files))
	for _, f := range out.Files {
		have[f.Filename] = true
	}
	for _, f := range p.Files {
		if !have[f.Filename] {
			out.Files = append(out.Files, f)
		}
	}
	for _, v := range p.Versions {
		if !slices.Contains(out.Versions, v) {
			out.Versions = append(out.Versions, v)
		}
	}
	slices.SortStableFunc(out.Versions, func(a, b string) int {
		va, e1 := pypi.ParseVersion(a)
		vb, e2 := pypi.ParseVersion(b)
		if e1 != nil || e2 != nil {
			return strings.Compare(a, b)
		}
		return pypi.Compare(va, vb)
	})
}

// Open finds the file in the members the caller may read, in order. The
// URL pins the sha256, so a member can only serve the exact bytes the page
// promised; each member checks the caller against the project its stored
// row names, and so does this repository.
func (s *Service) Open(ctx context.Context, repo registry.Repository, sha256, filename string, metadata bool) (registry.Download, error) {
	ctx, err := deeper(ctx, repo)
	if err != nil {
		return registry.Download{}, err
	}
	ms, _, err := s.members(ctx, repo)
	if err != nil {
		return registry.Download{}, err
	}
	rd := registry.ReaderFrom(ctx)
	for _, m := range ms {
		if ok, _ := rd.CanRead(m.repo); !ok {
			continue
		}
		d, err := m.idx.Open(ctx, m.repo, sha256, filename, metadata)
		if errs.KindOf(err) == errs.NotFound {
			continue
		}
		if err != nil {
			return d, err
		}
		if !rd.CanReadProject(repo, d.Project) {
			if d.Content != nil {
				d.Content.Close()
			}
			break
		}
		d.Private = d.Private || !m.repo.Public
		return d, nil
	}
	return registry.Download{}, errs.Errorf(errs.NotFound, "virtual", "file '%s' not found in repository '%s' or its members", filename, repo.Name)
}

// CheckMembers refuses settings whose members do not exist, would form a
// cycle, or whose upload target is not a hosted member. settingsOf returns
// a member's virtual settings (nil for other kinds).
func CheckMembers(ctx context.Context, name string, set registry.VirtualSettings,
	repo func(ctx context.Context, name string) (registry.Repository, error),
	settingsOf func(ctx context.Context, r registry.Repository) (*registry.VirtualSettings, error)) error {
	const op = "virtual.CheckMembers"
	if len(set.Members) == 0 {
		return errs.Errorf(errs.Invalid, op, "virtual repository '%s' needs at least one member", name)
	}
	var walk func(n string, path []string) error
	walk = func(n string, path []string) error {
		if slices.Contains(path, n) {
			return errs.Errorf(errs.Invalid, op, "virtual repository '%s' would form a cycle: %s", name, strings.Join(append(path, n), " -> "))
		}
		r, err := repo(ctx, n)
		if err != nil {
			return errs.Errorf(errs.Invalid, op, "member '%s' of virtual repository '%s' does not exist", n, name)
		}
		if r.Kind != registry.Virtual {
			return nil
		}
		vs, err := settingsOf(ctx, r)
		if err != nil || vs == nil {
			return err
		}
		for _, m := range vs.Members {
			if err := walk(m, append(path, n)); err != nil {
				return err
			}
		}
		return nil
	}
	for _, m := range set.Members {
		if err := walk(m, []string{name}); err != nil {
			return err
		}
	}
	if set.UploadTo != "" {
		if !slices.Contains(set.Members, set.UploadTo) {
			return errs.Errorf(errs.Invalid, op, "upload_to '%s' of virtual repository '%s' must be one of its members", set.UploadTo, name)
		}
		r, _ := repo(ctx, set.UploadTo)
		if r.Kind != registry.Hosted {
			return errs.Errorf(errs.Invalid, op, "upload_to '%s' of virtual repository '%s' must be a hosted repository", set.UploadTo, name)
		}
	}
	return nil
}

// CheckPublic refuses a public virtual repository with a private member,
// directly or through nested virtual repositories. Reads through a virtual
// repository skip the members the caller may not read, so such a
// repository would quietly show anonymous readers less than its member
// list says, and look to its creator as if it published the private
// member. It applies when a virtual repository is created, made public, or
// its members change (through the admin API and the configuration file).
// A member made private later is not refused: reads skip it for callers
// who may not read it. repo and settingsOf are as for CheckMembers.
func CheckPublic(ctx context.Context, name string, public bool, set registry.VirtualSettings,
	repo func(ctx context.Context, name string) (registry.Repository, error),
	settingsOf func(ctx context.Context, r registry.Repository) (*registry.VirtualSettings, error)) error {
	const op = "virtual.CheckPublic"
	if !public {
		return nil
	}
	seen := map[string]bool{}
	var walk func(members []string, via string) error
	walk = func(members []string, via string) error {
		for _, n := range members {
			if seen[n] {
				continue
			}
			seen[n] = true
			r, err := repo(ctx, n)
			if errs.KindOf(err) == errs.NotFound || errors.Is(err, store.ErrNotFound) {
				continue // CheckMembers names missing members
			}
			if err != nil {
				return err
			}
			if !r.Public {
				return errs.Errorf(errs.Invalid, op,
					"virtual repository '%s' is public but its member '%s'%s is private: reads through '%s' skip members the reader may not read, so anonymous readers would not see '%s' there. Make '%s' private (wharf repo create --private, or \"public\": false) so token holders read both, or make '%s' public",
					name, n, via, name, n, name, n)
			}
			if r.Kind != registry.Virtual {
				continue
			}
			vs, err := settingsOf(ctx, r)
			if err != nil {
				return err
			}
			if vs != nil {
				if err := walk(vs.Members, " (through '"+n+"')"); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(set.Members, "")
}
