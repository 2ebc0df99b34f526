package server_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/wharf-dev/wharf/internal/server"
)

// TestRunStopsInOrderAndCloseReleasesBothStores: Run returns once its
// context ends, logs one line saying the server stopped, and Close then
// releases the blob store as well as the database.
func TestRunStopsInOrderAndCloseReleasesBothStores(t *testing.T) {
	t.Parallel()
	cfg := embeddedConfig(t)
	cfg.Listen = "127.0.0.1:0"
	var logs lockedBuffer
	srv, err := server.New(t.Context(), cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, func(string) { cancel() }) }()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := strings.Count(logs.String(), "wharf stopped"); n != 1 {
		t.Errorf("%d lines say the server stopped, want 1:\n%s", n, logs.String())
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if tmp, err := srv.Blobs.Create(t.Context()); err == nil {
		tmp.Abort()
		t.Error("the blob store still accepts writes after Close")
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
