package adminapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// ProjectListQuery selects a page of GET /api/v1/repos/{repo}/projects.
type ProjectListQuery struct {
	Prefix string
	Sort   string // "name" (default) or "last_upload"
	Offset int
	Limit  int
}

// ListProjects returns a page of a repository's projects.
func (c *Client) ListProjects(ctx context.Context, repo string, q ProjectListQuery) (ProjectPage, error) {
	v := url.Values{}
	if q.Prefix != "" {
		v.Set("prefix", q.Prefix)
	}
	if q.Sort != "" {
		v.Set("sort", q.Sort)
	}
	if q.Offset > 0 {
		v.Set("offset", strconv.Itoa(q.Offset))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	path := "/api/v1/repos/" + seg(repo) + "/projects"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var out ProjectPage
	return out, c.do(ctx, http.MethodGet, path, nil, &out)
}

// GetProject returns a project with its releases, files and provenance.
func (c *Client) GetProject(ctx context.Context, repo, project string) (ProjectDetail, error) {
	var out ProjectDetail
	return out, c.do(ctx, http.MethodGet, "/api/v1/repos/"+seg(repo)+"/projects/"+seg(project), nil, &out)
}

// Search finds projects in the repositories the token can read.
func (c *Client) Search(ctx context.Context, text string, limit int) (SearchResult, error) {
	v := url.Values{"q": {text}}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	var out SearchResult
	return out, c.do(ctx, http.MethodGet, "/api/v1/search?"+v.Encode(), nil, &out)
}

// Backfill records the details of files stored before wharf kept them.
func (c *Client) Backfill(ctx context.Context) (BackfillResult, error) {
	var out BackfillResult
	return out, c.do(ctx, http.MethodPost, "/api/v1/catalog/backfill", nil, &out)
}
