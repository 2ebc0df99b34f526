package glob

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMatch(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		pat, s string
		want   bool
	}{
		{"", "", true}, {"", "a", false}, {"*", "", true}, {"*", "anything", true},
		{"acme-*", "acme-widgets", true}, {"acme-*", "acme-", true}, {"acme-*", "acm", false},
		{"*-core", "acme-core", true}, {"*-core", "acme-cores", false},
		{"a*b*c", "aXbYc", true}, {"a*b*c", "abc", true}, {"a*b*c", "acb", false},
		{"exact", "exact", true}, {"exact", "exacT", false}, {"**", "x", true},
	} {
		if got := Match(tt.pat, tt.s); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pat, tt.s, got, tt.want)
		}
	}
}

// FuzzMatch compares with the equivalent regular expression.
func FuzzMatch(f *testing.F) {
	f.Add("a*b", "axxb")
	f.Add("*x*", "yxy")
	f.Fuzz(func(t *testing.T, pat, s string) {
		if !utf8.ValidString(pat) || !utf8.ValidString(s) {
			t.Skip("the regexp reference needs UTF-8")
		}
		parts := strings.Split(pat, "*")
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		re := regexp.MustCompile(`^(?s:` + strings.Join(parts, ".*") + `)$`)
		if got, want := Match(pat, s), re.MatchString(s); got != want {
			t.Fatalf("Match(%q, %q) = %v, regexp says %v", pat, s, got, want)
		}
	})
}
