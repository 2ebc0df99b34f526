// Package remote implements pull-through cache repositories: pages fetched
// from an upstream index and kept fresh for a TTL, upstream 404s remembered
// for a shorter one, the last good page served when the upstream fails
// (stale-if-error), one upstream fetch per key at a time, files fetched once
// on first download and verified against the upstream's sha256, and a
// cooldown that hides files younger than a minimum age.
package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"log/slog"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/wharf-dev/wharf/internal/blob"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
	"github.com/wharf-dev/wharf/internal/upstream"
)

// Defaults for settings left zero.
const (
	DefaultTTL         = 10 * time.Minute
	DefaultNegativeTTL = time.Minute
	DefaultStaleMaxAge = 7 * 24 * time.Hour
)

// Config holds the service's dependencies.
type Config struct {
	Store    store.Store
	Blobs    blob.Store
	Upstream *upstream.Client
	Now      func() time.Time
	Logger   *slog.Logger
	Metrics  prometheus.Registerer
	// PageTimeout bounds a page fill, run on a context detached from the
	// client (default 30s). A file fill has no fixed total: the upstream
	// client's response deadline and minimum transfer rate bound it.
	PageTimeout time.Duration
	// SpoolDir holds the spool files through which clients read a file
	// while it is first fetched (os.TempDir() when empty). They are
	// unlinked at creation, so a crash leaves nothing behind.
	SpoolDir string
	// ErrorBackoff is how long after a failed fetch the upstream is not
	// asked again for the same page (default 10s): the stale page is
	// served, or the failure answered again when there is none, so a dead
	// upstream costs one timeout per key per backoff, not one per request.
	// A refusal of the credentials (401/403) backs off the whole
	// repository until the secret gets a new version, so an upstream
	// account is not hammered with requests it will refuse.
	ErrorBackoff time.Duration
	// RefreshWait is how long a request for a page past its TTL waits for
	// the refresh before it is answered with the stale page while the
	// refresh goes on in the background (default 1s; negative: no wait).
	// A hanging upstream then costs clients this, never PageTimeout.
	RefreshWait time.Duration
	// MaxFileSize caps a file fetched from upstream (default 4 GiB).
	MaxFileSize int64
	// SettingsTTL bounds how long repository settings are cached (default 2s).
	SettingsTTL time.Duration
}

// Service serves every remote repository.
type Service struct {
	cfg   Config
	log   *slog.Logger
	group singleflight.Group
	// locker makes a cold fill one upstream fetch across replicas (the
	// database's advisory lock); nil when the store offers none.
	locker store.Locker

	mu       sync.RWMutex
	entries  map[entryKey]*entry
	settings map[int64]*settingsEntry
	rootGen  map[int64]uint64
	// failures are the fetches that failed within the backoff, by page;
	// refusals the repositories whose credentials the upstream refused.
	failures map[entryKey]failure
	refusals map[int64]failure
	// fills are the files being fetched from upstreams, by blob key.
	fills map[string]*fill

	staleServed *prometheus.CounterVec
	fetches     *prometheus.CounterVec
}

type entryKey struct {
	repo    int64
	project string
}

// entry is one cached upstream page, immutable once published in the map.
type entry struct {
	page      pypi.ProjectPage // upstream URLs, as fetched
	firstSeen map[string]time.Time
	notFound  bool
	fetchedAt time.Time
}

// failure is a failed upstream fetch, stamped when it failed (not when it
// started: a fetch that timed out after 30s must still back off).
type failure struct {
	at  time.Time
	err error
	// cred is the credential the upstream refused (upstream.Refused).
	cred string
}

// persisted is the JSON kept in the store for an entry.
type persisted struct {
	Page      pypi.ProjectPage     `json:"page"`
	FirstSeen map[string]time.Time `json:"first_seen,omitempty"`
}

type settingsEntry struct {
	s        registry.RemoteSettings
	raw      []byte
	gen      uint64
	loadedAt time.Time
}

// New builds a Service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PageTimeout <= 0 {
		cfg.PageTimeout = 30 * time.Second
	}
	if cfg.ErrorBackoff <= 0 {
		cfg.ErrorBackoff = 10 * time.Second
	}
	if cfg.RefreshWait == 0 {
		cfg.RefreshWait = time.Second
	}
	if cfg.MaxFileSize <= 0 {
		cfg.MaxFileSize = 4 << 30
	}
	if cfg.SettingsTTL <= 0 {
		cfg.SettingsTTL = 2 * time.Second
	}
	s := &Service{
		cfg: cfg, log: cfg.Logger,
		entries:  map[entryKey]*entry{},
		settings: map[int64]*settingsEntry{},
		rootGen:  map[int64]uint64{},
		failures: map[entryKey]failure{},
		refusals: map[int64]failure{},
		fills:    map[string]*fill{},
		staleServed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wharf_remote_stale_served_total",
			Help: "Pages served stale: the upstream failed, is backing off after a failure, or is slower than the refresh wait.",
		}, []string{"repo"}),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wharf_remote_upstream_fetches_total",
			Help: "Upstream fetches by what was fetched and how it ended.",
		}, []string{"repo", "what", "outcome"}),
	}
	if cfg.Metrics != nil {
		cfg.Metrics.MustRegister(s.staleServed, s.fetches)
	}
	s.locker, _ = cfg.Store.(store.Locker)
	return s
}

// Settings returns the repository's effective settings (defaults applied),
// cached for a short time, and a generation that changes when they do.
func (s *Service) Settings(ctx context.Context, repo registry.Repository) (registry.RemoteSettings, uint64, error) {
	now := s.cfg.Now()
	s.mu.RLock()
	se := s.settings[repo.ID]
	s.mu.RUnlock()
	if se != nil && now.Sub(se.loadedAt) < s.cfg.SettingsTTL {
		return se.s, se.gen, nil
	}
	raw, err := s.cfg.Store.Remote().Settings(ctx, repo.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		if se != nil {
			return se.s, se.gen, nil // keep serving with what we had
		}
		return registry.RemoteSettings{}, 0, err
	}
	var rs registry.RepoSettings
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &rs); err != nil {
			return registry.RemoteSettings{}, 0, errs.E(errs.Internal, "remote", err)
		}
	}
	var set registry.RemoteSettings
	if rs.Remote != nil {
		set = *rs.Remote
	}
	ApplyDefaults(&set)
	ne := &settingsEntry{s: set, raw: raw, loadedAt: now, gen: 1}
	if se != nil {
		ne.gen = se.gen
		if !bytes.Equal(se.raw, raw) {
			ne.gen++
		}
	}
	s.mu.Lock()
	s.settings[repo.ID] = ne
	s.mu.Unlock()
	return ne.s, ne.gen, nil
}

// ApplyDefaults fills zero settings with the defaults.
func ApplyDefaults(s *registry.RemoteSettings) {
	if s.Upstream == "" {
		s.Upstream = registry.DefaultUpstream
	}
	if s.Auth == "" {
		s.Auth = registry.AuthNone
	}
	if s.TTL == 0 {
		s.TTL = registry.Duration(DefaultTTL)
	}
	if s.NegativeTTL == 0 {
		s.NegativeTTL = registry.Duration(DefaultNegativeTTL)
	}
	if s.StaleMaxAge == 0 {
		s.StaleMaxAge = registry.Duration(DefaultStaleMaxAge)
	}
}

// Forget drops cached settings (after an administrative change).
func (s *Service) Forget(repoID int64) {
	s.mu.Lock()
	delete(s.settings, repoID)
	s.mu.Unlock()
}

func (e *entry) fresh(set registry.RemoteSettings, now time.Time) bool {
	ttl := time.Duration(set.TTL)
	if e.notFound {
		ttl = time.Duration(set.NegativeTTL)
	}
	return now.Before(e.fetchedAt.Add(ttl))
}

// usableStale reports whether e may be served after a failed refresh.
func (e *entry) usableStale(set registry.RemoteSettings, now time.Time) bool {
	if set.StaleMaxAge < 0 {
		return false
	}
	return now.Before(e.fetchedAt.Add(time.Duration(set.TTL) + time.Duration(set.StaleMaxAge)))
}

func (s *Service) cached(k entryKey) *entry {
	s.mu.RLock()
	e := s.entries[k]
	s.mu.RUnlock()
	return e
}

func (s *Service) publish(k entryKey, e *entry) {
	s.mu.Lock()
	if len(s.entries) >= 50000 {
		clear(s.entries) // bounded; the store still has every page
	}
	s.entries[k] = e
	s.mu.Unlock()
}

// PageToken implements registry.Index. It answers from memory only: a
// project page is known unchanged while its entry is fresh and no hidden
// file has come out of cooldown.
func (s *Service) PageToken(repo registry.Repository, project string) (uint64, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	se := s.settings[repo.ID]
	if se == nil {
		return 0, false
	}
	now := s.cfg.Now()
	if now.Sub(se.loadedAt) >= s.cfg.SettingsTTL {
		return 0, false
	}
	if project == "" {
		return mix(s.rootGen[repo.ID], se.gen, 0), true
	}
	e := s.entries[entryKey{repo.ID, project}]
	if e == nil || e.notFound || !e.fresh(se.s, now) {
		return 0, false
	}
	hidden, reveal := cooldown(e, se.s, project, now)
	if hidden > 0 && !now.Before(reveal) {
		return 0, false
	}
	return mix(uint64(e.fetchedAt.UnixNano()), se.gen, uint64(hidden)), true
}

func mix(a, b, c uint64) uint64 {
	h := fnv.New64a()
	var buf [24]byte
	for i, v := range []uint64{a, b, c} {
		for j := range 8 {
			buf[i*8+j] = byte(v >> (8 * j))
		}
	}
	h.Write(buf[:])
	return h.Sum64()
}

// uploadTime is when a file counts as released: the upstream's upload-time,
// or when wharf first saw the file (HTML pages carry no upload-time; the
// conservative reading is that a file is as new as our first sight of it).
func uploadTime(e *entry, f *pypi.FileEntry) time.Time {
	if !f.UploadTime.IsZero() {
		return f.UploadTime
	}
	return e.firstSeen[f.SHA256]
}

// cooldown counts the files of e hidden at now and when the next one
// comes out of cooldown.
func cooldown(e *entry, set registry.RemoteSettings, project string, now time.Time) (hidden int, reveal time.Time) {
	age := time.Duration(set.MinReleaseAge)
	if age <= 0 || slices.Contains(set.CooldownExceptions, project) {
		return 0, time.Time{}
	}
	for i := range e.page.Files {
		at := uploadTime(e, &e.page.Files[i]).Add(age)
		if now.Before(at) {
			hidden++
			if reveal.IsZero() || at.Before(reveal) {
				reveal = at
			}
		}
	}
	return hidden, reveal
}

// Project implements registry.Index.
func (s *Service) Project(ctx context.Context, repo registry.Repository, name string) (pypi.ProjectPage, registry.PageInfo, error) {
	set, gen, err := s.Settings(ctx, repo)
	if err != nil {
		return pypi.ProjectPage{}, registry.PageInfo{}, err
	}
	e, stale, err := s.entry(ctx, repo, set, name)
	if err != nil {
		return pypi.ProjectPage{}, registry.PageInfo{}, err
	}
	if e.notFound {
		return pypi.ProjectPage{}, registry.PageInfo{}, errs.Errorf(errs.NotFound, "remote", "project '%s' not found in repository '%s' (nor upstream)", name, repo.Name)
	}
	now := s.cfg.Now()
	hidden, _ := cooldown(e, set, name, now)
	page := s.view(e, set, name, now)
	return page, registry.PageInfo{Token: mix(uint64(e.fetchedAt.UnixNano()), gen, uint64(hidden)), Stale: stale}, nil
}

// FileURL is where wharf serves a remote file, relative to a project page.
func FileURL(sha256, filename string) string { return "../../files/" + sha256 + "/" + filename }

// view builds the page wharf serves from a cached entry: file URLs point at
// wharf and files in cooldown are left out.
func (s *Service) view(e *entry, set registry.RemoteSettings, project string, now time.Time) pypi.ProjectPage {
	age := time.Duration(set.MinReleaseAge)
	if slices.Contains(set.CooldownExceptions, project) {
		age = 0
	}
	p := pypi.ProjectPage{Name: e.page.Name, DisplayName: e.page.DisplayName, Versions: e.page.Versions, Files: make([]pypi.FileEntry, 0, len(e.page.Files))}
	for _, f := range e.page.Files {
		if age > 0 && now.Before(uploadTime(e, &f).Add(age)) {
			continue
		}
		f.URL = FileURL(f.SHA256, f.Filename)
		p.Files = append(p.Files, f)
	}
	if len(p.Versions) == 0 {
		for _, f := range p.Files {
			if f.Version != "" && !slices.Contains(p.Versions, f.Version) {
				p.Versions = append(p.Versions, f.Version)
			}
		}
		sortVersions(p.Versions)
	}
	return p
}

func sortVersions(vs []string) {
	slices.SortStableFunc(vs, func(a, b string) int {
		va, errA := pypi.ParseVersion(a)
		vb, errB := pypi.ParseVersion(b)
		if errA != nil || errB != nil {
			return 0
		}
		return pypi.Compare(va, vb)
	})
}

// entry returns the cached entry for a project, refreshing it from the
// upstream when it is not fresh. stale is set when an old entry is served
// because the refresh failed, is backing off, or is still running.
func (s *Service) entry(ctx context.Context, repo registry.Repository, set registry.RemoteSettings, name string) (*entry, bool, error) {
	k := entryKey{repo.ID, name}
	now := s.cfg.Now()
	e := s.cached(k)
	if e == nil {
		var err error
		if e, err = s.load(ctx, k); err != nil {
			return nil, false, err
		}
	}
	if e != nil && e.fresh(set, now) {
		return e, false, nil
	}
	if e != nil && !e.usableStale(set, now) {
		e = nil // too old to serve, whatever happens
	}
	if f, ok := s.backingOff(ctx, repo, set, k, now); ok {
		if e != nil {
			s.staleServed.WithLabelValues(repo.Name).Inc()
			return e, true, nil
		}
		return nil, false, f.err
	}
	// One fetch per key in the process, on a context the client cannot
	// cancel: a disconnect must not waste the fill for everyone waiting,
	// and a refresh outlives the request that was answered stale.
	ch := s.group.DoChan(sfKey("page", repo.ID, name), func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.PageTimeout)
		defer cancel()
		ne, err := s.fillShared(fctx, repo, set, k)
		s.noteOutcome(repo, k, err)
		return ne, err
	})
	var wait <-chan time.Time
	if e != nil {
		if s.cfg.RefreshWait < 0 {
			wait = closedTime
		} else {
			t := time.NewTimer(s.cfg.RefreshWait)
			defer t.Stop()
			wait = t.C
		}
	}
	select {
	case r := <-ch:
		if r.Err == nil {
			return r.Val.(*entry), false, nil
		}
		if e == nil {
			return nil, false, r.Err
		}
		s.log.Warn("serving a stale page: the upstream failed", "repo", repo.Name, "project", name,
			"fetched_at", e.fetchedAt, "error", r.Err)
	case <-wait:
		s.log.Debug("serving a stale page while the refresh runs", "repo", repo.Name, "project", name)
	case <-ctx.Done():
		return nil, false, errs.E(errs.Unavailable, "remote", ctx.Err())
	}
	s.staleServed.WithLabelValues(repo.Name).Inc()
	return e, true, nil
}

// closedTime makes a select take its stale branch at once.
var closedTime = func() <-chan time.Time {
	c := make(chan time.Time)
	close(c)
	return c
}()

// noteOutcome remembers a failed fetch, stamped now that it has failed,
// or forgets the failures a success ends.
func (s *Service) noteOutcome(repo registry.Repository, k entryKey, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		delete(s.failures, k)
		delete(s.refusals, repo.ID)
		return
	}
	f := failure{at: s.cfg.Now(), err: err}
	if cred, ok := upstream.Refused(err); ok {
		f.cred = cred
		s.refusals[repo.ID] = f
	}
	if len(s.failures) >= 50000 {
		clear(s.failures) // bounded; at worst a key is fetched again early
	}
	s.failures[k] = f
}

// backingOff returns the failure that keeps key k (or its whole
// repository, when the upstream refused the credentials) from being
// fetched at now. A refused credential stops counting as soon as the
// repository's secret resolves to another one, so a rotation applies on
// the next request.
func (s *Service) backingOff(ctx context.Context, repo registry.Repository, set registry.RemoteSettings, k entryKey, now time.Time) (failure, bool) {
	s.mu.RLock()
	f, ok := s.refusals[repo.ID]
	if !ok || now.Sub(f.at) >= s.cfg.ErrorBackoff {
		f, ok = s.failures[k]
	}
	s.mu.RUnlock()
	if !ok || now.Sub(f.at) >= s.cfg.ErrorBackoff || now.Before(f.at) {
		return failure{}, false
	}
	if _, refused := upstream.Refused(f.err); refused {
		cred, err := s.cfg.Upstream.CredentialID(ctx, upstream.Target{Repo: repo.Name, Settings: set})
		if err == nil && cred != f.cred {
			return failure{}, false
		}
	}
	return f, true
}

func sfKey(what string, repo int64, name string) string {
	return what + "\x00" + itoa(repo) + "\x00" + name
}

func itoa(n int64) string {
	var b [20]byte
	i := len(b)
	if n == 0 {
		return "0"
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// load reads a persisted entry (after a restart); nil when none.
func (s *Service) load(ctx context.Context, k entryKey) (*entry, error) {
	cp, err := s.cfg.Store.Remote().Page(ctx, k.repo, k.project)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	e := &entry{notFound: cp.NotFound, fetchedAt: cp.FetchedAt}
	if !cp.NotFound {
		var p persisted
		if err := json.Unmarshal(cp.Body, &p); err != nil {
			s.log.Warn("ignoring an unreadable cached page", "project", k.project, "error", err)
			return nil, nil
		}
		e.page, e.firstSeen = p.Page, p.FirstSeen
	}
	s.publish(k, e)
	return e, nil
}

// fillShared is fill under the cross-replica lock of the page: a replica
// that waited for another's fill finds the page fresh in the store and
// does not fetch it again.
func (s *Service) fillShared(ctx context.Context, repo registry.Repository, set registry.RemoteSettings, k entryKey) (*entry, error) {
	if s.locker == nil {
		return s.fill(ctx, repo, set, k)
	}
	var out *entry
	err := s.locker.WithLock(ctx, "wharf/remote/"+sfKey("page", k.repo, k.project), func(ctx context.Context) error {
		if e, err := s.load(ctx, k); err == nil && e != nil && e.fresh(set, s.cfg.Now()) {
			out = e
			return nil
		}
		var err error
		out, err = s.fill(ctx, repo, set, k)
		return err
	})
	return out, err
}

// fill fetches a page from the upstream and stores it (memory and store).
func (s *Service) fill(ctx context.Context, repo registry.Repository, set registry.RemoteSettings, k entryKey) (*entry, error) {
	now := s.cfg.Now()
	page, err := s.cfg.Upstream.Project(ctx, upstream.Target{Repo: repo.Name, Settings: set}, k.project)
	if errs.KindOf(err) == errs.NotFound {
		s.fetches.WithLabelValues(repo.Name, "page", "not_found").Inc()
		e := &entry{notFound: true, fetchedAt: now}
		if err := s.cfg.Store.Remote().PutPage(ctx, store.CachedPage{RepoID: repo.ID, Project: k.project, NotFound: true, FetchedAt: now}); err != nil {
			s.log.Warn("could not persist a negative cache entry", "repo", repo.Name, "project", k.project, "error", err)
		}
		s.publish(k, e)
		return e, nil
	}
	if err != nil {
		s.fetches.WithLabelValues(repo.Name, "page", "error").Inc()
		return nil, err
	}
	s.fetches.WithLabelValues(repo.Name, "page", "ok").Inc()
	prev := s.cached(k)
	e := &entry{fetchedAt: now, firstSeen: map[string]time.Time{}}
	e.page = pypi.ProjectPage{Name: k.project, DisplayName: page.DisplayName, Versions: page.Versions, Files: make([]pypi.FileEntry, 0, len(page.Files))}
	files := make([]store.RemoteFile, 0, len(page.Files))
	for _, f := range page.Files {
		// Only files wharf can verify and name safely in a URL are offered.
		if !blob.ValidKey(f.SHA256) || f.Filename == "" || url.PathEscape(f.Filename) != f.Filename {
			continue
		}
		if f.CoreMetadataSHA256 != "" && !blob.ValidKey(f.CoreMetadataSHA256) {
			f.CoreMetadataSHA256 = ""
		}
		if f.UploadTime.IsZero() {
			seen := now
			if prev != nil {
				if t, ok := prev.firstSeen[f.SHA256]; ok {
					seen = t
				}
			}
			e.firstSeen[f.SHA256] = seen
		}
		e.page.Files = append(e.page.Files, f)
		files = append(files, store.RemoteFile{RepoID: repo.ID, SHA256: f.SHA256, Filename: f.Filename, URL: f.URL,
			MetadataSHA256: f.CoreMetadataSHA256, UploadTime: uploadTime(e, &f), Project: k.project})
	}
	body, err := json.Marshal(persisted{Page: e.page, FirstSeen: e.firstSeen})
	if err != nil {
		return nil, errs.E(errs.Internal, "remote", err)
	}
	// The file map first: a page must never point at files wharf cannot
	// find after a restart.
	if err := s.cfg.Store.Remote().PutFiles(ctx, files); err != nil {
		return nil, err
	}
	if err := s.cfg.Store.Remote().PutPage(ctx, store.CachedPage{RepoID: repo.ID, Project: k.project, Body: body, FetchedAt: now}); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if prev == nil || prev.notFound {
		s.rootGen[repo.ID]++
	}
	s.mu.Unlock()
	s.publish(k, e)
	return e, nil
}

// Root implements registry.Index: the projects this cache holds. Listing
// the upstream's whole index (PyPI's is hundreds of thousands of names)
// would cost a huge fetch for a page installers never read.
func (s *Service) Root(ctx context.Context, repo registry.Repository) (pypi.ProjectList, registry.PageInfo, error) {
	_, gen, err := s.Settings(ctx, repo)
	if err != nil {
		return pypi.ProjectList{}, registry.PageInfo{}, err
	}
	s.mu.RLock()
	rg := s.rootGen[repo.ID]
	s.mu.RUnlock()
	names, err := s.cfg.Store.Remote().Projects(ctx, repo.ID)
	if err != nil {
		return pypi.ProjectList{}, registry.PageInfo{}, err
	}
	l := pypi.ProjectList{Projects: make([]pypi.ProjectEntry, len(names))}
	for i, n := range names {
		l.Projects[i] = pypi.ProjectEntry{Name: n, Normalized: n}
	}
	return l, registry.PageInfo{Token: mix(rg, gen, 0)}, nil
}
