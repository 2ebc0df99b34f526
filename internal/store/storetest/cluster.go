package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/wharf-dev/wharf/internal/store"
)

// testSerials: every change to a repository's projects or files raises its
// serial, in the same transaction (a rolled-back change raises nothing),
// and leaves other repositories' serials alone.
func testSerials(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := mustRepo(t, s, "main")
	other := mustRepo(t, s, "other")
	serial := func(id int64) int64 {
		t.Helper()
		m, err := s.Cluster().Serials(ctx)
		ok(t, "Serials", err)
		return m[id]
	}
	last := serial(r.ID)
	otherLast := serial(other.ID)
	step := func(what string, fn func()) {
		t.Helper()
		fn()
		got := serial(r.ID)
		if got <= last {
			t.Errorf("after %s: serial %d, want more than %d", what, got, last)
		}
		last = got
	}
	var p, q = mustProject(t, s, r.ID, "demo"), mustProject(t, s, r.ID, "gone")
	step("project create", func() {})
	var f = mustFile(t, s, newFile(p, "demo-1.0.tar.gz", "1.0", "1.0"))
	step("file add", func() {})
	step("yank", func() {
		_, err := s.Files().SetYanked(ctx, p.ID, "1.0", true, "bad")
		ok(t, "SetYanked", err)
	})
	step("file delete", func() { ok(t, "Files.Delete", s.Files().Delete(ctx, f.ID)) })
	step("project delete", func() { ok(t, "Projects.Delete", s.Projects().Delete(ctx, q.ID)) })

	before := serial(r.ID)
	err := s.InTx(ctx, func(tx store.Store) error {
		g := newFile(p, "demo-2.0.tar.gz", "2.0", "2.0")
		if err := tx.Files().Add(ctx, &g); err != nil {
			return err
		}
		return errRollback
	})
	if err != errRollback {
		t.Fatalf("InTx = %v, want the callback's error", err)
	}
	if got := serial(r.ID); got != before {
		t.Errorf("rolled-back add changed the serial from %d to %d", before, got)
	}
	if got := serial(other.ID); got != otherLast {
		t.Errorf("changes to main moved other's serial from %d to %d", otherLast, got)
	}
}

type rollbackErr struct{}

func (rollbackErr) Error() string { return "roll back" }

var errRollback error = rollbackErr{}

// testLeases: one holder at a time, renewals by the holder, takeover after
// expiry, release by the holder only; racing acquirers get one winner.
func testLeases(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := s.Cluster()
	t0 := base()
	acquire := func(holder string, now time.Time, want bool) {
		t.Helper()
		got, err := c.AcquireLease(ctx, "sweep", holder, now, now.Add(time.Minute))
		ok(t, "AcquireLease", err)
		if got != want {
			t.Errorf("AcquireLease(%s at +%v) = %v, want %v", holder, now.Sub(t0), got, want)
		}
	}
	acquire("a", t0, true)
	acquire("b", t0.Add(time.Second), false)
	acquire("a", t0.Add(30*time.Second), true) // renewal: now until +90s
	acquire("b", t0.Add(80*time.Second), false)
	acquire("b", t0.Add(91*time.Second), true) // a's lease expired
	ok(t, "ReleaseLease by a non-holder", c.ReleaseLease(ctx, "sweep", "a"))
	acquire("a", t0.Add(92*time.Second), false)
	ok(t, "ReleaseLease", c.ReleaseLease(ctx, "sweep", "b"))
	acquire("a", t0.Add(93*time.Second), true)

	// Other names are other leases.
	got, err := c.AcquireLease(ctx, "tokens", "b", t0.Add(93*time.Second), t0.Add(time.Hour))
	ok(t, "AcquireLease other name", err)
	if !got {
		t.Error("a lease on another name was refused")
	}

	const n = 8
	wins := make([]bool, n)
	var wg sync.WaitGroup
	now := t0.Add(time.Hour)
	for i := range n {
		wg.Go(func() {
			var err error
			wins[i], err = c.AcquireLease(ctx, "race", string(rune('a'+i)), now, now.Add(time.Minute))
			if err != nil {
				t.Errorf("AcquireLease %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	total := 0
	for _, w := range wins {
		if w {
			total++
		}
	}
	if total != 1 {
		t.Errorf("%d racing acquirers won the lease, want exactly 1", total)
	}
}
