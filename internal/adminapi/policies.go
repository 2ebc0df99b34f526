package adminapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/oidc"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

// PolicyService is what the policy routes and the RFC 8693 endpoint need
// from trust federation (the server implements it around the Exchanger).
type PolicyService interface {
	Issuers() []oidc.IssuerInfo
	Audience() string
	CEL() *oidc.CEL
	// Changed tells the policy cache that the stored policies changed.
	Changed()
	Policies(ctx context.Context) (*oidc.PolicySet, error)
	Verify(ctx context.Context, rawJWT string) (oidc.Claims, error)
	Exchange(ctx context.Context, req oidc.ExchangeRequest) (oidc.MintResult, error)
}

// MountPolicies adds /api/v1/policies and POST /api/v1/token/exchange.
// svc nil (no issuer configured): policies can still be listed and
// removed, and the exchange answers that it is not enabled.
func (a *API) MountPolicies(svc PolicyService) {
	p := &policyRoutes{a: a, svc: svc}
	m := a.mux
	m.Handle("POST /api/v1/policies", a.handle(p.create))
	m.Handle("GET /api/v1/policies", a.handle(p.list))
	m.Handle("POST /api/v1/policies/test", a.handle(p.test))
	m.Handle("GET /api/v1/policies/{name}", a.handle(p.get))
	m.Handle("DELETE /api/v1/policies/{name}", a.handle(p.remove))
	m.HandleFunc("POST /api/v1/token/exchange", p.exchange)
}

type policyRoutes struct {
	a   *API
	svc PolicyService
}

// PolicyResponse is a saved policy with the linter's warnings.
type PolicyResponse struct {
	Policy   oidc.Policy `json:"policy"`
	Warnings []string    `json:"warnings,omitempty"`
}

func requireAdmin(op string, p auth.Principal) error {
	// Policies are global (any repository): only unrestricted admins.
	if !p.Scope.AllowsAction(registry.Admin) || len(p.Scope.Repos) > 0 || len(p.Scope.Projects) > 0 {
		return errs.Errorf(errs.PermissionDenied, op, "managing trust policies needs an admin token not limited to repositories or projects")
	}
	return nil
}

func (pr *policyRoutes) enabled(op string) error {
	if pr.svc == nil {
		return errs.Errorf(errs.Invalid, op, "no OIDC issuer is configured on this server: add one under oidc.issuers first")
	}
	return nil
}

func (pr *policyRoutes) create(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	const op = "adminapi.createPolicy"
	if err := requireAdmin(op, p); err != nil {
		return err
	}
	if err := pr.enabled(op); err != nil {
		return err
	}
	var pol oidc.Policy
	if err := decode(r, &pol); err != nil {
		return err
	}
	pol.ID, pol.CreatedAt, pol.CreatedBy = 0, time.Time{}, p.TokenID
	pol.Normalize(pr.svc.Audience())
	lint, err := pol.Validate(pr.svc.Issuers(), pr.svc.Audience(), pr.svc.CEL())
	if err != nil {
		return err
	}
	b, err := json.Marshal(pol)
	if err != nil {
		return errs.E(errs.Internal, op, err)
	}
	rec := store.PolicyRecord{Name: pol.Name, Issuer: pol.Issuer, Config: b, CreatedBy: p.TokenID}
	if err := pr.a.store.Policies().Create(r.Context(), &rec); err != nil {
		return err
	}
	pol.ID, pol.CreatedAt = rec.ID, rec.CreatedAt
	pr.svc.Changed()
	if err := pr.a.audit(r.Context(), pr.a.store, registry.AuditEvent{Actor: p.TokenID, Action: "policy.create", Target: pol.Name,
		Detail: map[string]string{"issuer": pol.Issuer, "effect": pol.Effect, "force": boolText(pol.Force)}}); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, PolicyResponse{Policy: pol, Warnings: lint.Warnings})
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func (pr *policyRoutes) list(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	const op = "adminapi.listPolicies"
	if err := requireAdmin(op, p); err != nil {
		return err
	}
	recs, err := pr.a.store.Policies().List(r.Context())
	if err != nil {
		return err
	}
	out := make([]oidc.Policy, 0, len(recs))
	for _, rec := range recs {
		pol, err := oidc.PolicyFromRecord(rec)
		if err != nil {
			return errs.E(errs.Internal, op, err)
		}
		out = append(out, pol)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (pr *policyRoutes) get(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	const op = "adminapi.getPolicy"
	if err := requireAdmin(op, p); err != nil {
		return err
	}
	rec, err := pr.a.store.Policies().Get(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	pol, err := oidc.PolicyFromRecord(rec)
	if err != nil {
		return errs.E(errs.Internal, op, err)
	}
	return writeJSON(w, http.StatusOK, pol)
}

func (pr *policyRoutes) remove(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	const op = "adminapi.removePolicy"
	if err := requireAdmin(op, p); err != nil {
		return err
	}
	name := r.PathValue("name")
	if err := pr.a.store.Policies().Delete(r.Context(), name); err != nil {
		return err
	}
	if pr.svc != nil {
		pr.svc.Changed()
	}
	if err := pr.a.audit(r.Context(), pr.a.store, registry.AuditEvent{Actor: p.TokenID, Action: "policy.remove", Target: name}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// PolicyTestRequest asks which policies a token (verified) or a claims set
// (not verified: for drafting policies) satisfies.
type PolicyTestRequest struct {
	Token   string         `json:"token,omitempty"`
	Claims  map[string]any `json:"claims,omitempty"`
	Repo    string         `json:"repo,omitempty"`
	Project string         `json:"project,omitempty"`
	Action  string         `json:"action,omitempty"`
}

// PolicyTestResult explains a decision.
type PolicyTestResult struct {
	Issuer   string       `json:"issuer"`
	Verified bool         `json:"verified"`
	Traces   []oidc.Trace `json:"traces"`
	Denied   []string     `json:"denied,omitempty"`
	Granted  string       `json:"granted"` // RFC 8693 scope of what would be granted
	// Requested and Allowed answer --repo/--project/--action.
	Requested string `json:"requested,omitempty"`
	Allowed   *bool  `json:"allowed,omitempty"`
	Problem   string `json:"problem,omitempty"` // why the token did not verify
}

func (pr *policyRoutes) test(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	const op = "adminapi.testPolicies"
	if err := requireAdmin(op, p); err != nil {
		return err
	}
	if err := pr.enabled(op); err != nil {
		return err
	}
	var req PolicyTestRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	var res PolicyTestResult
	var c oidc.Claims
	switch {
	case req.Token != "" && req.Claims == nil:
		var err error
		if c, err = pr.svc.Verify(r.Context(), req.Token); err != nil {
			if ref := oidc.AsRefusal(err); ref != nil {
				res.Problem = ref.Description
				return writeJSON(w, http.StatusOK, res)
			}
			return err
		}
		res.Verified = true
	case req.Claims != nil && req.Token == "":
		// Numbers as json.Number, as the verifier gives them.
		b, _ := json.Marshal(req.Claims)
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.UseNumber()
		var raw map[string]any
		if err := dec.Decode(&raw); err != nil {
			return errs.E(errs.Invalid, op, err)
		}
		iss, _ := raw["iss"].(string)
		c = oidc.Claims{Issuer: iss, Raw: raw}
		for _, is := range pr.svc.Issuers() {
			if is.URL == iss {
				c.IssuerName, c.Kind = is.Name, is.Kind
			}
		}
		if c.IssuerName == "" {
			return errs.Errorf(errs.Invalid, op, "claims.iss %q is not a configured issuer", iss)
		}
	default:
		return errs.Errorf(errs.Invalid, op, "give exactly one of token and claims")
	}
	set, err := pr.svc.Policies(r.Context())
	if err != nil {
		return err
	}
	d := set.Evaluate(c, true)
	res.Issuer, res.Traces, res.Denied, res.Granted = c.IssuerName, d.Traces, d.Denied, oidc.FormatScope(d.Entries)
	if req.Repo != "" {
		it := oidc.ScopeItem{Repo: req.Repo, Project: strings.ToLower(req.Project), Action: registry.Action(cmpOr(req.Action, "read"))}
		items, err := oidc.ParseScope(it.String())
		if err != nil {
			return errs.E(errs.Invalid, op, err)
		}
		_, miss := oidc.Narrow(d.Entries, items)
		ok := miss == nil
		res.Requested, res.Allowed = items[0].String(), &ok
	}
	return writeJSON(w, http.StatusOK, res)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// exchange is RFC 8693 over a form-encoded POST, answering RFC 6749 JSON.
func (pr *policyRoutes) exchange(w http.ResponseWriter, r *http.Request) {
	oauthErr := func(status int, code, desc, wharfCode string) {
		_ = writeJSON(w, status, map[string]string{"error": code, "error_description": desc, "wharf_code": wharfCode})
	}
	if pr.svc == nil {
		oauthErr(http.StatusBadRequest, "unsupported_grant_type", "token exchange is not enabled: the server has no OIDC issuer configured", oidc.CodeNotEnabled)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 32<<10+1))
	if err != nil || len(body) > 32<<10 {
		oauthErr(http.StatusBadRequest, "invalid_request", "the request body must be a form under 32 KiB", oidc.CodeInvalidPayload)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		oauthErr(http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded", oidc.CodeInvalidPayload)
		return
	}
	if gt := form.Get("grant_type"); gt != oidc.GrantTypeTokenExchange {
		oauthErr(http.StatusBadRequest, "unsupported_grant_type", "grant_type must be "+oidc.GrantTypeTokenExchange, oidc.CodeInvalidPayload)
		return
	}
	if tt := form.Get("subject_token_type"); tt != oidc.TokenTypeIDToken {
		oauthErr(http.StatusBadRequest, "invalid_request", "subject_token_type must be "+oidc.TokenTypeIDToken, oidc.CodeInvalidPayload)
		return
	}
	if rt := form.Get("requested_token_type"); rt != "" && rt != oidc.TokenTypeAccessToken {
		oauthErr(http.StatusBadRequest, "invalid_request", "requested_token_type must be "+oidc.TokenTypeAccessToken+" or absent", oidc.CodeInvalidPayload)
		return
	}
	tok := form.Get("subject_token")
	if tok == "" {
		oauthErr(http.StatusBadRequest, "invalid_request", "subject_token is required: the OIDC ID token of the job", oidc.CodeInvalidPayload)
		return
	}
	scope, err := oidc.ParseScope(form.Get("scope"))
	if err != nil {
		oauthErr(http.StatusBadRequest, "invalid_scope", err.Error(), oidc.CodeInvalidScope)
		return
	}
	res, err := pr.svc.Exchange(r.Context(), oidc.ExchangeRequest{SubjectToken: tok, Scope: scope})
	if err != nil {
		if ref := oidc.AsRefusal(err); ref != nil {
			code := "invalid_grant"
			switch ref.Code {
			case oidc.CodeInvalidScope:
				code = "invalid_scope"
			case oidc.CodeInvalidPayload:
				code = "invalid_request"
			case oidc.CodeNotEnabled:
				code = "unsupported_grant_type"
			}
			pr.a.log.Info("token exchange refused", "code", ref.Code, "reason", ref.Reason)
			oauthErr(http.StatusBadRequest, code, ref.Description, ref.Code)
			return
		}
		pr.a.fail(w, r, err)
		return
	}
	_ = writeJSON(w, http.StatusOK, ExchangeResponse{
		AccessToken: res.Token, IssuedTokenType: oidc.TokenTypeAccessToken, TokenType: "Bearer",
		ExpiresIn: int64(time.Until(res.Expires).Round(time.Second) / time.Second), Scope: oidc.FormatScope(res.Entries),
		ExpiresAt: res.Expires.UTC().Format(time.RFC3339),
	})
}

// ExchangeResponse is RFC 8693 §2.2.1 plus expires_at for humans.
type ExchangeResponse struct {
	AccessToken     string `json:"access_token"`
	IssuedTokenType string `json:"issued_token_type"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
	Scope           string `json:"scope"`
	ExpiresAt       string `json:"expires_at"`
}
