package auth

import (
	"errors"

	"github.com/wharf-dev/wharf/internal/errs"
)

// msgInvalid is the one message a client sees for any bad token: saying
// whether an ID exists, was revoked or expired would help someone probing
// stolen or guessed tokens. The precise reason is in Reason(err), for logs.
const msgInvalid = "invalid or expired token"

// msgUserPass is what PyPI-style clients print when someone configures a
// username and password instead of __token__ and an API token.
const msgUserPass = "Username/password authentication is not supported: use username __token__ and an API token as password."

// ErrNoCredentials means the request carried no Authorization header at all.
// Handlers treat it as "anonymous" (fine for public reads) rather than as a
// failed authentication.
var ErrNoCredentials = errs.E(errs.Unauthenticated, "auth", errors.New("no credentials given"))

// Error is the cause inside every authentication failure. Error() is the
// client-facing message; Reason is the detail for the log.
type Error struct {
	Msg    string // shown to the client, short and fixed
	Reason string // for logs only: "unknown token id", "revoked", ...
}

func (e *Error) Error() string { return e.Msg }

// Reason returns the loggable reason of an authentication failure ("expired",
// "secret mismatch", ...), "no credentials" for ErrNoCredentials, or "" when
// err did not come from this package's authentication.
func Reason(err error) string {
	if errors.Is(err, ErrNoCredentials) {
		return "no credentials"
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// failure builds an Unauthenticated error with the fixed client message.
func failure(op, reason string) error {
	return errs.E(errs.Unauthenticated, op, &Error{Msg: msgInvalid, Reason: reason})
}
