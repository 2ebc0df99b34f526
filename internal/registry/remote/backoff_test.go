package remote_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/remote"
	"github.com/wharf-dev/wharf/internal/upstream"
)

// project runs Project but gives up after a while, so a request that
// would wait for the upstream's timeout fails the test instead of hanging
// it.
func project(t *testing.T, svc *remote.Service, repo registry.Repository, name string) (stale bool, err error) {
	t.Helper()
	type result struct {
		stale bool
		err   error
	}
	done := make(chan result, 1)
	go func() {
		_, info, err := svc.Project(context.Background(), repo, name)
		done <- result{info.Stale, err}
	}()
	select {
	case r := <-done:
		return r.stale, r.err
	case <-time.After(20 * time.Second):
		t.Fatalf("Project(%s) still waiting for the upstream after 20s", name)
		return false, nil
	}
}

// TestStaleServedWhileTheUpstreamHangs: a page past its TTL whose upstream
// hangs is answered from the stale copy without waiting for the page
// timeout (one hour here), while one refresh runs in the background; when
// the upstream answers, the next request gets the fresh page.
func TestStaleServedWhileTheUpstreamHangs(t *testing.T) {
	t.Parallel()
	f := setup(t, registry.RemoteSettings{TTL: registry.Duration(time.Minute), StaleMaxAge: registry.Duration(time.Hour)}, 100*time.Hour)
	svc := f.newServiceWith(t, func(c *remote.Config) { c.PageTimeout = time.Hour; c.RefreshWait = 10 * time.Millisecond })
	if stale, err := project(t, svc, f.repo, "demo"); err != nil || stale {
		t.Fatalf("cold fetch: stale %v, %v", stale, err)
	}
	release := make(chan struct{})
	hang := func() { <-release }
	f.up.onPage.Store(&hang)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	f.clk.Add(2 * time.Minute)
	for i := range 3 {
		if stale, err := project(t, svc, f.repo, "demo"); err != nil || !stale {
			t.Fatalf("request %d with the upstream hanging: stale %v, %v; want the stale page", i, stale, err)
		}
	}
	if n := f.up.pageHits.Load(); n != 2 {
		t.Errorf("%d page fetches, want 2 (the cold one and one refresh)", n)
	}
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	for {
		stale, err := project(t, svc, f.repo, "demo")
		if err != nil {
			t.Fatal(err)
		}
		if !stale {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("still stale 10s after the upstream answered")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBackoffStampedWhenTheFetchFails: a refresh that fails after a long
// time (the clock moves 30s while the upstream thinks) backs off from the
// moment it failed, so the next request does not ask again.
func TestBackoffStampedWhenTheFetchFails(t *testing.T) {
	t.Parallel()
	f := setup(t, registry.RemoteSettings{TTL: registry.Duration(time.Minute), StaleMaxAge: registry.Duration(time.Hour)}, 100*time.Hour)
	svc := f.newServiceWith(t, func(c *remote.Config) { c.ErrorBackoff = 10 * time.Second })
	if _, err := project(t, svc, f.repo, "demo"); err != nil {
		t.Fatal(err)
	}
	slowFail := func() { f.clk.Add(30 * time.Second) }
	f.up.onPage.Store(&slowFail)
	f.up.pageFails.Store(true)
	f.clk.Add(2 * time.Minute)
	if stale, err := project(t, svc, f.repo, "demo"); err != nil || !stale {
		t.Fatalf("failed refresh: stale %v, %v; want the stale page", stale, err)
	}
	f.clk.Add(time.Second)
	if stale, err := project(t, svc, f.repo, "demo"); err != nil || !stale {
		t.Fatalf("within the backoff: stale %v, %v", stale, err)
	}
	if n := f.up.pageHits.Load(); n != 2 {
		t.Errorf("%d page fetches, want 2: a second after the failure is within the backoff", n)
	}
	f.clk.Add(10 * time.Second)
	project(t, svc, f.repo, "demo")
	if n := f.up.pageHits.Load(); n != 3 {
		t.Errorf("%d page fetches, want 3: past the backoff the upstream is asked again", n)
	}
}

// secretVersions is a secret store whose one secret gains versions.
type secretVersions struct {
	mu sync.Mutex
	v  []string
}

func (s *secretVersions) Access(_ context.Context, _, _, _ string) ([]byte, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return []byte(s.v[len(s.v)-1]), len(s.v), nil
}

func (s *secretVersions) add(v string) { s.mu.Lock(); s.v = append(s.v, v); s.mu.Unlock() }

// TestBackoffWithoutAStaleCopy: with nothing cached, a failed fetch is
// answered again from memory within the backoff; an upstream refusing the
// credentials is not asked again for any page or file of the repository
// until the backoff ends or the secret gets a new version.
func TestBackoffWithoutAStaleCopy(t *testing.T) {
	t.Parallel()
	f := setup(t, registry.RemoteSettings{Auth: registry.AuthBasic, Username: "bot", Secret: "pw"}, 100*time.Hour)
	sec := &secretVersions{v: []string{"v1"}}
	svc := f.newServiceWith(t, func(c *remote.Config) {
		c.ErrorBackoff = 10 * time.Second
		c.Upstream = upstream.New(upstream.Config{Secrets: sec})
	})
	ctx := context.Background()

	f.up.refuse.Store(true)
	for _, p := range []string{"demo", "demo", "other", "third"} {
		if _, err := project(t, svc, f.repo, p); errs.KindOf(err) != errs.Upstream {
			t.Fatalf("%s: err = %v, want the upstream's refusal", p, err)
		}
	}
	if n := f.up.refused.Load(); n != 1 {
		t.Errorf("the upstream refused %d requests, want 1: the repository backs off after the first", n)
	}
	sec.add("v2") // a rotation applies on the next request
	project(t, svc, f.repo, "demo")
	if n := f.up.refused.Load(); n != 2 {
		t.Errorf("after a new secret version: %d refusals, want 2", n)
	}
	f.clk.Add(11 * time.Second)
	project(t, svc, f.repo, "demo")
	if n := f.up.refused.Load(); n != 3 {
		t.Errorf("past the backoff: %d refusals, want 3", n)
	}

	// Any failure backs off its page, stale copy or not.
	f.up.refuse.Store(false)
	f.up.down.Store(true)
	f.clk.Add(11 * time.Second)
	for range 3 {
		if _, _, err := svc.Project(ctx, f.repo, "demo"); errs.KindOf(err) != errs.Upstream {
			t.Fatalf("upstream down: err = %v", err)
		}
	}
	f.up.down.Store(false)
	if _, _, err := svc.Project(ctx, f.repo, "demo"); errs.KindOf(err) != errs.Upstream {
		t.Errorf("within the backoff of a failure: err = %v, want it answered again", err)
	}
	f.clk.Add(11 * time.Second)
	if _, _, err := svc.Project(ctx, f.repo, "demo"); err != nil {
		t.Errorf("past the backoff with the upstream back: %v", err)
	}
}
