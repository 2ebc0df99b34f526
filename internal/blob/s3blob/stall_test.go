package s3blob

import (
	"context"
	"crypto/rand"
	"io"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/testenv"
)

// TestPausedStore: a store that accepts connections and stops answering
// fails metadata calls, downloads and multipart uploads with Unavailable
// within the deadlines; the failed multipart upload leaves no parts once the
// store is back (the abort is retried), and the same Store works again.
func TestPausedStore(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	u, err := url.Parse(cfg.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	direct := newStore(t, cfg)
	proxy := testenv.NewPauseProxy(t, u.Host)
	cfg.Endpoint = "http://" + proxy.Addr()
	cfg.Timeout = 500 * time.Millisecond
	s := newStore(t, cfg)
	info := put(t, s, "stored before the pause")

	unavailable := func(what string, err error) {
		t.Helper()
		if errs.KindOf(err) != errs.Unavailable {
			t.Errorf("%s while paused: %v (kind %v), want Unavailable", what, err, errs.KindOf(err))
		}
	}
	proxy.Pause()
	unavailable("Stat", testenv.Bounded(t, "Stat", func() error { _, err := s.Stat(t.Context(), info.Key); return err }))
	unavailable("Ping", testenv.Bounded(t, "Ping", func() error { return s.Ping(t.Context()) }))
	unavailable("Open", testenv.Bounded(t, "Open", func() error {
		o, err := s.Open(t.Context(), info.Key)
		if err != nil {
			return err
		}
		defer o.Close()
		_, err = io.ReadAll(o)
		return err
	}))
	proxy.Resume()

	// A multipart upload that stalls in its first part.
	tmp, err := s.Create(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Abort()
	if _, err := io.CopyN(tmp, rand.Reader, 2*minPartSize+1); err != nil {
		t.Fatal(err)
	}
	proxy.PauseAfter(1 << 20)
	unavailable("multipart Commit", testenv.Bounded(t, "multipart Commit", func() error { _, err := tmp.Commit(t.Context()); return err }))
	proxy.Resume()
	deadline := time.Now().Add(testenv.HangBound)
	for {
		out, err := direct.c.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: &direct.bucket, Prefix: aws.String(direct.prefix)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Uploads) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d multipart uploads left %s after the store came back", len(out.Uploads), testenv.HangBound)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Back: the same Store reads and writes.
	ctx, cancel := context.WithTimeout(t.Context(), testenv.HangBound)
	defer cancel()
	if _, err := s.Stat(ctx, info.Key); err != nil {
		t.Errorf("Stat after resume: %v", err)
	}
	put(t, s, "stored after the pause")
}
