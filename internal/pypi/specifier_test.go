package pypi

import (
	"testing"

	"github.com/wharf-dev/wharf/internal/errs"
)

// The cases follow packaging.specifiers.SpecifierSet, which PyPI applies to
// Requires-Python.
func TestParseSpecifierSet(t *testing.T) {
	t.Parallel()
	valid := []string{
		"", ",", ">=3.9", ">=3.8,<4", " >= 3.8 , < 4 ", "~=3.8", "~=1.4.5.0", "~=2.2.post3",
		"==3.8.*", "!=3.0.*,!=3.1.*", "==1!2.0.*", "==1.0+local.7", "!=1.0+abc", ">=3.10.0rc1",
		"<=3.12.dev0", ">v3.7", "===foobar", "===", ">=3.6,", "==2.7.18", "> 3",
	}
	for _, s := range valid {
		if _, err := ParseSpecifierSet(s); err != nil {
			t.Errorf("ParseSpecifierSet(%q) = %v, want valid", s, err)
		}
	}
	invalid := []string{
		"not a specifier !!", "3.8", ">=", ">=3.8;", "=>3.8", ">=3.8 <4", "~=3", "~=3.8+local",
		">=3.8.*", "~=3.8.*", "==3.8rc1.*", "==3.8.post1.*", "==3.*.*", ">=1.0+local", "<3.x",
		"=== two words", "===a;b", "== 1 .0", "python>=3.8", ">=3.8,bad",
	}
	for _, s := range invalid {
		_, err := ParseSpecifierSet(s)
		if err == nil {
			t.Errorf("ParseSpecifierSet(%q) accepted, want refused", s)
		} else if !errs.Is(err, errs.Invalid) {
			t.Errorf("ParseSpecifierSet(%q): kind %v, want Invalid", s, errs.KindOf(err))
		}
	}
	got, _ := ParseSpecifierSet(" ==3.8.* , >= 3.9")
	if len(got) != 2 || got[0] != (Specifier{Op: "==", Version: "3.8", Wildcard: true}) || got[1] != (Specifier{Op: ">=", Version: "3.9"}) {
		t.Errorf("parsed %+v", got)
	}
}

func FuzzParseSpecifierSet(f *testing.F) {
	for _, s := range []string{">=3.8,<4", "==3.8.*", "~=1.4.5", "===x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set, err := ParseSpecifierSet(s)
		if err != nil {
			return
		}
		for _, sp := range set {
			if sp.Op == "" {
				t.Fatalf("%q: clause without an operator", s)
			}
		}
	})
}
