package adminapi

import (
	"context"
	"net/http"

	"github.com/wharf-dev/wharf/internal/oidc"
)

// CreatePolicy saves a trust policy; the answer carries the linter's
// warnings. A policy the tenant-pin lint refuses is saved only with
// p.Force set.
func (c *Client) CreatePolicy(ctx context.Context, p oidc.Policy) (PolicyResponse, error) {
	var out PolicyResponse
	return out, c.do(ctx, http.MethodPost, "/api/v1/policies", p, &out)
}

// ListPolicies lists every trust policy, by name.
func (c *Client) ListPolicies(ctx context.Context) ([]oidc.Policy, error) {
	var out []oidc.Policy
	return out, c.do(ctx, http.MethodGet, "/api/v1/policies", nil, &out)
}

// GetPolicy returns one trust policy.
func (c *Client) GetPolicy(ctx context.Context, name string) (oidc.Policy, error) {
	var out oidc.Policy
	return out, c.do(ctx, http.MethodGet, "/api/v1/policies/"+seg(name), nil, &out)
}

// RemovePolicy deletes a trust policy by name.
func (c *Client) RemovePolicy(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/policies/"+seg(name), nil, nil)
}

// TestPolicies explains which policies a token (verified by the server) or
// a claims set (not verified) satisfies, and what would be granted.
func (c *Client) TestPolicies(ctx context.Context, req PolicyTestRequest) (PolicyTestResult, error) {
	var out PolicyTestResult
	return out, c.do(ctx, http.MethodPost, "/api/v1/policies/test", req, &out)
}
