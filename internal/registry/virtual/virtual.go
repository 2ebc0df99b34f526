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
}

func (s *Service) members(ctx context.Context, repo registry.Repository) ([]member, settingsEntry, error) {
	se, err := s.settingsOf(ctx, repo)
	set := se.s
	if err != nil {
		return nil, se, err
	}
	ms := make([]member, 0, len(set.Members))
	for _, name := range set.Members {
		r, err := s.cfg.Repo(ctx, name)
		if errs.KindOf(err) == errs.NotFound {
			continue // a deleted member is skipped, not fatal
		}
		if err != nil {
			return nil, se, err
		}
		idx := s.cfg.Index(r.Kind)
		if idx == nil {
			continue
		}
		ms = append(ms, member{r, idx})
	}
	return ms, se, nil
}

type depthKey struct{}

func deeper(ctx context.Context, repo registry.Repository) (context.Context, error) {
	d, _ := ctx.Value(depthKey{}).(int)
	if d >= maxDepth {
		return ctx, errs.Errorf(errs.Invalid, "virtual", "virtual repository '%s' nests more than %d levels deep (a cycle?)", repo.Name, maxDepth)
	}
	return context.WithValue(ctx, depthKey{}, d+1), nil
}

// PageToken combines the members' tokens; it only answers when every member
// can, and never touches the database (settings come from memory).
func (s *Service) PageToken(repo registry.Repository, project string) (uint64, bool) {
	s.mu.RLock()
	se, ok := s.settings[repo.ID]
	s.mu.RUnlock()
	if !ok || s.cfg.Now().Sub(se.loadedAt) >= s.cfg.SettingsTTL {
		return 0, false
	}
	// Member repositories are resolved through the cached lookup with a
	// background context: PageToken has no request context, and the
	// lookup is a map read when warm.
	ctx := context.Background()
	h := offset ^ se.gen
	for _, name := range se.s.Members {
		r, err := s.cfg.Repo(ctx, name)
		if err != nil {
			return 0, false
		}
		idx := s.cfg.Index(r.Kind)
		if idx == nil || r.Kind == registry.Virtual {
			return 0, false // nested virtuals: ask, do not recurse blindly
		}
		t, ok := idx.PageToken(r, project)
		if !ok {
			return 0, false
		}
		h = (h ^ t ^ uint64(r.ID)<<32) * 1099511628211
	}
	return h, true
}

// Root merges the members' project lists (names only: listing a name is
// not serving its files).
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
	h := offset ^ se.gen
	for _, m := range ms {
		l, mi, err := m.idx.Root(ctx, m.repo)
		if err != nil {
			return out, info, err
		}
		h = (h ^ mi.Token ^ uint64(m.repo.ID)<<32) * 1099511628211
		info.Stale = info.Stale || mi.Stale
		out.Projects = append(out.Projects, l.Projects...)
	}
	slices.SortStableFunc(out.Projects, func(a, b pypi.ProjectEntry) int { return strings.Compare(a.Normalized, b.Normalized) })
	out.Projects = slices.CompactFunc(out.Projects, func(a, b pypi.ProjectEntry) bool { return a.Normalized == b.Normalized })
	info.Token = h
	return out, info, nil
}

// Project resolves a project: the first member that has it supplies all its
// files, unless the project is in the merge list. Members after the one that
// answers are never asked, so an unreachable upstream does not slow a
// project found in a hosted member listed before it.
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
	found := false
	h := offset ^ se.gen
	for _, m := range ms {
		p, mi, err := m.idx.Project(ctx, m.repo, name)
		if errs.KindOf(err) == errs.NotFound {
			h = (h ^ mi.Token ^ uint64(m.repo.ID)<<32) * 1099511628211
			continue
		}
		if err != nil {
			return out, info, err
		}
		h = (h ^ mi.Token ^ uint64(m.repo.ID)<<32) * 1099511628211
		info.Stale = info.Stale || mi.Stale
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

// Open finds the file in the members, in order. The URL pins the sha256,
// so a member can only serve the exact bytes the page promised.
func (s *Service) Open(ctx context.Context, repo registry.Repository, sha256, filename string, metadata bool) (registry.Download, error) {
	ctx, err := deeper(ctx, repo)
	if err != nil {
		return registry.Download{}, err
	}
	ms, _, err := s.members(ctx, repo)
	if err != nil {
		return registry.Download{}, err
	}
	for _, m := range ms {
		d, err := m.idx.Open(ctx, m.repo, sha256, filename, metadata)
		if errs.KindOf(err) == errs.NotFound {
			continue
		}
		return d, err
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
