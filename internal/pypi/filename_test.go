package pypi

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wharf-dev/wharf/internal/errs"
)

func TestParseFilename(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Dist
	}{
		{"requests-2.31.0-py3-none-any.whl", Dist{Kind: WheelDist, Ext: ".whl", Name: "requests", Version: "2.31.0",
			PythonTag: "py3", ABITag: "none", PlatformTag: "any"}},
		{"foo_bar-1.0-1-py2.py3-none-any.whl", Dist{Kind: WheelDist, Ext: ".whl", Name: "foo_bar", Version: "1.0",
			Build: "1", PythonTag: "py2.py3", ABITag: "none", PlatformTag: "any"}},
		{"numpy-2.0.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", Dist{Kind: WheelDist, Ext: ".whl",
			Name: "numpy", Version: "2.0.0", PythonTag: "cp312", ABITag: "cp312",
			PlatformTag: "manylinux_2_17_x86_64.manylinux2014_x86_64"}},
		{"Foo.Bar-1.0rc1+local.1-123abc-cp39-abi3-win_amd64.whl", Dist{Kind: WheelDist, Ext: ".whl", Name: "Foo.Bar",
			Version: "1.0rc1+local.1", Build: "123abc", PythonTag: "cp39", ABITag: "abi3", PlatformTag: "win_amd64"}},
		{"foo_bar-1.0.tar.gz", Dist{Kind: SdistDist, Ext: ".tar.gz", Name: "foo_bar", Version: "1.0"}},
		{"Foo_Bar-1.0.tar.gz", Dist{Kind: SdistDist, Ext: ".tar.gz", Name: "Foo_Bar", Version: "1.0", Legacy: true}},
		{"foo-bar-1.0.tar.gz", Dist{Kind: SdistDist, Ext: ".tar.gz", Name: "foo-bar", Version: "1.0", Legacy: true}},
		{"foo-1.0-1.tar.gz", Dist{Kind: SdistDist, Ext: ".tar.gz", Name: "foo-1.0", Version: "1", Legacy: true}},
		{"foo-1.0RC1.tar.gz", Dist{Kind: SdistDist, Ext: ".tar.gz", Name: "foo", Version: "1.0RC1", Legacy: true}},
		{"foo-1.0.zip", Dist{Kind: SdistDist, Ext: ".zip", Name: "foo", Version: "1.0", Legacy: true}},
		{"zope.interface-6.0.tar.gz", Dist{Kind: SdistDist, Ext: ".tar.gz", Name: "zope.interface", Version: "6.0", Legacy: true}},
	}
	for _, tt := range tests {
		got, err := ParseFilename(tt.in)
		if err != nil {
			t.Errorf("ParseFilename(%q): %v", tt.in, err)
			continue
		}
		tt.want.Filename = tt.in
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseFilename(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestParseFilenameErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, wantMsg string }{
		{"foo-1.0.egg", "Invalid file extension"},
		{"foo-1.0.tar.bz2", "Invalid file extension"},
		{"foo-1.0.whl", "wrong number of parts"},
		{"foo-1.0-py3-none.whl", "wrong number of parts"},
		{"foo-1.0-1-2-py3-none-any.whl", "wrong number of parts"},
		{"foo__bar-1.0-py3-none-any.whl", "Invalid project name"},
		{"_foo-1.0-py3-none-any.whl", "Invalid project name"},
		{"foo-1.0.x-py3-none-any.whl", "invalid version"},
		{"foo-1.0-x1-py3-none-any.whl", "Invalid build number"},
		{"foo-1.0--py3-none-any.whl", "Invalid build number"},
		{"foo-1.0-py3-none-.whl", "invalid tag"},
		{"foo-1.0-py3.-none-any.whl", "invalid tag"},
		{"foo-1.0-py3-no+ne-any.whl", "invalid tag"},
		{"foo.tar.gz", "Invalid sdist filename"},
		{"-1.0.tar.gz", "Invalid project name"},
		{"foo-bogus.tar.gz", "invalid version"},
		{"foo-.tar.gz", "invalid version"},
		{"foo- 1.0.tar.gz", "invalid version"},
		{"../foo-1.0.tar.gz", `'/' or '\'`},
		{"", "empty name"},
	}
	for _, tt := range tests {
		_, err := ParseFilename(tt.in)
		if err == nil {
			t.Errorf("ParseFilename(%q) succeeded, want error containing %q", tt.in, tt.wantMsg)
			continue
		}
		if !errs.Is(err, errs.Invalid) {
			t.Errorf("ParseFilename(%q) kind = %v, want Invalid", tt.in, errs.KindOf(err))
		}
		if msg := errs.Message(err); !strings.Contains(msg, tt.wantMsg) || strings.Contains(msg, "\n") {
			t.Errorf("ParseFilename(%q) message = %q, want one line containing %q", tt.in, msg, tt.wantMsg)
		}
	}
}

func TestCheckFilename(t *testing.T) {
	t.Parallel()
	const (
		slash = `Cannot upload a file with '/' or '\' in the name.`
		ctrl  = "Cannot upload a file with non-printable characters (ordinals 0-31) or the DEL character (ordinal 127) in the name."
	)
	tests := []struct{ in, want string }{
		{"foo-1.0.tar.gz", ""},
		{"föö-1.0.tar.gz", ""},
		{strings.Repeat("a", 255), ""},
		{"", "Cannot upload a file with an empty name."},
		{strings.Repeat("a", 256), "Cannot upload a file with a name longer than 255 bytes."},
		{"a/b.whl", slash},
		{`a\b.whl`, slash},
		{"/abs.whl", slash},
		{"a\x00b.whl", ctrl},
		{"a\nb.whl", ctrl},
		{"a\x1fb.whl", ctrl},
		{"a\x7fb.whl", ctrl},
		{"..", "Cannot upload a file with '..' in the name."},
		{"foo..whl", "Cannot upload a file with '..' in the name."},
		{"a\xffb.whl", "Cannot upload a file whose name is not valid UTF-8."},
	}
	for _, tt := range tests {
		err := CheckFilename(tt.in)
		got := ""
		if err != nil {
			got = errs.Message(err)
			if !errs.Is(err, errs.Invalid) {
				t.Errorf("CheckFilename(%q) kind = %v, want Invalid", tt.in, errs.KindOf(err))
			}
		}
		if got != tt.want {
			t.Errorf("CheckFilename(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSdistFilename(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, version, want string }{
		{"Foo.Bar", "1.0", "foo_bar-1.0.tar.gz"},
		{"foo", "1.0RC1", "foo-1.0rc1.tar.gz"},
		{"foo", "not a version", "foo-not a version.tar.gz"},
	}
	for _, tt := range tests {
		if got := SdistFilename(tt.name, tt.version); got != tt.want {
			t.Errorf("SdistFilename(%q, %q) = %q, want %q", tt.name, tt.version, got, tt.want)
		}
	}
	// The canonical form never parses as legacy.
	d, err := ParseFilename(SdistFilename("Zope.Interface", "6.0.POST1"))
	if err != nil || d.Legacy {
		t.Errorf("ParseFilename(SdistFilename(...)) = %+v, %v; want a PEP 625 sdist", d, err)
	}
}

func FuzzParseFilename(f *testing.F) {
	for _, s := range []string{
		"requests-2.31.0-py3-none-any.whl", "foo_bar-1.0-1-py2.py3-none-any.whl", "Foo_Bar-1.0.tar.gz",
		"foo-1.0.zip", "foo-1.0-1.tar.gz", "a-1-b-c-d-e.whl", "../x.whl", "x.tar.gz", "-.zip",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseFilename(s)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("ParseFilename(%q) error kind %v, want Invalid", s, errs.KindOf(err))
			}
			return
		}
		if CheckFilename(s) != nil {
			t.Fatalf("ParseFilename accepted %q, which CheckFilename refuses", s)
		}
		if d.Filename != s || !strings.HasSuffix(s, d.Ext) || !ValidName(d.Name) {
			t.Fatalf("ParseFilename(%q) = %+v: inconsistent", s, d)
		}
		if _, err := ParseVersion(d.Version); err != nil {
			t.Fatalf("ParseFilename(%q) accepted version %q: %v", s, d.Version, err)
		}
		switch d.Kind {
		case WheelDist:
			var parts []string
			for _, p := range []string{d.Name, d.Version, d.Build, d.PythonTag, d.ABITag, d.PlatformTag} {
				if p != "" {
					parts = append(parts, p)
				}
			}
			if got := strings.Join(parts, "-") + ".whl"; got != s {
				t.Fatalf("wheel %q reassembles to %q", s, got)
			}
		case SdistDist:
			if got := d.Name + "-" + d.Version + d.Ext; got != s {
				t.Fatalf("sdist %q reassembles to %q", s, got)
			}
			if !d.Legacy && SdistFilename(d.Name, d.Version) != s {
				t.Fatalf("sdist %q is not legacy but its PEP 625 name is %q", s, SdistFilename(d.Name, d.Version))
			}
		default:
			t.Fatalf("ParseFilename(%q) kind %v", s, d.Kind)
		}
	})
}
