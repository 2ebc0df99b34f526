package oidc

import (
	"encoding/json"
	"fmt"
)

// PyPI's mint-token error codes (research/pypi-protocols.md §1.2); clients
// print them, so we keep PyPI's spelling.
const (
	CodeInvalidPayload          = "invalid-payload"
	CodeInvalidToken            = "invalid-token"
	CodeInvalidReuseToken       = "invalid-reuse-token"
	CodeInvalidPublisher        = "invalid-publisher"
	CodeInvalidPendingPublisher = "invalid-pending-publisher"
)

// Reasons label the refusal metric and the audit record; a fixed set keeps
// the metric's cardinality bounded.
const (
	ReasonMalformed        = "malformed"
	ReasonUnknownIssuer    = "unknown_issuer"
	ReasonAlgorithm        = "algorithm"
	ReasonMissingKID       = "missing_kid"
	ReasonForbiddenHeader  = "forbidden_header"
	ReasonUnknownKID       = "unknown_kid"
	ReasonKeyMismatch      = "key_mismatch"
	ReasonSignature        = "signature"
	ReasonIssuer           = "issuer"
	ReasonAudience         = "audience"
	ReasonExpired          = "expired"
	ReasonNotYetValid      = "not_yet_valid"
	ReasonIssuedInFuture   = "issued_in_future"
	ReasonLifetime         = "lifetime"
	ReasonMissingClaim     = "missing_claim"
	ReasonKeysUnavailable  = "keys_unavailable"
	ReasonReplay           = "replay"
	ReasonNoPublisher      = "no_publisher"
	ReasonForbiddenEvent   = "forbidden_event"
	ReasonPendingProjected = "pending_project_exists"
)

// Refusal is a failed exchange the caller can act on. Description talks
// about the caller's own token only, never about other projects' publishers.
type Refusal struct {
	Code        string `json:"code"`
	Description string `json:"description"`
	// Reason is one of the Reason* constants, for metrics and audit; not sent.
	Reason string `json:"-"`
}

func refuse(code, reason, format string, args ...any) *Refusal {
	return &Refusal{Code: code, Reason: reason, Description: fmt.Sprintf(format, args...)}
}

func (r *Refusal) Error() string { return r.Code + ": " + r.Description }

// Body is the JSON response PyPI sends with status 422; gh-action, twine and
// uv parse errors[].code and errors[].description and break without them.
func (r *Refusal) Body() []byte {
	b, _ := json.Marshal(struct {
		Message string     `json:"message"`
		Errors  []*Refusal `json:"errors"`
	}{"Token request failed", []*Refusal{r}})
	return b
}
