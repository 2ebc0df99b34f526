package hosted

import (
	"sync/atomic"
	"testing"
)

func TestGenerationFollowsSharedSerial(t *testing.T) {
	t.Parallel()
	var serial atomic.Uint64
	s := New(Config{Shared: func(id int64) uint64 {
		if id == 1 {
			return serial.Load()
		}
		return 0
	}})
	g0 := s.Generation(1)
	serial.Add(1) // another replica changed repository 1
	g1 := s.Generation(1)
	if g1 == g0 {
		t.Errorf("Generation did not change when the shared serial did (%d)", g0)
	}
	s.Changed(1) // a change in this process
	if g2 := s.Generation(1); g2 == g1 {
		t.Errorf("Generation did not change on a local change (%d)", g1)
	}
	if g := s.Generation(2); g != 0 {
		t.Errorf("Generation of an untouched repository = %d, want 0", g)
	}
}
