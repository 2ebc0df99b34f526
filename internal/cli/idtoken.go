package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// The CI side of OIDC federation, shared by `wharf publish` (PyPI's
// mint-token) and `wharf login` (the RFC 8693 exchange): find the server's
// audience, find the job's ID token for it, and explain a refusal.

// idTokenFlags say where the ID token comes from when it is not requested
// from the GitHub Actions runtime.
type idTokenFlags struct {
	idToken, idTokenEnv, idTokenFile string
}

// ciClient talks to the wharf server and the CI runtime during an exchange.
type ciClient struct {
	hc     *http.Client
	getenv func(string) string
	github bool   // GITHUB_ACTIONS=true: mask tokens, missing id-token: write is an error
	cmd    string // "publish" or "login", for the hints it prints
}

// doJSON does one exchange request and decodes a JSON answer of at most
// 64 KiB; status is returned for the caller to judge.
func (c *ciClient) doJSON(ctx context.Context, req *http.Request, v any) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, exchangeTimeout)
	defer cancel()
	resp, err := c.hc.Do(req.WithContext(ctx))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return resp.StatusCode, nil, err
	}
	if resp.StatusCode == http.StatusOK && v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			return resp.StatusCode, body, fmt.Errorf("the answer is not the expected JSON: %w", err)
		}
	}
	return resp.StatusCode, body, nil
}

// audience asks the server (root: https://host) for the audience its ID
// tokens must carry.
func (c *ciClient) audience(ctx context.Context, root string) (string, error) {
	u := root + "/_/oidc/audience"
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	var res struct {
		Audience string `json:"audience"`
	}
	status, _, err := c.doJSON(ctx, req, &res)
	switch {
	case err != nil:
		return "", fmt.Errorf("GET %s: %w", u, err)
	case status == http.StatusForbidden:
		return "", fmt.Errorf("%s has trusted publishing disabled: its operator must configure an OIDC issuer (oidc.issuers)", root)
	case status == http.StatusNotFound:
		return "", fmt.Errorf("%s does not offer OIDC federation (GET /_/oidc/audience: 404): check the server URL", root)
	case status != http.StatusOK:
		return "", fmt.Errorf("GET %s: unexpected status %d", u, status)
	case res.Audience == "":
		return "", fmt.Errorf("GET %s: no audience in the answer", u)
	}
	return res.Audience, nil
}

// idToken finds the CI job's OIDC ID token for aud, and says where from:
// the flags first, then the GitHub Actions runtime, then GitLab's
// conventional variables.
func (c *ciClient) idToken(ctx context.Context, f idTokenFlags, aud string) (jwt, source string, err error) {
	switch {
	case f.idToken != "":
		return strings.TrimSpace(f.idToken), "--id-token", nil
	case f.idTokenEnv != "":
		v := strings.TrimSpace(c.getenv(f.idTokenEnv))
		if v == "" {
			return "", "", fmt.Errorf("--id-token-env: $%s is empty or unset (GitLab CI: declare it under id_tokens: with aud: %s)", f.idTokenEnv, aud)
		}
		return v, "$" + f.idTokenEnv, nil
	case f.idTokenFile != "":
		b, err := os.ReadFile(f.idTokenFile)
		if err != nil {
			return "", "", fmt.Errorf("--id-token-file: %w", err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", "", fmt.Errorf("--id-token-file %s is empty", f.idTokenFile)
		}
		return v, f.idTokenFile, nil
	}
	reqURL, reqTok := c.getenv("ACTIONS_ID_TOKEN_REQUEST_URL"), c.getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	if reqURL != "" && reqTok != "" {
		jwt, err := c.githubToken(ctx, reqURL, reqTok, aud)
		return jwt, "the GitHub Actions runtime", err
	}
	if c.github {
		return "", "", errors.New("no ID token: ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set, " +
			"which means the job is missing the id-token: write permission. Add to the job (or workflow):\n\n" +
			"    permissions:\n      id-token: write\n\n" +
			"Pull requests from forks never get an ID token.")
	}
	if c.getenv("GITLAB_CI") == "true" {
		for _, name := range []string{"WHARF_ID_TOKEN", audienceEnvName(aud)} {
			if v := strings.TrimSpace(c.getenv(name)); v != "" {
				return v, "$" + name, nil
			}
		}
		// The name derived from the audience is the one uv reads too, so
		// one declaration serves `wharf publish` and `uv publish`.
		name := audienceEnvName(aud)
		return "", "", fmt.Errorf("no ID token: declare one in the job (uv reads the same name), e.g.\n\n"+
			"    id_tokens:\n      %s:\n        aud: %s\n    script:\n      - wharf %s", name, aud, c.cmd)
	}
	return "", "", errors.New("no ID token: run in GitHub Actions (with permissions: id-token: write), " +
		"or pass --id-token-env VAR or --id-token-file FILE (GitLab CI and other issuers)")
}

// audienceEnvName is the variable the `id` library and uv read in GitLab
// CI: the audience upper-cased, every other character '_', + _ID_TOKEN.
func audienceEnvName(aud string) string {
	b := []byte(strings.ToUpper(aud))
	for i, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	return string(b) + "_ID_TOKEN"
}

// githubToken asks the Actions runtime for an ID token with our audience:
// GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=AUD, bearer the request token.
func (c *ciClient) githubToken(ctx context.Context, reqURL, reqTok, aud string) (string, error) {
	sep := "&"
	if !strings.Contains(reqURL, "?") {
		sep = "?"
	}
	req, err := http.NewRequest(http.MethodGet, reqURL+sep+"audience="+url.QueryEscape(aud), nil)
	if err != nil {
		return "", fmt.Errorf("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL: %w", err)
	}
	req.Header.Set("Authorization", "bearer "+reqTok)
	req.Header.Set("Accept", "application/json")
	var res struct {
		Value string `json:"value"`
	}
	status, body, err := c.doJSON(ctx, req, &res)
	switch {
	case err != nil:
		return "", fmt.Errorf("requesting an ID token from the Actions runtime: %w", err)
	case status != http.StatusOK:
		return "", fmt.Errorf("requesting an ID token from the Actions runtime: status %d: %s", status, snippet(body))
	case res.Value == "":
		return "", errors.New("the Actions runtime answered without an ID token")
	}
	return res.Value, nil
}

// shownClaims are the claims printed with a refusal, in this order.
var shownClaims = []string{"iss", "aud", "sub", "repository", "repository_owner", "repository_owner_id", "repository_id",
	"workflow_ref", "job_workflow_ref", "ref", "environment", "event_name", "project_path", "ci_config_ref_uri"}

// jwtPayload decodes (without verifying) the payload of a JWT.
func jwtPayload(jwt string) map[string]any {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m
}

// tokenClaims lists the identifying claims of a JWT, one per line. The
// claims are not secret; the token itself is never printed.
func tokenClaims(jwt string) string {
	m := jwtPayload(jwt)
	if m == nil {
		return ""
	}
	var b strings.Builder
	for _, k := range shownClaims {
		if v, ok := m[k]; ok {
			fmt.Fprintf(&b, "  %s: %v\n", k, v)
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}
