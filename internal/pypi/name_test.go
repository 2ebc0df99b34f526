package pypi

import "testing"

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"requests", "requests"},
		{"Django", "django"},
		{"zope.interface", "zope-interface"},
		{"Foo__Bar", "foo-bar"},
		{"foo-_.-bar", "foo-bar"},
		{"foo--bar", "foo-bar"},
		{"a.b_c-d", "a-b-c-d"},
		{"FRIENDLY-BARD", "friendly-bard"},
		{"Friendly.Bard", "friendly-bard"},
		{"friendly_bard", "friendly-bard"},
		{"friendly--bard", "friendly-bard"},
		{"FrIeNdLy-._.-bArD", "friendly-bard"},
		{"-leading", "-leading"},
		{"_leading.", "-leading-"},
		{"", ""},
		{"x", "x"},
		{"ÄÖ", "ÄÖ"}, // only ASCII is folded, as in warehouse's SQL function
	}
	for _, tt := range tests {
		if got := Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNormalizeNoAllocWhenNormal(t *testing.T) {
	name := "already-normal-name"
	allocs := testing.AllocsPerRun(100, func() { _ = Normalize(name) })
	if allocs != 0 {
		t.Errorf("Normalize(%q) allocated %v times, want 0", name, allocs)
	}
}

func TestEscapeName(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"foo", "foo"},
		{"Foo.Bar", "foo_bar"},
		{"foo-bar-baz", "foo_bar_baz"},
		{"Foo__-Bar", "foo_bar"},
	}
	for _, tt := range tests {
		if got := EscapeName(tt.in); got != tt.want {
			t.Errorf("EscapeName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestValidName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want bool
	}{
		{"a", true},
		{"A", true},
		{"0", true},
		{"foo-bar", true},
		{"foo.bar_baz", true},
		{"Foo--Bar", true},
		{"", false},
		{"-foo", false},
		{"foo-", false},
		{"foo_", false},
		{".foo", false},
		{"foo bar", false},
		{"foo+bar", false},
		{"föo", false},
		{"foo/bar", false},
	}
	for _, tt := range tests {
		if got := ValidName(tt.in); got != tt.want {
			t.Errorf("ValidName(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"", "requests", "Foo__Bar", "a.-_b", "-", "ÄÖ-x", "A-B-C"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if Normalize(n) != n {
			t.Fatalf("Normalize not idempotent: %q -> %q -> %q", s, n, Normalize(n))
		}
		if len(n) > len(s) {
			t.Fatalf("Normalize(%q) = %q grew", s, n)
		}
		for i := 0; i < len(n); i++ {
			c := n[i]
			if (c >= 'A' && c <= 'Z') || c == '_' || c == '.' || (c == '-' && i > 0 && n[i-1] == '-') {
				t.Fatalf("Normalize(%q) = %q is not normalised", s, n)
			}
		}
		if ValidName(s) != ValidName(EscapeName(s)) && ValidName(s) {
			t.Fatalf("valid name %q escapes to invalid %q", s, EscapeName(s))
		}
	})
}

func BenchmarkNormalize(b *testing.B) {
	for _, name := range []string{"already-normal", "Zope.Interface_Extra"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Normalize(name)
			}
		})
	}
}
