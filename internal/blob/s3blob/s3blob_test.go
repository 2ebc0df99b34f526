package s3blob

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wharf-dev/wharf/internal/blob"
	"github.com/wharf-dev/wharf/internal/blob/blobtest"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/testenv"
)

// testConfig points at the S3-compatible server scripts/start-s3.sh starts.
// Without WHARF_TEST_S3_ENDPOINT the test is skipped, except in CI
// (CI=true), where a skipped backend would hide a broken one.
func testConfig(t testing.TB) Config {
	t.Helper()
	srv := testenv.S3Server(t)
	return Config{
		Bucket:          srv.Bucket,
		Endpoint:        srv.Endpoint,
		PathStyle:       true,
		AccessKeyID:     srv.AccessKeyID,
		SecretAccessKey: srv.SecretAccessKey,
		Prefix:          "test-" + randHex(t) + "/",
		TempDir:         t.TempDir(),
		PartSize:        minPartSize, // so LargeStreamed takes the multipart path
	}
}

func randHex(t testing.TB) string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func newStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	blobtest.Run(t, func(t *testing.T) blob.Store {
		c := cfg
		c.Prefix = "test-" + randHex(t) + "/" // each subtest its own empty store
		return newStore(t, c)
	})
}

func put(t *testing.T, s *Store, data string) blob.Info {
	t.Helper()
	tmp, err := s.Create(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Abort()
	io.WriteString(tmp, data)
	info, err := tmp.Commit(t.Context())
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return info
}

func TestSignedURL(t *testing.T) {
	t.Parallel()
	s := newStore(t, testConfig(t))
	info := put(t, s, "presigned bytes")
	u, err := s.SignedURL(t.Context(), info.Key, "demo-1.0.tar.gz", "application/gzip")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "presigned bytes" {
		t.Fatalf("GET presigned URL = %d %q, want 200 %q", resp.StatusCode, body, "presigned bytes")
	}
	if got := resp.Header.Get("Content-Type"); got != "application/gzip" {
		t.Errorf("Content-Type = %q, want application/gzip", got)
	}
	if _, err := s.SignedURL(t.Context(), "nothex", "", ""); !errors.Is(err, blob.ErrBadKey) {
		t.Errorf("SignedURL(bad key) = %v, want ErrBadKey", err)
	}
}

func TestPing(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	if err := newStore(t, cfg).Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	missing := cfg
	missing.Bucket = "no-such-bucket-" + randHex(t)
	if err := newStore(t, missing).Ping(t.Context()); errs.KindOf(err) != errs.Unavailable {
		t.Errorf("Ping of a missing bucket = %v (kind %v), want Unavailable", err, errs.KindOf(err))
	}
}

// The unit tests below need no server: an httptest server stands in for S3
// where only the status matters.

func TestUnreachableIsUnavailable(t *testing.T) {
	t.Parallel()
	url := "http://127.0.0.1:1" // nothing listens on port 1
	s := newStore(t, Config{Bucket: "b", Endpoint: url, PathStyle: true, AccessKeyID: "a", SecretAccessKey: "b", RetryMaxAttempts: 1})
	key := strings.Repeat("a", 64)
	for name, err := range map[string]error{
		"Ping": s.Ping(t.Context()),
		"Stat": func() error { _, err := s.Stat(t.Context(), key); return err }(),
		"Open": func() error { _, err := s.Open(t.Context(), key); return err }(),
	} {
		if k := errs.KindOf(err); k != errs.Unavailable {
			t.Errorf("%s on an unreachable server: %v (kind %v), want Unavailable", name, err, k)
		}
	}
}

func TestServerErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		status int
		want   errs.Kind
	}{
		{http.StatusNotFound, errs.NotFound},
		{http.StatusServiceUnavailable, errs.Unavailable},
		{http.StatusForbidden, errs.Internal},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tt.status)
		}))
		t.Cleanup(srv.Close)
		s := newStore(t, Config{Bucket: "b", Endpoint: srv.URL, PathStyle: true, AccessKeyID: "a", SecretAccessKey: "b", RetryMaxAttempts: 1})
		// Retries of 503 would slow the test; the kind is what matters.
		_, err := s.Stat(t.Context(), strings.Repeat("b", 64))
		if k := errs.KindOf(err); k != tt.want {
			t.Errorf("Stat answered %d: kind %v (%v), want %v", tt.status, k, err, tt.want)
		}
		if tt.want == errs.NotFound && !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Stat answered 404: %v, want errors.Is blob.ErrNotFound", err)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]Config{
		"no bucket":  {},
		"half keys":  {Bucket: "b", AccessKeyID: "a"},
		"tiny parts": {Bucket: "b", PartSize: 1 << 20},
	} {
		if _, err := New(t.Context(), cfg); errs.KindOf(err) != errs.Invalid {
			t.Errorf("%s: New = %v, want an Invalid error", name, err)
		}
	}
}
