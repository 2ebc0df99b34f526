package httpapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/httpapi"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store/sqlstore"
)

// failingIndex answers every call with err.
type failingIndex struct{ err error }

func (f failingIndex) PageToken(registry.Repository, string) (uint64, bool) { return 0, false }
func (f failingIndex) Root(context.Context, registry.Repository) (pypi.ProjectList, registry.PageInfo, error) {
	return pypi.ProjectList{}, registry.PageInfo{}, f.err
}
func (f failingIndex) Project(context.Context, registry.Repository, string) (pypi.ProjectPage, registry.PageInfo, error) {
	return pypi.ProjectPage{}, registry.PageInfo{}, f.err
}
func (f failingIndex) Open(context.Context, registry.Repository, string, string, bool) (registry.Download, error) {
	return registry.Download{}, f.err
}

// remoteRepoStore is a store holding one public remote repository, "up".
func remoteRepoStore(t *testing.T) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), sqlstore.Config{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Repos().Create(t.Context(), &registry.Repository{Name: "up", Kind: registry.Remote, Public: true}); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestServerErrorsHideInternals: the detail of a 5xx (upstream addresses,
// dial errors, SDK text naming endpoint, bucket and key, server paths)
// reaches only server administrators; everyone else gets the kind's stable
// sentence, or the error's public one, and the request id.
func TestServerErrorsHideInternals(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := remoteRepoStore(t)
	au := auth.New(auth.Config{Tokens: st.Tokens()})
	mint := func(sc registry.Scope) string {
		s, _, err := au.Mint(ctx, auth.MintRequest{Scope: sc})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	admin := mint(registry.Scope{Actions: []registry.Action{registry.Admin}})
	repoAdmin := mint(registry.Scope{Repos: []string{"up"}, Actions: []registry.Action{registry.Admin, registry.Read}})
	reader := mint(registry.Scope{Actions: []registry.Action{registry.Read}})

	for _, tt := range []struct {
		name       string
		err        error
		status     int
		public     string // what everyone but server admins sees
		secret     string // never shown to them
		retryAfter string
	}{
		{"upstream dial error", errs.E(errs.Upstream, "upstream", errors.New("repository 'up': upstream http://10.1.2.3:3141/simple/x/: dial tcp 10.1.2.3:3141: connect: connection refused")),
			http.StatusBadGateway, "the upstream index did not answer as expected", "10.1.2.3", ""},
		{"object store SDK error", errs.E(errs.Unavailable, "s3blob.Open", errors.New("operation error S3: GetObject, https response error StatusCode: 0, RequestID: , HostID: , api error: dial tcp minio.internal:9000: i/o timeout; bucket wharf-prod key blobs/ab/abcdef")),
			http.StatusServiceUnavailable, "the server is temporarily unavailable", "minio.internal", "5"},
		{"server path", errs.E(errs.Internal, "fsblob", errors.New("open /srv/wharf/blobs/tmp/123: permission denied")),
			http.StatusInternalServerError, "internal server error", "/srv/wharf", ""},
		{"public sentence", errs.Public(errs.E(errs.Upstream, "remote", errors.New("upstream http://10.9.9.9/simple/ answered 401 for user 'bot' with secret 'pypi-token' version 3")), "the upstream refused the credentials of repository 'up'"),
			http.StatusBadGateway, "the upstream refused the credentials of repository 'up'", "pypi-token", ""},
		{"client errors say what to fix", errs.E(errs.Invalid, "x", errors.New("use a wheel or an sdist")),
			http.StatusBadRequest, "use a wheel or an sdist", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := httpapi.New(httpapi.Config{Repos: st.Repos(), Remote: failingIndex{tt.err}, Auth: au})
			srv := httptest.NewServer(api.Handler())
			t.Cleanup(srv.Close)
			get := func(path, token string) (*http.Response, string) {
				req, _ := http.NewRequest("GET", srv.URL+path, nil)
				if token != "" {
					req.SetBasicAuth("__token__", token)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp, string(b)
			}
			for _, path := range []string{"/up/simple/x/", "/up/files/" + strings.Repeat("a", 64) + "/x-1.0-py3-none-any.whl"} {
				for who, token := range map[string]string{"anonymous": "", "reader": reader, "repository admin": repoAdmin} {
					resp, body := get(path, token)
					if resp.StatusCode != tt.status || !strings.Contains(body, tt.public) {
						t.Errorf("%s GET %s: %d %q, want %d with %q", who, path, resp.StatusCode, body, tt.status, tt.public)
					}
					if tt.secret != "" && strings.Contains(body, tt.secret) {
						t.Errorf("%s GET %s: the body shows %q: %q", who, path, tt.secret, body)
					}
					if id := resp.Header.Get("X-Request-Id"); tt.status >= 500 && !strings.Contains(body, id) {
						t.Errorf("%s GET %s: %q does not quote the request id %s", who, path, body, id)
					}
					if got := resp.Header.Get("Retry-After"); got != tt.retryAfter {
						t.Errorf("%s GET %s: Retry-After %q, want %q", who, path, got, tt.retryAfter)
					}
				}
				if tt.secret != "" {
					if resp, body := get(path, admin); !strings.Contains(body, tt.secret) || !strings.Contains(body, resp.Header.Get("X-Request-Id")) {
						t.Errorf("server admin GET %s: %q, want the detail (%q) and the request id", path, body, tt.secret)
					}
				}
			}
		})
	}
}

// brokenIndex serves a file whose content fails after half of it.
type brokenIndex struct {
	failingIndex
	unsized bool
}

type brokenContent struct {
	*strings.Reader
	size int64
}

func (b *brokenContent) Read(p []byte) (int, error) {
	if b.Size()-int64(b.Len()) >= b.size/2 {
		return 0, errs.E(errs.Upstream, "remote", errors.New("the upstream broke off"))
	}
	return b.Reader.Read(p[:min(len(p), 1000)])
}
func (b *brokenContent) Close() error { return nil }

func (x brokenIndex) Open(context.Context, registry.Repository, string, string, bool) (registry.Download, error) {
	return registry.Download{Content: &brokenContent{strings.NewReader(strings.Repeat("w", 100000)), 100000},
		Key: strings.Repeat("a", 64), Unsized: x.unsized}, nil
}

// TestDownloadFailingMidwayIsCut: content that fails after the response
// began ends in a cut connection, with or without a Content-Length, so the
// client sees a failure and never a body that looks complete.
func TestDownloadFailingMidwayIsCut(t *testing.T) {
	t.Parallel()
	st := remoteRepoStore(t)
	for _, unsized := range []bool{false, true} {
		api := httpapi.New(httpapi.Config{Repos: st.Repos(), Remote: brokenIndex{unsized: unsized}})
		srv := httptest.NewServer(api.Handler())
		t.Cleanup(srv.Close)
		resp, err := http.Get(srv.URL + "/up/files/" + strings.Repeat("a", 64) + "/x-1.0-py3-none-any.whl")
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err == nil {
			t.Errorf("unsized %v: %d, %d bytes, read error %v; want 200 and a cut connection", unsized, resp.StatusCode, len(b), err)
		}
	}
}
