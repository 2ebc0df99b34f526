package httpapi

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/wharf-dev/wharf/internal/oidc"
)

// Trusted publishing, PyPI-compatible (research/pypi-protocols.md §1): the
// clients (gh-action-pypi-publish, twine, uv, pdm) build these URLs at the
// host root and parse exactly these bodies.

const maxMintBody = 16 << 10

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var tpDisabled = map[string]string{"message": "Trusted publishing functionality not enabled"}

func (s *Server) oidcAudience(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Exchanger == nil {
		writeJSON(w, http.StatusForbidden, tpDisabled)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"audience": s.cfg.Exchanger.Audience()})
}

func refusalBody(code, description string) []byte {
	return (&oidc.Refusal{Code: code, Description: description}).Body()
}

func (s *Server) mintToken(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Exchanger == nil {
		writeJSON(w, http.StatusForbidden, tpDisabled)
		return
	}
	fail := func(body []byte) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = w.Write(body)
	}
	// PyPI does not check the Content-Type (its own curl example posts a
	// form type), so neither do we.
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxMintBody+1))
	if err != nil || len(raw) > maxMintBody {
		fail(refusalBody(oidc.CodeInvalidPayload, "the request body must be a JSON object {\"token\": \"<OIDC ID token>\"} under 16 KiB"))
		return
	}
	var req struct {
		Token *string `json:"token"`
	}
	if err := json.Unmarshal(raw, &req); err != nil || req.Token == nil {
		fail(refusalBody(oidc.CodeInvalidPayload, "the request body must be a JSON object {\"token\": \"<OIDC ID token>\"}"))
		return
	}
	res, err := s.cfg.Exchanger.MintToken(r.Context(), *req.Token)
	if err != nil {
		if ref := oidc.AsRefusal(err); ref != nil {
			s.log.Info("trusted publishing refused", "code", ref.Code, "reason", ref.Reason, "request_id", requestID(r.Context()))
			fail(ref.Body())
			return
		}
		status := Status(err)
		logError(s.log, r, status, err)
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", retryAfter)
		}
		writeJSON(w, status, map[string]any{"message": "Token request failed", "errors": []map[string]string{{
			"code": "server-error", "description": ClientMessage(r, err, s.cfg.Auth),
		}}})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "token": res.Token, "expires": res.Expires.Unix()})
}
