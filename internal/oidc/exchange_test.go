package oidc_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wharf-dev/wharf/internal/oidc"
	"github.com/wharf-dev/wharf/internal/oidc/oidctest"
)

// memMinter mints counter-based tokens and remembers what it was asked.
type memMinter struct {
	n     atomic.Int64
	now   func() time.Time
	mu    sync.Mutex
	calls [][]oidc.Grant
}

func (m *memMinter) MintUpload(_ context.Context, grants []oidc.Grant, ttl time.Duration, origin string, _ map[string]any) (string, string, time.Time, error) {
	id := fmt.Sprintf("tok%d", m.n.Add(1))
	m.mu.Lock()
	m.calls = append(m.calls, grants)
	m.mu.Unlock()
	return "wharf-" + id + "-secret", id, m.now().Add(ttl), nil
}

type worldProjects struct{ w *oidctest.World }

func (p worldProjects) ProjectExists(_ context.Context, repo, project string) (bool, error) {
	return p.w.Exists(repo, project), nil
}

type memAuditor struct {
	mu sync.Mutex
	es []oidc.Exchange
}

func (a *memAuditor) Record(_ context.Context, e oidc.Exchange) {
	a.mu.Lock()
	a.es = append(a.es, e)
	a.mu.Unlock()
}

type endpoint struct{ x *oidc.Exchanger }

func (e endpoint) Exchange(ctx context.Context, raw string) (bool, string, string) {
	_, err := e.x.MintToken(ctx, raw)
	if err == nil {
		return true, "", ""
	}
	if r := oidc.AsRefusal(err); r != nil {
		return false, r.Code, r.Description
	}
	return false, "error", err.Error()
}

func newExchanger(t testing.TB, w *oidctest.World) (*oidc.Exchanger, *memMinter, *memAuditor) {
	t.Helper()
	m := &memMinter{now: w.Now}
	a := &memAuditor{}
	x, err := oidc.New(w.Config, oidc.Deps{
		Publishers: oidc.MemoryPublishers(w.Publishers),
		Replay:     oidc.NewMemoryReplay(w.Now),
		Minter:     m,
		Auditor:    a,
		Projects:   worldProjects{w},
	})
	if err != nil {
		t.Fatal(err)
	}
	return x, m, a
}

func TestAttackSuite(t *testing.T) {
	t.Parallel()
	oidctest.Run(t, func(t *testing.T, w *oidctest.World) oidctest.Endpoint {
		x, _, _ := newExchanger(t, w)
		return endpoint{x}
	})
}
