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
