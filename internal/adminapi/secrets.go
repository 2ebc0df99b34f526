package adminapi

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"

	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/secrets"
)

// CreateSecretRequest is the body of POST /api/v1/secrets.
type CreateSecretRequest struct {
	Name string `json:"name"`
}

// AddSecretVersionRequest is the body of POST /api/v1/secrets/{name}/versions:
// the value as a string or, for arbitrary bytes, in base64; exactly one.
type AddSecretVersionRequest struct {
	Value       string `json:"value,omitempty"`
	ValueBase64 string `json:"value_base64,omitempty"`
}

// SecretVersionResult answers the version routes. It never carries a value.
type SecretVersionResult struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
	State   string `json:"state"`
}

// SecretGrantResult answers the grant routes.
type SecretGrantResult struct {
	Name    string `json:"name"`
	Repo    string `json:"repo"`
	Granted bool   `json:"granted"`
}

// MountSecrets adds the secret store's routes (/api/v1/secrets...). They
// need an unrestricted admin token, and no route ever returns a value:
// values leave wharf only toward the upstream a repository is configured
// for.
func (a *API) MountSecrets(svc *secrets.Service) {
	if svc == nil {
		return
	}
	r := secretRoutes{a: a, svc: svc}
	const one = "/api/v1/secrets/{name}"
	m := a.mux
	m.Handle("GET /api/v1/secrets", a.handle(r.list))
	m.Handle("POST /api/v1/secrets", a.handle(r.create))
	m.Handle("GET "+one, a.handle(r.get))
	m.Handle("POST "+one+"/versions", a.handle(r.addVersion))
	m.Handle("POST "+one+"/versions/{version}/{action}", a.handle(r.setState))
	m.Handle("PUT "+one+"/grants/{repo}", a.handle(r.grant))
	m.Handle("DELETE "+one+"/grants/{repo}", a.handle(r.revoke))
}

type secretRoutes struct {
	a   *API
	svc *secrets.Service
}

// ctx names the caller in the secret store's audit events.
func (secretRoutes) ctx(r *http.Request, p auth.Principal) (context.Context, error) {
	if err := requireGlobalAdmin(p); err != nil {
		return nil, err
	}
	return secrets.WithActor(r.Context(), p.TokenID), nil
}

func (x secretRoutes) list(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	ctx, err := x.ctx(r, p)
	if err != nil {
		return err
	}
	infos, err := x.svc.List(ctx)
	if err != nil {
		return err
	}
	if infos == nil {
		infos = []secrets.Info{}
	}
	return writeJSON(w, http.StatusOK, infos)
}

func (x secretRoutes) get(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	ctx, err := x.ctx(r, p)
	if err != nil {
		return err
	}
	info, err := x.svc.Get(ctx, r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, info)
}

func (x secretRoutes) create(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	ctx, err := x.ctx(r, p)
	if err != nil {
		return err
	}
	var req CreateSecretRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := x.svc.Create(ctx, req.Name); err != nil {
		return err
	}
	info, err := x.svc.Get(ctx, req.Name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, info)
}

func (x secretRoutes) addVersion(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	const op = "adminapi.addSecretVersion"
	ctx, err := x.ctx(r, p)
	if err != nil {
		return err
	}
	var req AddSecretVersionRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	var value []byte
	switch {
	case req.Value != "" && req.ValueBase64 != "":
		return errs.Errorf(errs.Invalid, op, "send the value as value or as value_base64, not both")
	case req.ValueBase64 != "":
		if value, err = base64.StdEncoding.DecodeString(req.ValueBase64); err != nil {
			// Never echo the input: it is the secret.
			return errs.Errorf(errs.Invalid, op, "value_base64 is not valid standard base64")
		}
	default:
		value = []byte(req.Value)
	}
	defer clear(value)
	name := r.PathValue("name")
	n, err := x.svc.AddVersion(ctx, name, value)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, SecretVersionResult{Name: name, Version: n, State: "enabled"})
}

func (x secretRoutes) setState(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	const op = "adminapi.setSecretVersionState"
	ctx, err := x.ctx(r, p)
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	v, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || v < 1 {
		return errs.Errorf(errs.Invalid, op, "version %q is not a version number such as 1", r.PathValue("version"))
	}
	var state string
	switch r.PathValue("action") {
	case "disable":
		err, state = x.svc.DisableVersion(ctx, name, v), "disabled"
	case "enable":
		err, state = x.svc.EnableVersion(ctx, name, v), "enabled"
	case "destroy":
		err, state = x.svc.DestroyVersion(ctx, name, v), "destroyed"
	default:
		return errs.Errorf(errs.NotFound, op, "no such API route: %s %s (use disable, enable or destroy)", r.Method, r.URL.Path)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, SecretVersionResult{Name: name, Version: v, State: state})
}

func (x secretRoutes) grant(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	ctx, err := x.ctx(r, p)
	if err != nil {
		return err
	}
	name, repo := r.PathValue("name"), r.PathValue("repo")
	if err := x.svc.Grant(ctx, name, repo); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, SecretGrantResult{Name: name, Repo: repo, Granted: true})
}

func (x secretRoutes) revoke(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	ctx, err := x.ctx(r, p)
	if err != nil {
		return err
	}
	name, repo := r.PathValue("name"), r.PathValue("repo")
	if err := x.svc.Revoke(ctx, name, repo); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, SecretGrantResult{Name: name, Repo: repo, Granted: false})
}

func secretPath(name string) string { return "/api/v1/secrets/" + seg(name) }

// ListSecrets describes every secret (never values).
func (c *Client) ListSecrets(ctx context.Context) ([]secrets.Info, error) {
	var out []secrets.Info
	return out, c.do(ctx, http.MethodGet, "/api/v1/secrets", nil, &out)
}

// GetSecret describes one secret.
func (c *Client) GetSecret(ctx context.Context, name string) (secrets.Info, error) {
	var out secrets.Info
	return out, c.do(ctx, http.MethodGet, secretPath(name), nil, &out)
}

// CreateSecret creates a secret with no versions.
func (c *Client) CreateSecret(ctx context.Context, name string) (secrets.Info, error) {
	var out secrets.Info
	return out, c.do(ctx, http.MethodPost, "/api/v1/secrets", CreateSecretRequest{Name: name}, &out)
}

// AddSecretVersion stores value as the secret's next version (sent in
// base64, so any bytes survive) and returns its number.
func (c *Client) AddSecretVersion(ctx context.Context, name string, value []byte) (int, error) {
	var out SecretVersionResult
	err := c.do(ctx, http.MethodPost, secretPath(name)+"/versions",
		AddSecretVersionRequest{ValueBase64: base64.StdEncoding.EncodeToString(value)}, &out)
	return out.Version, err
}

// SetSecretVersionState disables, enables or destroys a version (action
// "disable", "enable", "destroy").
func (c *Client) SetSecretVersionState(ctx context.Context, name string, version int, action string) error {
	return c.do(ctx, http.MethodPost, secretPath(name)+"/versions/"+strconv.Itoa(version)+"/"+seg(action), nil, nil)
}

// GrantSecret lets repository repo use the secret.
func (c *Client) GrantSecret(ctx context.Context, name, repo string) error {
	return c.do(ctx, http.MethodPut, secretPath(name)+"/grants/"+seg(repo), nil, nil)
}

// RevokeSecret withdraws repo's grant.
func (c *Client) RevokeSecret(ctx context.Context, name, repo string) error {
	return c.do(ctx, http.MethodDelete, secretPath(name)+"/grants/"+seg(repo), nil, nil)
}
