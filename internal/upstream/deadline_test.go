package upstream_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/upstream"
)

// TestDeadlines: every upstream call has a deadline suited to it. A page
// (metadata) has a fixed one; a file's response must start in time and
// its body keep up a minimum rate, with no fixed total, so a slow but
// steady transfer longer than every deadline succeeds and a stalled one
// fails. Failures are Unavailable (503, Retry-After) with a sentence that
// names no address.
func TestDeadlines(t *testing.T) {
	t.Parallel()
	const chunk = 8 << 10
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/simple/hang/", "/files/no-headers":
			<-r.Context().Done()
		case "/files/steady": // 40 chunks, one every 20ms: 800ms in all
			w.Header().Set("Content-Length", "327680")
			for range 40 {
				w.Write(make([]byte, chunk))
				w.(http.Flusher).Flush()
				time.Sleep(20 * time.Millisecond)
			}
		case "/files/stalls":
			w.Header().Set("Content-Length", "327680")
			w.Write(make([]byte, chunk))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}
	}))
	t.Cleanup(srv.Close)
	c := upstream.New(upstream.Config{PageTimeout: 200 * time.Millisecond, ResponseTimeout: 200 * time.Millisecond,
		MinRate: 64 << 10, RateWindow: 200 * time.Millisecond})
	tgt := upstream.Target{Repo: "up", Settings: registry.RemoteSettings{Upstream: srv.URL + "/simple/"}}
	host := strings.TrimPrefix(srv.URL, "http://")
	late := func(what string, err error) {
		t.Helper()
		if errs.KindOf(err) != errs.Unavailable || !strings.Contains(errs.PublicMessage(err), "did not answer in time") || strings.Contains(errs.PublicMessage(err), host) {
			t.Errorf("%s: err = %v (public %q); want Unavailable saying the upstream did not answer in time", what, err, errs.PublicMessage(err))
		}
	}
	ctx := context.Background()

	_, err := c.Project(ctx, tgt, "hang")
	late("a page that never comes", err)

	_, _, err = c.Open(ctx, tgt, srv.URL+"/files/no-headers")
	late("a file whose response never starts", err)

	body, size, err := c.Open(ctx, tgt, srv.URL+"/files/steady")
	if err != nil || size != 327680 {
		t.Fatalf("steady file: size %d, %v", size, err)
	}
	n, err := io.Copy(io.Discard, body)
	body.Close()
	if err != nil || n != 327680 {
		t.Errorf("a steady transfer longer than every deadline: %d bytes, %v; want all of it", n, err)
	}

	body, _, err = c.Open(ctx, tgt, srv.URL+"/files/stalls")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, body)
		done <- err
	}()
	select {
	case err := <-done:
		late("a transfer that stalls", err)
	case <-time.After(20 * time.Second):
		t.Fatal("a stalled transfer is still running after 20s")
	}
	body.Close()
}
