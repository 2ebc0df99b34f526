package testenv

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// PauseProxy forwards TCP connections to a backend. Paused, it keeps every
// connection open and accepts new ones but forwards no byte, as a
// partitioned, overloaded or stopped (kill -STOP) backend does: the failure
// a refused connection never shows, where only a deadline ends the wait.
type PauseProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	gate   chan struct{} // non-nil while paused; closed on resume
	// pauseAfter, when positive, pauses the proxy once that many bytes
	// have gone from clients to the backend (to pause mid-transfer).
	pauseAfter atomic.Int64
}

// NewPauseProxy starts a proxy to target (host:port) on loopback; it stops
// with the test.
func NewPauseProxy(tb testing.TB, target string) *PauseProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &PauseProxy{ln: ln, target: target}
	tb.Cleanup(func() { ln.Close(); p.Resume() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

// Addr is the proxy's host:port.
func (p *PauseProxy) Addr() string { return p.ln.Addr().String() }

func (p *PauseProxy) serve(c net.Conn) {
	defer c.Close()
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer up.Close()
	go func() { p.pipe(up, c, true); up.Close() }()
	p.pipe(c, up, false)
}

// pipe copies src to dst, holding every chunk while paused.
func (p *PauseProxy) pipe(dst, src net.Conn, toBackend bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if toBackend {
				if left := p.pauseAfter.Load(); left > 0 && p.pauseAfter.Add(-int64(n)) <= 0 {
					p.Pause()
				}
			}
			p.mu.Lock()
			gate := p.gate
			p.mu.Unlock()
			if gate != nil {
				<-gate
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Pause stops forwarding.
func (p *PauseProxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gate == nil {
		p.gate = make(chan struct{})
	}
}

// PauseAfter pauses once n more bytes have gone to the backend.
func (p *PauseProxy) PauseAfter(n int64) { p.pauseAfter.Store(n) }

// Resume forwards again, held bytes first.
func (p *PauseProxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gate != nil {
		close(p.gate)
		p.gate = nil
	}
}

// HangBound is how long a call to a paused backend may take in tests. It is
// a hang detector, not a measurement: the tests configure deadlines of a
// second or less, and without them the calls never return.
const HangBound = 30 * time.Second

// Bounded runs fn and fails the test when it does not return within
// HangBound.
func Bounded(t testing.TB, what string, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(HangBound):
		t.Fatalf("%s: no return within %s while the backend is paused", what, HangBound)
		return nil
	}
}
