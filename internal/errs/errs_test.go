package errs

import (
	"errors"
	"fmt"
	"testing"
)

func TestKindOf(t *testing.T) {
	t.Parallel()
	base := errors.New("boom")
	for _, tt := range []struct {
		name string
		err  error
		want Kind
	}{
		{"nil", nil, Internal},
		{"plain", base, Internal},
		{"direct", E(NotFound, "op", base), NotFound},
		{"wrapped by fmt", fmt.Errorf("ctx: %w", E(Conflict, "op", base)), Conflict},
		{"internal outside invalid", E(Internal, "outer", E(Invalid, "inner", base)), Invalid},
		{"outer kind wins", E(TooLarge, "outer", E(Invalid, "inner", base)), TooLarge},
	} {
		if got := KindOf(tt.err); got != tt.want {
			t.Errorf("%s: KindOf = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestMessage(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("handler: %w", E(Invalid, "hosted.Upload", errors.New("Use a known file type.")))
	if got, want := Message(err), "Use a known file type."; got != want {
		t.Errorf("Message = %q, want %q", got, want)
	}
	if got, want := err.Error(), "handler: hosted.Upload: Use a known file type."; got != want {
		t.Errorf("Error = %q, want %q", got, want)
	}
}

func TestPublic(t *testing.T) {
	t.Parallel()
	inner := E(Upstream, "upstream", errors.New("dial tcp 10.0.0.7:443: connection refused"))
	err := fmt.Errorf("remote: %w", Public(inner, "the upstream index is unreachable"))
	if got := KindOf(err); got != Upstream {
		t.Errorf("KindOf = %v, want upstream", got)
	}
	if got, want := PublicMessage(err), "the upstream index is unreachable"; got != want {
		t.Errorf("PublicMessage = %q, want %q", got, want)
	}
	if got, want := Message(err), "dial tcp 10.0.0.7:443: connection refused"; got != want {
		t.Errorf("Message = %q, want %q (the detail is kept)", got, want)
	}
	if PublicMessage(inner) != "" || Public(nil, "x") != nil {
		t.Error("no public message where none was attached; Public(nil) is nil")
	}
}
