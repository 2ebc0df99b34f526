package adminapi

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

// createToken mints a token. Only an unrestricted admin may: working out
// whether one glob scope is narrower than another is easy to get wrong,
// and a mistake there would be a privilege escalation. CI jobs get their
// narrow tokens from trusted publishing instead.
func (a *API) createToken(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if err := requireGlobalAdmin(p); err != nil {
		return err
	}
	var req CreateTokenRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	secret, tok, err := a.auth.Mint(r.Context(), auth.MintRequest{
		Scope:       registry.Scope{Repos: req.Repos, Projects: req.Projects, Actions: req.Actions},
		Description: req.Description,
		TTL:         time.Duration(req.ExpiresIn),
		Origin:      "admin",
	})
	if err != nil {
		return err
	}
	detail := scopeDetail(tok.Scope)
	detail["description"] = tok.Description
	if !tok.ExpiresAt.IsZero() {
		detail["expires_at"] = tok.ExpiresAt.Format(time.RFC3339)
	}
	if err := a.audit(r.Context(), a.store, registry.AuditEvent{
		Actor: p.TokenID, Action: "token.create", Target: tok.ID, Detail: detail,
	}); err != nil {
		// Every token must have its audit entry: a token nobody can trace
		// is worse than a failed request, so take it back.
		if rerr := a.auth.Revoke(r.Context(), tok.ID); rerr != nil {
			a.log.ErrorContext(r.Context(), "revoking an unaudited token", "token_id", tok.ID, "error", rerr)
		}
		return err
	}
	a.log.InfoContext(r.Context(), "token created", "token_id", tok.ID, "by", p.TokenID)
	return writeJSON(w, http.StatusCreated, CreatedToken{Token: secret, ID: tok.ID, ExpiresAt: tok.ExpiresAt, Scope: tok.Scope})
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if err := requireGlobalAdmin(p); err != nil {
		return err
	}
	toks, err := a.store.Tokens().List(r.Context())
	if err != nil {
		return err
	}
	out := make([]TokenInfo, len(toks))
	for i, t := range toks {
		out[i] = TokenInfoOf(t)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if err := requireGlobalAdmin(p); err != nil {
		return err
	}
	id := r.PathValue("id")
	tok, err := a.store.Tokens().Get(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return errs.Errorf(errs.NotFound, "adminapi", "token '%s' does not exist ('wharf token list' shows the IDs)", id)
	}
	if err != nil {
		return err
	}
	if tok.RevokedAt.IsZero() {
		// Through auth, so its cache forgets the token at once.
		if err := a.auth.Revoke(r.Context(), id); err != nil {
			return err
		}
		if err := a.audit(r.Context(), a.store, registry.AuditEvent{Actor: p.TokenID, Action: "token.revoke", Target: id}); err != nil {
			return err
		}
		a.log.InfoContext(r.Context(), "token revoked", "token_id", id, "by", p.TokenID)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// scopeDetail describes a scope for an audit entry.
func scopeDetail(s registry.Scope) map[string]string {
	acts := make([]string, len(s.Actions))
	for i, a := range s.Actions {
		acts[i] = string(a)
	}
	d := map[string]string{"actions": strings.Join(acts, ",")}
	if len(s.Repos) > 0 {
		d["repos"] = strings.Join(s.Repos, ",")
	}
	if len(s.Projects) > 0 {
		d["projects"] = strings.Join(s.Projects, ",")
	}
	return d
}
