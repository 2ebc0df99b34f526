package pypi

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wharf-dev/wharf/internal/errs"
)

// pep440Order is the ordering example from PEP 440 ("Summary of permitted
// suffixes and relative ordering"), ascending.
var pep440Order = []string{
	"1.dev0",
	"1.0.dev456",
	"1.0a1",
	"1.0a2.dev456",
	"1.0a12.dev456",
	"1.0a12",
	"1.0b1.dev456",
	"1.0b2",
	"1.0b2.post345.dev456",
	"1.0b2.post345",
	"1.0rc1.dev456",
	"1.0rc1",
	"1.0",
	"1.0+abc.5",
	"1.0+abc.7",
	"1.0+5",
	"1.0.post456.dev34",
	"1.0.post456",
	"1.0.15",
	"1.1.dev1",
}

// packagingOrder is packaging's test_version.py VERSIONS list, ascending,
// with the same list again under epoch 1.
var packagingOrder = func() []string {
	base := []string{
		"1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12",
		"1.0b1.dev456", "1.0b2", "1.0b2.post345.dev456", "1.0b2.post345",
		"1.0b2-346", "1.0c1.dev456", "1.0c1", "1.0rc2", "1.0c3", "1.0",
		"1.0.post456.dev34", "1.0.post456", "1.1.dev1", "1.2+123abc",
		"1.2+123abc456", "1.2+abc", "1.2+abc123", "1.2+abc123def",
		"1.2+1234.abc", "1.2+123456", "1.2.r32+123456", "1.2.rev33+123456",
	}
	all := slices.Clone(base)
	for _, v := range base {
		all = append(all, "1!"+v)
	}
	return all
}()

func TestCompareOrder(t *testing.T) {
	t.Parallel()
	for name, list := range map[string][]string{"pep440": pep440Order, "packaging": packagingOrder} {
		vs := make([]Version, len(list))
		for i, s := range list {
			v, err := ParseVersion(s)
			if err != nil {
				t.Fatalf("%s: ParseVersion(%q): %v", name, s, err)
			}
			vs[i] = v
		}
		// Every pair, not just neighbours, so transitivity is checked too.
		for i := range vs {
			for j := range vs {
				want := cmpInt(i, j)
				if got := Compare(vs[i], vs[j]); got != want {
					t.Errorf("%s: Compare(%q, %q) = %d, want %d", name, list[i], list[j], got, want)
				}
			}
		}
	}
}

func TestCompareEqual(t *testing.T) {
	t.Parallel()
	pairs := [][2]string{
		{"1.0", "1.0.0"},
		{"1.0", "1"},
		{"1.0.0.0", "1"},
		{"0!1.0", "1.0"},
		{"1.0a", "1.0a0"},
		{"1.0-1", "1.0.post1"},
		{"1.0+AbC", "1.0+abc"},
		{"1.0+ubuntu-1", "1.0+ubuntu.1"},
		{"1.0+01", "1.0+1"},
		{"1.01", "1.1"},
		{"v1.0", "1.0"},
		{"1.0c1", "1.0rc1"},
		{"1.0.post0", "1.0.post"},
		{"123456789012345678901234567890.1", "123456789012345678901234567890.1.0"},
	}
	for _, p := range pairs {
		a, b := MustParseVersion(p[0]), MustParseVersion(p[1])
		if c := Compare(a, b); c != 0 {
			t.Errorf("Compare(%q, %q) = %d, want 0", p[0], p[1], c)
		}
		if !a.Equal(b) {
			t.Errorf("%q.Equal(%q) = false", p[0], p[1])
		}
	}
	big := []string{"99999999999999999999", "100000000000000000000", "1!0"}
	for i := 0; i+1 < len(big); i++ {
		if c := Compare(MustParseVersion(big[i]), MustParseVersion(big[i+1])); c != -1 {
			t.Errorf("Compare(%q, %q) = %d, want -1", big[i], big[i+1], c)
		}
	}
}

func TestParseVersionNormalize(t *testing.T) {
	t.Parallel()
	// From packaging's test_normalized_versions and test_version_str_repr.
	tests := []struct{ in, want string }{
		{"1.0dev", "1.0.dev0"}, {"1.0.dev", "1.0.dev0"}, {"1.0dev1", "1.0.dev1"},
		{"1.0-dev", "1.0.dev0"}, {"1.0-dev1", "1.0.dev1"}, {"1.0DEV", "1.0.dev0"},
		{"1.0.DEV", "1.0.dev0"}, {"1.0DEV1", "1.0.dev1"}, {"1.0.DEV1", "1.0.dev1"},
		{"1.0-DEV", "1.0.dev0"}, {"1.0-DEV1", "1.0.dev1"}, {"1.0_dev1", "1.0.dev1"},
		{"1.0a", "1.0a0"}, {"1.0.a", "1.0a0"}, {"1.0.a1", "1.0a1"}, {"1.0-a", "1.0a0"},
		{"1.0-a1", "1.0a1"}, {"1.0alpha", "1.0a0"}, {"1.0.alpha", "1.0a0"},
		{"1.0.alpha1", "1.0a1"}, {"1.0-alpha", "1.0a0"}, {"1.0-alpha1", "1.0a1"},
		{"1.0A", "1.0a0"}, {"1.0.A", "1.0a0"}, {"1.0.A1", "1.0a1"}, {"1.0-A", "1.0a0"},
		{"1.0-A1", "1.0a1"}, {"1.0ALPHA", "1.0a0"}, {"1.0.ALPHA1", "1.0a1"},
		{"1.0b", "1.0b0"}, {"1.0.b", "1.0b0"}, {"1.0.b1", "1.0b1"}, {"1.0-b", "1.0b0"},
		{"1.0-b1", "1.0b1"}, {"1.0beta", "1.0b0"}, {"1.0.beta", "1.0b0"},
		{"1.0.beta1", "1.0b1"}, {"1.0-beta", "1.0b0"}, {"1.0-beta1", "1.0b1"},
		{"1.0B", "1.0b0"}, {"1.0BETA1", "1.0b1"},
		{"1.0c", "1.0rc0"}, {"1.0.c", "1.0rc0"}, {"1.0.c1", "1.0rc1"}, {"1.0-c", "1.0rc0"},
		{"1.0-c1", "1.0rc1"}, {"1.0rc", "1.0rc0"}, {"1.0.rc", "1.0rc0"}, {"1.0.rc1", "1.0rc1"},
		{"1.0-rc", "1.0rc0"}, {"1.0-rc1", "1.0rc1"}, {"1.0C", "1.0rc0"}, {"1.0RC1", "1.0rc1"},
		{"1.0pre", "1.0rc0"}, {"1.0.pre1", "1.0rc1"}, {"1.0-preview", "1.0rc0"},
		{"1.0preview1", "1.0rc1"}, {"1.0PREVIEW", "1.0rc0"},
		{"1.0post", "1.0.post0"}, {"1.0.post", "1.0.post0"}, {"1.0post1", "1.0.post1"},
		{"1.0-post", "1.0.post0"}, {"1.0-post1", "1.0.post1"}, {"1.0POST", "1.0.post0"},
		{"1.0.POST1", "1.0.post1"}, {"1.0r", "1.0.post0"}, {"1.0rev", "1.0.post0"},
		{"1.0.r1", "1.0.post1"}, {"1.0.rev1", "1.0.post1"}, {"1.0-r1", "1.0.post1"},
		{"1.0-rev1", "1.0.post1"}, {"1.0R1", "1.0.post1"}, {"1.0REV1", "1.0.post1"},
		{"1.0-1", "1.0.post1"}, {"1.0-5", "1.0.post5"},
		{"1.0+AbC", "1.0+abc"}, {"1.0+ubuntu-1", "1.0+ubuntu.1"}, {"1.0+ubuntu_1", "1.0+ubuntu.1"},
		{"1.0+abc.5", "1.0+abc.5"}, {"1.0+5", "1.0+5"}, {"1.0+007.abc", "1.0+7.abc"},
		{"1.01", "1.1"}, {"1.0a05", "1.0a5"}, {"1.0b07", "1.0b7"}, {"1.0c056", "1.0rc56"},
		{"1.0rc09", "1.0rc9"}, {"1.0.post000", "1.0.post0"}, {"1.1.dev09000", "1.1.dev9000"},
		{"00!1.2", "1.2"}, {"0100!0.0", "100!0.0"},
		{"v1.0", "1.0"}, {"V1.0", "1.0"}, {"   v1.0\t\n", "1.0"},
		{"1.0a1-1", "1.0a1.post1"}, {"1.0a-1", "1.0a1"}, {"1.0a.-1", "1.0a0.post1"},
		{"1.0a..post", "1.0a0.post0"}, {"1.0a-", "1.0a0"}, {"1.0.dev.", "1.0.dev0"}, {"1.0a_dev", "1.0a0.dev0"},
		{"1!2.0b3.post4.dev5+loc.6", "1!2.0b3.post4.dev5+loc.6"},
		{"2012.04.14", "2012.4.14"},
		{"123456789012345678901234567890", "123456789012345678901234567890"},
	}
	for _, tt := range tests {
		v, err := ParseVersion(tt.in)
		if err != nil {
			t.Errorf("ParseVersion(%q): %v", tt.in, err)
			continue
		}
		if got := v.String(); got != tt.want {
			t.Errorf("ParseVersion(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseVersionInvalid(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"", " ", "v", "french toast", "1.0+a+", "1.0++", "1.0+_foobar", "1.0+foo&asd",
		"1.0+1+1", "1.", "1..0", "1.0..a1", "1.0-", "1.0-1-1", "1.0-1a",
		"!1.0", "1!", "1!!1", "1.0+", "1.0+abc.", "1.0.post.dev.x", "1.0 a1",
		"1.0dev1dev", "1.0re", "1.0prev", "a1.0", "1.0-dev-1-x", "1.0\x00",
		"1.0+ÄÖ", "١.٠", // non-ASCII digits are not PEP 440 digits
	} {
		if _, err := ParseVersion(s); err == nil {
			t.Errorf("ParseVersion(%q) succeeded, want error", s)
		} else if !errs.Is(err, errs.Invalid) {
			t.Errorf("ParseVersion(%q) error kind = %v, want Invalid", s, errs.KindOf(err))
		}
	}
}

func TestVersionPredicates(t *testing.T) {
	t.Parallel()
	type preds struct {
		Pre, Post, Dev, Local bool
		Public, Canonical     string
		Release, LocalLabel   string
	}
	tests := []struct {
		in   string
		want preds
	}{
		{"1.0", preds{Public: "1.0", Canonical: "1", Release: "1.0"}},
		{"1.0.dev1", preds{Pre: true, Dev: true, Public: "1.0.dev1", Canonical: "1.dev1", Release: "1.0"}},
		{"1.0a1", preds{Pre: true, Public: "1.0a1", Canonical: "1a1", Release: "1.0"}},
		{"1.0.post1", preds{Post: true, Public: "1.0.post1", Canonical: "1.post1", Release: "1.0"}},
		{"1.0+local", preds{Local: true, Public: "1.0", Canonical: "1+local", Release: "1.0", LocalLabel: "local"}},
		{"1.4.0.0.00.000.0000", preds{Public: "1.4.0.0.0.0.0", Canonical: "1.4", Release: "1.4.0.0.0.0.0"}},
		{"1.40.0", preds{Public: "1.40.0", Canonical: "1.40", Release: "1.40.0"}},
		{"1!1.0", preds{Public: "1!1.0", Canonical: "1!1", Release: "1.0"}},
		{"0", preds{Public: "0", Canonical: "0", Release: "0"}},
		{"0.0", preds{Public: "0.0", Canonical: "0", Release: "0.0"}},
		{"1.10", preds{Public: "1.10", Canonical: "1.10", Release: "1.10"}},
		{"1.0.0+Ab-1", preds{Local: true, Public: "1.0.0", Canonical: "1+ab.1", Release: "1.0.0", LocalLabel: "ab.1"}},
	}
	for _, tt := range tests {
		v := MustParseVersion(tt.in)
		got := preds{v.IsPrerelease(), v.IsPostrelease(), v.IsDevrelease(), v.IsLocal(),
			v.Public(), v.Canonical(), v.Release(), v.Local()}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestParseVersionNoAllocWhenNormal(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() { _, _ = ParseVersion("1.2.3rc1.post2.dev3+abc.4") })
	if allocs != 0 {
		t.Errorf("ParseVersion of a normalised version allocated %v times, want 0", allocs)
	}
}

func TestSortVersions(t *testing.T) {
	t.Parallel()
	got := []string{"2.0", "bogus", "1.0.0", "1.0", "1.0a1", "", "10.0", "1!0.1", "1.0.post1", "1.0.dev0", "abc"}
	SortVersions(got)
	want := []string{"", "abc", "bogus", "1.0.dev0", "1.0a1", "1.0", "1.0.0", "1.0.post1", "2.0", "10.0", "1!0.1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SortVersions (-want +got):\n%s", diff)
	}

	shuffled := slices.Clone(packagingOrder)
	slices.Reverse(shuffled)
	SortVersions(shuffled)
	if diff := cmp.Diff(packagingOrder, shuffled); diff != "" {
		t.Errorf("SortVersions(packaging list) (-want +got):\n%s", diff)
	}
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range pep440Order {
		f.Add(s)
	}
	for _, s := range []string{"1.0a..post", "v1!2.0-1", "1.0+AbC_1-x", " 1.0.DEV\t", "1.0-", "1.0+", "00!01.02rc03"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			return
		}
		n := v.String()
		w, err := ParseVersion(n)
		if err != nil {
			t.Fatalf("%q normalised to %q, which does not parse: %v", s, n, err)
		}
		if w.String() != n {
			t.Fatalf("%q -> %q -> %q: normal form not stable", s, n, w.String())
		}
		if Compare(v, w) != 0 || Compare(w, v) != 0 {
			t.Fatalf("%q and its normal form %q compare unequal", s, n)
		}
		if v != w {
			t.Fatalf("%q and its normal form %q parse to different values:\n%#v\n%#v", s, n, v, w)
		}
		c, err := ParseVersion(v.Canonical())
		if err != nil || Compare(c, v) != 0 {
			t.Fatalf("canonical form %q of %q does not reparse to an equal version (%v)", v.Canonical(), s, err)
		}
		if v.IsLocal() {
			p := MustParseVersion(v.Public())
			if Compare(p, v) != -1 {
				t.Fatalf("public %q does not sort before local %q", p, v)
			}
		}
	})
}

func BenchmarkParseVersion(b *testing.B) {
	for _, s := range []string{"1.26.4", "2.0.0rc1.post2.dev3+local.7", "V1.0-Alpha-1"} {
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseVersion(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCompare(b *testing.B) {
	vs := make([]Version, len(packagingOrder))
	for i, s := range packagingOrder {
		vs[i] = MustParseVersion(s)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = Compare(vs[i%len(vs)], vs[(i+7)%len(vs)])
		i++
	}
}
