package remote_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/blob/fsblob"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/remote"
	"github.com/wharf-dev/wharf/internal/store/sqlstore"
	"github.com/wharf-dev/wharf/internal/upstream"
)

// fakeUpstream serves one project "demo" as PEP 691 JSON with one wheel.
type fakeUpstream struct {
	srv      *httptest.Server
	pageHits atomic.Int64
	fileHits atomic.Int64
	missHits atomic.Int64
	down     atomic.Bool
	refuse   atomic.Bool // answer 401 to everything
	refused  atomic.Int64
	// onPage, when set, runs before the project page is answered (a
	// hang, a slow failure); pageFails makes the page a 503 after it.
	onPage    atomic.Pointer[func()]
	pageFails atomic.Bool
	// fileHandler, when set, answers the wheel's URL instead.
	fileHandler atomic.Pointer[http.HandlerFunc]
	wheel       []byte
	advertised  string // sha256 put on the page
	filename    string // of the one file of "demo"
	uploaded    time.Time
	delay       time.Duration
}

func newUpstream(t *testing.T, uploaded time.Time) *fakeUpstream {
	u := &fakeUpstream{wheel: []byte("wheel bytes"), uploaded: uploaded, filename: "demo-1.0-py3-none-any.whl"}
	sum := sha256.Sum256(u.wheel)
	u.advertised = hex.EncodeToString(sum[:])
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if u.refuse.Load() {
			u.refused.Add(1)
			http.Error(w, "who are you?", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/simple/demo/":
			u.pageHits.Add(1)
			time.Sleep(u.delay)
			if f := u.onPage.Load(); f != nil {
				(*f)()
			}
			if u.pageFails.Load() {
				http.Error(w, "failed", http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
			fmt.Fprintf(w, `{"meta":{"api-version":"1.1"},"name":"demo","versions":["1.0"],"files":[{"filename":%q,"url":"/files/%s","hashes":{"sha256":%q},"requires-python":">=3.8","yanked":false,"size":%d,"upload-time":%q}]}`,
				u.filename, u.filename, u.advertised, len(u.wheel), u.uploaded.UTC().Format(time.RFC3339))
		case "/files/" + u.filename:
			u.fileHits.Add(1)
			if h := u.fileHandler.Load(); h != nil {
				(*h)(w, r)
				return
			}
			w.Write(u.wheel)
		default:
			u.missHits.Add(1)
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(u.srv.Close)
	return u
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	svc  *remote.Service
	repo registry.Repository
	up   *fakeUpstream
	clk  *clock
	st   *sqlstore.Store
	dir  string
}

func setup(t *testing.T, set registry.RemoteSettings, uploadedAgo time.Duration) *fixture {
	t.Helper()
	ctx := context.Background()
	clk := &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	up := newUpstream(t, clk.Now().Add(-uploadedAgo))
	dir := t.TempDir()
	st, err := sqlstore.Open(ctx, sqlstore.Config{DSN: filepath.Join(dir, "db.sqlite")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	repo := registry.Repository{Name: "up", Kind: registry.Remote, Public: true}
	if err := st.Repos().Create(ctx, &repo); err != nil {
		t.Fatal(err)
	}
	set.Upstream = up.srv.URL + "/simple/"
	b, _ := json.Marshal(registry.RepoSettings{Remote: &set})
	if err := st.Remote().PutSettings(ctx, repo.ID, b); err != nil {
		t.Fatal(err)
	}
	f := &fixture{repo: repo, up: up, clk: clk, st: st, dir: dir}
	f.svc = f.newService(t)
	return f
}

func (f *fixture) newService(t *testing.T) *remote.Service { return f.newServiceWith(t, nil) }

// newServiceWith builds a service on the fixture's store and clock; edit
// changes its configuration first.
func (f *fixture) newServiceWith(t *testing.T, edit func(*remote.Config)) *remote.Service {
	bs, err := fsblob.New(filepath.Join(f.dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := remote.Config{Store: f.st, Blobs: bs, Upstream: upstream.New(upstream.Config{}), Now: f.clk.Now}
	if edit != nil {
		edit(&cfg)
	}
	return remote.New(cfg)
}

func TestTTLAndStale(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, registry.RemoteSettings{TTL: registry.Duration(10 * time.Minute), StaleMaxAge: registry.Duration(time.Hour)}, 100*time.Hour)
	p, info, err := f.svc.Project(ctx, f.repo, "demo")
	if err != nil || len(p.Files) != 1 || info.Stale {
		t.Fatalf("Project = %+v, %+v, %v", p, info, err)
	}
	if got, want := p.Files[0].URL, "../../files/"+f.up.advertised+"/demo-1.0-py3-none-any.whl"; got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
	if p.Files[0].RequiresPython != ">=3.8" || p.Files[0].Size != int64(len(f.up.wheel)) || p.Files[0].UploadTime.IsZero() {
		t.Errorf("fields lost: %+v", p.Files[0])
	}
	f.clk.Add(9 * time.Minute)
	if _, _, err := f.svc.Project(ctx, f.repo, "demo"); err != nil {
		t.Fatal(err)
	}
	if n := f.up.pageHits.Load(); n != 1 {
		t.Errorf("fresh page fetched %d times, want 1", n)
	}
	if tok, ok := f.svc.PageToken(f.repo, "demo"); !ok || tok != info.Token {
		t.Errorf("PageToken = %d, %v; want %d, true", tok, ok, info.Token)
	}
	f.clk.Add(2 * time.Minute) // past the TTL
	if _, ok := f.svc.PageToken(f.repo, "demo"); ok {
		t.Error("PageToken answered for an expired entry")
	}
	f.up.down.Store(true)
	p, info, err = f.svc.Project(ctx, f.repo, "demo")
	if err != nil || !info.Stale || len(p.Files) != 1 {
		t.Fatalf("with the upstream down: %+v, %+v, %v; want a stale page", p, info, err)
	}
	// A restarted wharf serves the persisted page while the upstream is down.
	svc2 := f.newService(t)
	if _, info, err := svc2.Project(ctx, f.repo, "demo"); err != nil || !info.Stale {
		t.Fatalf("after restart: %+v, %v; want stale page", info, err)
	}
	f.clk.Add(2 * time.Hour) // past the stale limit
	if _, _, err := svc2.Project(ctx, f.repo, "demo"); errs.KindOf(err) != errs.Upstream {
		t.Fatalf("past stale_max_age: err = %v, want an upstream error", err)
	}
}

func TestNegativeCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, registry.RemoteSettings{NegativeTTL: registry.Duration(time.Minute)}, 100*time.Hour)
	for range 3 {
		if _, _, err := f.svc.Project(ctx, f.repo, "nope"); errs.KindOf(err) != errs.NotFound {
			t.Fatalf("err = %v, want NotFound", err)
		}
	}
	if n := f.up.missHits.Load(); n != 1 {
		t.Errorf("upstream asked %d times within the negative TTL, want 1", n)
	}
	f.clk.Add(2 * time.Minute)
	if _, _, err := f.svc.Project(ctx, f.repo, "nope"); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("err = %v, want NotFound", err)
	}
	if n := f.up.missHits.Load(); n != 2 {
		t.Errorf("upstream asked %d times after the negative TTL, want 2", n)
	}
}

func TestSingleflight(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, registry.RemoteSettings{}, 100*time.Hour)
	f.up.delay = 50 * time.Millisecond
	var wg sync.WaitGroup
	errc := make(chan error, 100)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := f.svc.Project(ctx, f.repo, "demo")
			errc <- err
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.up.pageHits.Load(); n != 1 {
		t.Errorf("100 concurrent cold requests made %d upstream fetches, want 1", n)
	}
}

func TestFileFetchedOnceAndVerified(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, registry.RemoteSettings{}, 100*time.Hour)
	if _, _, err := f.svc.Project(ctx, f.repo, "demo"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		d, err := f.svc.Open(ctx, f.repo, f.up.advertised, "demo-1.0-py3-none-any.whl", false)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(d.Content)
		d.Content.Close()
		if string(b) != string(f.up.wheel) {
			t.Errorf("content = %q", b)
		}
	}
	if n := f.up.fileHits.Load(); n != 1 {
		t.Errorf("file fetched %d times, want 1", n)
	}
	// Cached files are served with the upstream down.
	f.up.down.Store(true)
	if d, err := f.svc.Open(ctx, f.repo, f.up.advertised, "demo-1.0-py3-none-any.whl", false); err != nil {
		t.Fatalf("cached file with upstream down: %v", err)
	} else {
		d.Content.Close()
	}
	if _, err := f.svc.Open(ctx, f.repo, f.up.advertised, "other-1.0.tar.gz", false); errs.KindOf(err) != errs.NotFound {
		t.Errorf("wrong filename: err = %v, want NotFound", err)
	}
}

func TestHashMismatchRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, registry.RemoteSettings{}, 100*time.Hour)
	f.up.advertised = hex.EncodeToString(make([]byte, 32)) // not the wheel's hash
	if _, _, err := f.svc.Project(ctx, f.repo, "demo"); err != nil {
		t.Fatal(err)
	}
	// Refused when Open is answered, or while the content streams.
	d, err := f.svc.Open(ctx, f.repo, f.up.advertised, "demo-1.0-py3-none-any.whl", false)
	if err == nil {
		_, err = io.ReadAll(d.Content)
		d.Content.Close()
	}
	if errs.KindOf(err) != errs.Upstream {
		t.Fatalf("err = %v, want a refused upstream file", err)
	}
	bs, _ := fsblob.New(filepath.Join(f.dir, "blobs"))
	sum := sha256.Sum256(f.up.wheel)
	if _, err := bs.Stat(ctx, hex.EncodeToString(sum[:])); err == nil {
		t.Error("the mismatching file was cached")
	}
}

func TestCooldown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tt := range []struct {
		name       string
		age        time.Duration
		exceptions []string
		want       int
	}{
		{"fresh file hidden", time.Hour, nil, 0},
		{"old file shown", 100 * time.Hour, nil, 1},
		{"exception shows fresh file", time.Hour, []string{"demo"}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, registry.RemoteSettings{MinReleaseAge: registry.Duration(72 * time.Hour), CooldownExceptions: tt.exceptions}, tt.age)
			p, _, err := f.svc.Project(ctx, f.repo, "demo")
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Files) != tt.want {
				t.Fatalf("%d files shown, want %d", len(p.Files), tt.want)
			}
			_, err = f.svc.Open(ctx, f.repo, f.up.advertised, "demo-1.0-py3-none-any.whl", false)
			if hidden := errs.KindOf(err) == errs.NotFound; hidden != (tt.want == 0) {
				t.Errorf("download err = %v, hidden = %v", err, hidden)
			}
		})
	}
}

// TestFileProjectIsTheListingPage: a download is authorised by the project
// whose page listed the file, never by the URL's filename: a file of "demo"
// named as if it were "acme"'s, or named so it does not parse at all, is
// absent for a token limited to acme, and a cooldown exception for acme
// does not apply to it.
func TestFileProjectIsTheListingPage(t *testing.T) {
	t.Parallel()
	read := []registry.Action{registry.Read}
	acme := auth.Principal{Scope: registry.Scope{Actions: read, Projects: []string{"acme"}}}.Reader()
	demo := auth.Principal{Scope: registry.Scope{Actions: read, Projects: []string{"demo"}}}.Reader()
	for _, name := range []string{"acme-1.0-py3-none-any.whl", "acme.egg", "acme-1.0.tar.bz2"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, registry.RemoteSettings{}, 100*time.Hour)
			f.up.filename = name
			f.repo.Public = false
			ctx := registry.WithReader(context.Background(), demo)
			if _, _, err := f.svc.Project(ctx, f.repo, "demo"); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.Open(registry.WithReader(ctx, acme), f.repo, f.up.advertised, name, false); errs.KindOf(err) != errs.NotFound {
				t.Errorf("token for acme opens demo's file %s: %v, want not found", name, err)
			}
			if n := f.up.fileHits.Load(); n != 0 {
				t.Errorf("the refused download fetched the file upstream %d times", n)
			}
			d, err := f.svc.Open(ctx, f.repo, f.up.advertised, name, false)
			if err != nil {
				t.Fatalf("token for demo: %v", err)
			}
			d.Content.Close()
			if d.Project != "demo" {
				t.Errorf("Download.Project = %q, want demo", d.Project)
			}
		})
	}
	f := setup(t, registry.RemoteSettings{MinReleaseAge: registry.Duration(72 * time.Hour), CooldownExceptions: []string{"acme"}}, time.Hour)
	f.up.filename = "acme-1.0-py3-none-any.whl"
	if _, _, err := f.svc.Project(context.Background(), f.repo, "demo"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Open(context.Background(), f.repo, f.up.advertised, f.up.filename, false); errs.KindOf(err) != errs.NotFound {
		t.Errorf("demo's fresh file named for acme passed acme's cooldown exception: %v", err)
	}
}
