package auth

import (
	"encoding/base64"
	"strings"

	"github.com/wharf-dev/wharf/internal/errs"
)

// ParseAuthorization extracts the API token from an Authorization header
// value, accepting what PyPI accepts:
//
//	Basic base64("__token__:" + token)   (twine, pip, uv, poetry, pdm, flit)
//	Bearer <token>
//	token <token>
//
// Schemes are case-insensitive. An empty header gives ErrNoCredentials;
// Basic with any username but __token__ gives an Unauthenticated error whose
// message tells the user to switch to tokens. The token itself is checked by
// Authenticate, not here.
func ParseAuthorization(header string) (string, error) {
	const op = "auth.ParseAuthorization"
	header = strings.TrimSpace(header)
	if header == "" {
		return "", ErrNoCredentials
	}
	scheme, rest, _ := strings.Cut(header, " ")
	rest = strings.TrimSpace(rest)
	switch {
	case strings.EqualFold(scheme, "basic"):
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			// Some clients drop the padding.
			if raw, err = base64.RawStdEncoding.DecodeString(rest); err != nil {
				return "", failure(op, "basic credentials are not valid base64")
			}
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		if !ok {
			return "", failure(op, "basic credentials have no ':'")
		}
		if user != "__token__" {
			return "", errs.E(errs.Unauthenticated, op, &Error{Msg: msgUserPass, Reason: "basic username is not __token__"})
		}
		pass = strings.TrimSpace(pass)
		if pass == "" {
			return "", failure(op, "empty password")
		}
		return pass, nil
	case strings.EqualFold(scheme, "bearer"), strings.EqualFold(scheme, "token"):
		if rest == "" {
			return "", failure(op, "empty "+strings.ToLower(scheme)+" token")
		}
		return rest, nil
	default:
		return "", failure(op, "unsupported authorization scheme")
	}
}
