package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/wharf-dev/wharf/internal/errs"
)

func basic(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }

func TestParseAuthorization(t *testing.T) {
	t.Parallel()
	const tok = "wharf_abcdefghijklmnop_" + "0123456789012345678901234567890123456789abc"
	for _, tt := range []struct {
		name    string
		header  string
		want    string
		wantMsg string // client message of the error; "" means success
		reason  string
	}{
		{"basic", basic("__token__:" + tok), tok, "", ""},
		{"basic lower-case scheme", "basic " + base64.StdEncoding.EncodeToString([]byte("__token__:"+tok)), tok, "", ""},
		{"basic unpadded", "Basic " + base64.RawStdEncoding.EncodeToString([]byte("__token__:x")), "x", "", ""},
		{"basic password trimmed", basic("__token__: " + tok + "\n"), tok, "", ""},
		{"basic password with colon", basic("__token__:a:b"), "a:b", "", ""},
		{"bearer", "Bearer " + tok, tok, "", ""},
		{"bearer upper", "BEARER " + tok, tok, "", ""},
		{"token scheme", "token " + tok, tok, "", ""},
		{"token scheme mixed case", "Token   " + tok + "  ", tok, "", ""},
		{"surrounding space", "  Bearer " + tok + " ", tok, "", ""},
		{"basic other user", basic("alice:hunter2"), "", msgUserPass, "basic username is not __token__"},
		{"basic user with different case", basic("__TOKEN__:" + tok), "", msgUserPass, "basic username is not __token__"},
		{"basic empty user", basic(":" + tok), "", msgUserPass, "basic username is not __token__"},
		{"basic empty password", basic("__token__:  "), "", msgInvalid, "empty password"},
		{"basic no colon", basic("__token__"), "", msgInvalid, "basic credentials have no ':'"},
		{"basic bad base64", "Basic !!!", "", msgInvalid, "basic credentials are not valid base64"},
		{"basic nothing", "Basic", "", msgInvalid, "basic credentials have no ':'"},
		{"bearer empty", "Bearer ", "", msgInvalid, "empty bearer token"},
		{"token empty", "token", "", msgInvalid, "empty token token"},
		{"digest", "Digest username=x", "", msgInvalid, "unsupported authorization scheme"},
		{"bare token", tok, "", msgInvalid, "unsupported authorization scheme"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseAuthorization(tt.header)
			if tt.wantMsg == "" {
				if err != nil || got != tt.want {
					t.Fatalf("ParseAuthorization(%q) = %q, %v; want %q", tt.header, got, err, tt.want)
				}
				return
			}
			if !errs.Is(err, errs.Unauthenticated) || errors.Is(err, ErrNoCredentials) {
				t.Fatalf("err = %v, want an Unauthenticated error other than ErrNoCredentials", err)
			}
			if msg := errs.Message(err); msg != tt.wantMsg {
				t.Errorf("message = %q, want %q", msg, tt.wantMsg)
			}
			if r := Reason(err); r != tt.reason {
				t.Errorf("Reason = %q, want %q", r, tt.reason)
			}
			if got != "" {
				t.Errorf("secret %q returned with an error", got)
			}
		})
	}
}

func TestParseAuthorizationNoCredentials(t *testing.T) {
	t.Parallel()
	for _, h := range []string{"", "   ", "\t"} {
		_, err := ParseAuthorization(h)
		if !errors.Is(err, ErrNoCredentials) || !errs.Is(err, errs.Unauthenticated) {
			t.Errorf("ParseAuthorization(%q): err = %v, want ErrNoCredentials", h, err)
		}
		if Reason(err) != "no credentials" {
			t.Errorf("Reason = %q", Reason(err))
		}
	}
}

func TestMessageUserPass(t *testing.T) {
	t.Parallel()
	_, err := ParseAuthorization(basic("bob:pw"))
	want := "Username/password authentication is not supported: use username __token__ and an API token as password."
	if got := errs.Message(err); got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	if strings.Contains(err.Error(), "pw") {
		t.Errorf("error %q contains the password", err)
	}
}

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		"", "Basic " + base64.StdEncoding.EncodeToString([]byte("__token__:abc")),
		"Bearer x", "token y", "basic", "Basic ===", "Digest a", "Bearer  \t ",
		basic("user:pass"), basic("__token__:" + strings.Repeat("z", 80)),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		got, err := ParseAuthorization(h)
		if err != nil {
			if !errs.Is(err, errs.Unauthenticated) {
				t.Fatalf("error of kind %v, want Unauthenticated: %v", errs.KindOf(err), err)
			}
			if Reason(err) == "" {
				t.Fatalf("error without a reason: %v", err)
			}
			if got != "" {
				t.Fatalf("secret %q returned with an error", got)
			}
			if errors.Is(err, ErrNoCredentials) != (strings.TrimSpace(h) == "") {
				t.Fatalf("ErrNoCredentials for %q: %v", h, err)
			}
			return
		}
		if got == "" {
			t.Fatalf("empty secret without an error for %q", h)
		}
		if strings.TrimSpace(got) != got {
			t.Fatalf("secret %q has surrounding space", got)
		}
		// What came out of a Bearer header goes back in unchanged.
		if again, err := ParseAuthorization("Bearer " + got); err != nil || again != got {
			t.Fatalf("round trip of %q: %q, %v", got, again, err)
		}
		if again, err := ParseAuthorization(basic("__token__:" + got)); err != nil || again != got {
			t.Fatalf("basic round trip of %q: %q, %v", got, again, err)
		}
	})
}
