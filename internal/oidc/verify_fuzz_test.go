package oidc_test

import (
	"strings"
	"testing"

	"github.com/wharf-dev/wharf/internal/devissuer"
	"github.com/wharf-dev/wharf/internal/oidc"
	"github.com/wharf-dev/wharf/internal/oidc/oidctest"
)

// FuzzVerify feeds arbitrary strings, and mutations of a valid token, to
// the verifier of a live issuer: it must never panic, and nothing but the
// untouched valid token may verify.
func FuzzVerify(f *testing.F) {
	w := oidctest.NewWorld(f, nil)
	v, err := oidc.NewVerifier(w.Config)
	if err != nil {
		f.Fatal(err)
	}
	good, err := w.GitHub.Token(w.Audience, w.Good)
	if err != nil {
		f.Fatal(err)
	}
	none, _ := w.GitHub.Sign(w.Claims(w.GitHub, nil), devissuer.SignOptions{Alg: "none"})
	hs, _ := w.GitHub.Sign(w.Claims(w.GitHub, nil), devissuer.SignOptions{Alg: "HS256"})
	for _, seed := range []string{good, none, hs, "", ".", "..", "a.b.c", strings.Repeat("A", 9000), good + "x", good[:len(good)-3]} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(t.Context(), raw)
		if err == nil && raw != good {
			t.Fatalf("a token other than the valid one verified: %q → %+v", raw, c)
		}
	})
}
