package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/oidc"
)

// Client calls the admin API. It is safe for concurrent use.
type Client struct {
	base  string // without a trailing slash
	token string
	http  *http.Client
}

// NewClient returns a client for the wharf at baseURL ("https://wharf.example"),
// authenticating with token. httpClient nil means http.DefaultClient.
func NewClient(baseURL, token string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, http: httpClient}
}

// APIError is an error answer from the server. Its message is the server's;
// errs.KindOf works on it, so callers can tell "not found" from "denied".
type APIError struct {
	Status  int    // HTTP status
	Code    string // the error kind's name ("not found", "permission denied", ...)
	Message string // the server's message, meant for people
}

func (e *APIError) Error() string { return e.Message }

// Unwrap exposes the kind, for errs.KindOf and errs.Is.
func (e *APIError) Unwrap() error { return errs.E(kindNamed(e.Code, e.Status), "", nil) }

func kindNamed(code string, status int) errs.Kind {
	// Walk the kinds by name until String says a value is past the end,
	// so kinds added to errs later are understood too.
	for k := errs.Internal; !strings.HasPrefix(k.String(), "kind("); k++ {
		if k.String() == code {
			return k
		}
	}
	switch status {
	case http.StatusBadRequest:
		return errs.Invalid
	case http.StatusUnauthorized:
		return errs.Unauthenticated
	case http.StatusForbidden:
		return errs.PermissionDenied
	case http.StatusNotFound:
		return errs.NotFound
	case http.StatusConflict:
		return errs.Conflict
	}
	return errs.Internal
}

func seg(s string) string { return url.PathEscape(s) }

func releasePath(repo, project, version string) string {
	return "/api/v1/repos/" + seg(repo) + "/projects/" + seg(project) + "/releases/" + seg(version)
}

// do sends a request with an optional JSON body and decodes a JSON answer
// into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encoding request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("building request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// url.Error includes the URL, never the token (it is in a header).
		return fmt.Errorf("cannot reach the wharf server: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return readError(resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("reading the server's answer to %s %s: %w", method, path, err)
	}
	return nil
}

// readError turns an error response into an *APIError, keeping the
// server's message. A non-JSON body (a proxy's error page, a server that
// is not wharf) is summarised by its status and first line.
func readError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
		return &APIError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	msg, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if len(msg) > 200 {
		msg = msg[:200]
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return &APIError{Status: resp.StatusCode, Message: fmt.Sprintf("server answered %s: %s (is --server a wharf?)", resp.Status, msg)}
}

// Whoami describes the client's own token.
func (c *Client) Whoami(ctx context.Context) (Whoami, error) {
	var out Whoami
	return out, c.do(ctx, http.MethodGet, "/api/v1/whoami", nil, &out)
}

// ListRepos lists the repositories the token can read.
func (c *Client) ListRepos(ctx context.Context) ([]Repo, error) {
	var out []Repo
	return out, c.do(ctx, http.MethodGet, "/api/v1/repos", nil, &out)
}

// CreateRepo creates a repository.
func (c *Client) CreateRepo(ctx context.Context, req CreateRepoRequest) (Repo, error) {
	var out Repo
	return out, c.do(ctx, http.MethodPost, "/api/v1/repos", req, &out)
}

// GetRepo returns one repository.
func (c *Client) GetRepo(ctx context.Context, name string) (Repo, error) {
	var out Repo
	return out, c.do(ctx, http.MethodGet, "/api/v1/repos/"+seg(name), nil, &out)
}

// UpdateRepo changes a repository's settings.
func (c *Client) UpdateRepo(ctx context.Context, name string, req UpdateRepoRequest) (Repo, error) {
	var out Repo
	return out, c.do(ctx, http.MethodPatch, "/api/v1/repos/"+seg(name), req, &out)
}

// DeleteRepo deletes a repository and everything in it.
func (c *Client) DeleteRepo(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/repos/"+seg(name), nil, nil)
}

// CreateToken mints a token; the answer holds its secret, shown once.
func (c *Client) CreateToken(ctx context.Context, req CreateTokenRequest) (CreatedToken, error) {
	var out CreatedToken
	return out, c.do(ctx, http.MethodPost, "/api/v1/tokens", req, &out)
}

// ListTokens lists tokens, newest first, without their secrets.
func (c *Client) ListTokens(ctx context.Context) ([]TokenInfo, error) {
	var out []TokenInfo
	return out, c.do(ctx, http.MethodGet, "/api/v1/tokens", nil, &out)
}

// RevokeToken revokes a token by ID. Revoking a revoked token succeeds.
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/tokens/"+seg(id), nil, nil)
}

// Yank yanks every file of a release (PEP 592) and returns how many changed.
func (c *Client) Yank(ctx context.Context, repo, project, version, reason string) (int, error) {
	var out Changed
	err := c.do(ctx, http.MethodPost, releasePath(repo, project, version)+"/yank", YankRequest{Reason: reason}, &out)
	return out.Files, err
}

// Unyank undoes Yank.
func (c *Client) Unyank(ctx context.Context, repo, project, version string) (int, error) {
	var out Changed
	err := c.do(ctx, http.MethodPost, releasePath(repo, project, version)+"/unyank", nil, &out)
	return out.Files, err
}

// DeleteProject deletes a project and all its files.
func (c *Client) DeleteProject(ctx context.Context, repo, project string) (int, error) {
	var out Changed
	err := c.do(ctx, http.MethodDelete, "/api/v1/repos/"+seg(repo)+"/projects/"+seg(project), nil, &out)
	return out.Files, err
}

// DeleteRelease deletes every file of a release.
func (c *Client) DeleteRelease(ctx context.Context, repo, project, version string) (int, error) {
	var out Changed
	err := c.do(ctx, http.MethodDelete, releasePath(repo, project, version), nil, &out)
	return out.Files, err
}

// DeleteFile deletes one file of a release.
func (c *Client) DeleteFile(ctx context.Context, repo, project, version, filename string) (int, error) {
	var out Changed
	err := c.do(ctx, http.MethodDelete, releasePath(repo, project, version)+"/files/"+seg(filename), nil, &out)
	return out.Files, err
}

// Audit returns audit events, newest first.
func (c *Client) Audit(ctx context.Context, q AuditQuery) ([]AuditEvent, error) {
	v := url.Values{}
	for k, s := range map[string]string{"repo": q.Repo, "project": q.Project, "action": q.Action} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	path := "/api/v1/audit"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var out []AuditEvent
	return out, c.do(ctx, http.MethodGet, path, nil, &out)
}

// AddPublisher adds a trusted publisher to p.Repo. A pending publisher
// (p.Pending) is for a project that does not exist yet.
func (c *Client) AddPublisher(ctx context.Context, p oidc.Publisher) (PublisherInfo, error) {
	var out PublisherInfo
	if p.Repo == "" {
		return out, errs.Errorf(errs.Invalid, "adminapi.AddPublisher", "the publisher names no repository")
	}
	return out, c.do(ctx, http.MethodPost, "/api/v1/repos/"+seg(p.Repo)+"/publishers", p, &out)
}

// ListPublishers lists the trusted publishers the token administers.
func (c *Client) ListPublishers(ctx context.Context, q PublisherQuery) ([]PublisherInfo, error) {
	v := url.Values{}
	if q.Repo != "" {
		v.Set("repo", q.Repo)
	}
	if q.Project != "" {
		v.Set("project", q.Project)
	}
	path := "/api/v1/publishers"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var out []PublisherInfo
	return out, c.do(ctx, http.MethodGet, path, nil, &out)
}

// RemovePublisher deletes a trusted publisher by ID.
func (c *Client) RemovePublisher(ctx context.Context, id int64) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/publishers/"+strconv.FormatInt(id, 10), nil, nil)
}
