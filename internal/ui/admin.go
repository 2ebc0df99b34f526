package ui

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/wharf-dev/wharf/internal/adminapi"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/oidc"
)

// Admin is the write side: the admin API's operations, performed as the
// signed-in viewer (adminapi.Client, called in process, satisfies it), so
// the UI authorises, validates and audits exactly as the API does.
type Admin interface {
	Yank(ctx context.Context, repo, project, version, reason string) (int, error)
	Unyank(ctx context.Context, repo, project, version string) (int, error)
	DeleteRelease(ctx context.Context, repo, project, version string) (int, error)
	DeleteFile(ctx context.Context, repo, project, version, filename string) (int, error)
	CreateToken(ctx context.Context, req adminapi.CreateTokenRequest) (adminapi.CreatedToken, error)
	ListTokens(ctx context.Context) ([]adminapi.TokenInfo, error)
	RevokeToken(ctx context.Context, id string) error
	CreateRepo(ctx context.Context, req adminapi.CreateRepoRequest) (adminapi.Repo, error)
	GetRepo(ctx context.Context, name string) (adminapi.Repo, error)
	UpdateRepo(ctx context.Context, name string, req adminapi.UpdateRepoRequest) (adminapi.Repo, error)
	Audit(ctx context.Context, q adminapi.AuditQuery) ([]adminapi.AuditEvent, error)
	AddPublisher(ctx context.Context, p oidc.Publisher) (adminapi.PublisherInfo, error)
	ListPublishers(ctx context.Context, q adminapi.PublisherQuery) ([]adminapi.PublisherInfo, error)
	RemovePublisher(ctx context.Context, id int64) error
}

var _ Admin = (*adminapi.Client)(nil)

// InProcessAdmin returns Config.Admin for an admin API handler in this
// process: an adminapi.Client whose requests are handed to h directly, with
// no network in between.
func InProcessAdmin(h http.Handler) func(token string) Admin {
	hc := &http.Client{Transport: handlerTransport{h}}
	return func(token string) Admin { return adminapi.NewClient("http://wharf.in-process", token, hc) }
}

// handlerTransport is an http.RoundTripper that serves requests with a
// handler.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := &recorder{header: http.Header{}}
	t.h.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return &http.Response{
		Status: http.StatusText(rec.status), StatusCode: rec.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: rec.header, Body: io.NopCloser(&rec.body), ContentLength: int64(rec.body.Len()), Request: req,
	}, nil
}

// recorder is the response writer of handlerTransport.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// formMessage is what a form shows for a refused change: the admin API's
// own message when it answered, else the error's.
func formMessage(err error) string {
	var api *adminapi.APIError
	if errors.As(err, &api) {
		return api.Message
	}
	return errs.Message(err)
}
