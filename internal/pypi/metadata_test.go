package pypi

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wharf-dev/wharf/internal/errs"
)

const sampleMetadata = "Metadata-Version: 2.4\r\n" +
	"Name: Sample.Project\r\n" +
	"Version: 1.0.0\r\n" +
	"Summary: A sample\r\n" +
	"  project, folded\r\n" +
	"home-page: https://example.com\r\n" +
	"Author-Email: A <a@example.com>\r\n" +
	"License-Expression: MIT\r\n" +
	"License-File: LICENSE\r\n" +
	"Requires-Python: >=3.9\r\n" +
	"Requires-Dist: requests>=2\r\n" +
	"Requires-Dist: tomli; python_version < \"3.11\"\r\n" +
	"Provides-Extra: test\r\n" +
	"Classifier: Programming Language :: Python :: 3\r\n" +
	"Project-URL: Source, https://example.com/src\r\n" +
	"X-Custom-thing: yes\r\n" +
	"Description-Content-Type: text/markdown\r\n" +
	"\r\n" +
	"# Sample\r\n\r\nLong description.\r\n"

func TestParseMetadata(t *testing.T) {
	t.Parallel()
	m, err := ParseMetadata([]byte(sampleMetadata))
	if err != nil {
		t.Fatal(err)
	}
	want := Metadata{
		MetadataVersion:        "2.4",
		Name:                   "Sample.Project",
		Version:                "1.0.0",
		Summary:                "A sample project, folded",
		Description:            "# Sample\r\n\r\nLong description.\r\n",
		DescriptionContentType: "text/markdown",
		HomePage:               "https://example.com",
		AuthorEmail:            "A <a@example.com>",
		LicenseExpression:      "MIT",
		RequiresPython:         ">=3.9",
		Classifiers:            []string{"Programming Language :: Python :: 3"},
		RequiresDist:           []string{"requests>=2", `tomli; python_version < "3.11"`},
		ProvidesExtra:          []string{"test"},
		ProjectURLs:            []string{"Source, https://example.com/src"},
		LicenseFiles:           []string{"LICENSE"},
		Fields: map[string][]string{
			"Metadata-Version":         {"2.4"},
			"Name":                     {"Sample.Project"},
			"Version":                  {"1.0.0"},
			"Summary":                  {"A sample project, folded"},
			"Home-page":                {"https://example.com"},
			"Author-email":             {"A <a@example.com>"},
			"License-Expression":       {"MIT"},
			"License-File":             {"LICENSE"},
			"Requires-Python":          {">=3.9"},
			"Requires-Dist":            {"requests>=2", `tomli; python_version < "3.11"`},
			"Provides-Extra":           {"test"},
			"Classifier":               {"Programming Language :: Python :: 3"},
			"Project-URL":              {"Source, https://example.com/src"},
			"X-Custom-Thing":           {"yes"},
			"Description-Content-Type": {"text/markdown"},
		},
	}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("ParseMetadata (-want +got):\n%s", diff)
	}
	if got := m.Get("REQUIRES-DIST"); got != "requests>=2" {
		t.Errorf("Get(REQUIRES-DIST) = %q", got)
	}
	if got := m.Values("classifier"); len(got) != 1 {
		t.Errorf("Values(classifier) = %q", got)
	}
	if err := m.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestParseMetadataTolerance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     Metadata // only the fields compared below
	}{
		{"description header with setuptools indentation",
			"Metadata-Version: 1.1\nName: old\nVersion: 0.1\nDescription: Line one\n        Line two\n        \n            indented\n       |piped\nPlatform: UNKNOWN\n",
			Metadata{Description: "Line one\nLine two\n\n    indented\npiped"}},
		{"body wins over description header",
			"Metadata-Version: 2.1\nName: x\nVersion: 1\nDescription: header\n\nbody text",
			Metadata{Description: "body text"}},
		{"no blank line before body",
			"Metadata-Version: 2.1\nName: x\nVersion: 1\nthis is not a header\nmore",
			Metadata{Description: "this is not a header\nmore"}},
		{"bom and mbox from line",
			"\ufeffFrom nobody\nMetadata-Version: 2.1\nName: x\nVersion: 1\n",
			Metadata{}},
		{"folded keywords",
			"Metadata-Version: 2.1\nName: x\nVersion: 1\nKeywords: a,\n\tb\n",
			Metadata{Keywords: "a, b"}},
		{"leading continuation is ignored",
			" stray\nMetadata-Version: 2.1\nName: x\nVersion: 1\nKeywords: a,\n\tb\n",
			Metadata{Keywords: "a, b"}},
		{"empty body",
			"Metadata-Version: 2.1\nName: x\nVersion: 1\n\n",
			Metadata{}},
		{"value with colons and no space",
			"Metadata-Version:2.1\nName:x\nVersion:1\nHome-page:https://h:1/p\n",
			Metadata{HomePage: "https://h:1/p"}},
	}
	for _, tt := range tests {
		m, err := ParseMetadata([]byte(tt.in))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		got := Metadata{Description: m.Description, Keywords: m.Keywords, HomePage: m.HomePage}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestParseMetadataErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"empty", "", "missing the required field Metadata-Version"},
		{"no name", "Metadata-Version: 2.1\nVersion: 1\n", "missing the required field Name"},
		{"empty version", "Metadata-Version: 2.1\nName: x\nVersion:\n", "missing the required field Version"},
		{"name after body", "Metadata-Version: 2.1\nVersion: 1\n\nName: x\n", "missing the required field Name"},
		{"two names", "Metadata-Version: 2.1\nName: x\nName: y\nVersion: 1\n", "more than one Name"},
		{"not utf-8", "Metadata-Version: 2.1\nName: \xff\nVersion: 1\n", "not valid UTF-8"},
		{"too large", "Metadata-Version: 2.1\nName: x\nVersion: 1\n\n" + strings.Repeat("x", MaxMetadataSize), "larger than 1024 KiB"},
	}
	for _, tt := range tests {
		_, err := ParseMetadata([]byte(tt.in))
		if err == nil {
			t.Errorf("%s: no error, want %q", tt.name, tt.want)
			continue
		}
		if !errs.Is(err, errs.Invalid) || !strings.Contains(errs.Message(err), tt.want) {
			t.Errorf("%s: error %v (kind %v), want Invalid containing %q", tt.name, err, errs.KindOf(err), tt.want)
		}
	}
}

func TestMetadataValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		m    Metadata
		want string
	}{
		{Metadata{MetadataVersion: "2.1", Name: "ok", Version: "1.0"}, ""},
		{Metadata{MetadataVersion: "2.5", Name: "ok", Version: "1.0+local"}, ""},
		{Metadata{MetadataVersion: "3.0", Name: "ok", Version: "1.0"}, "'3.0' is an invalid value for Metadata-Version."},
		{Metadata{MetadataVersion: "2.1", Name: "-bad", Version: "1.0"}, "'-bad' is an invalid value for Name."},
		{Metadata{MetadataVersion: "2.1", Name: "ok", Version: "one"}, "'one' is an invalid value for Version."},
	}
	for _, tt := range tests {
		err := tt.m.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Validate(%+v) = %v", tt.m, err)
		case tt.want != "" && (err == nil || !strings.HasPrefix(errs.Message(err), tt.want)):
			t.Errorf("Validate(%+v) = %v, want prefix %q", tt.m, err, tt.want)
		}
	}
}

func TestFieldName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"home-page": "Home-page", "PROJECT-URL": "Project-URL", "x-foo-bar": "X-Foo-Bar",
		"author-email": "Author-email", "Dynamic": "Dynamic", "weird_name": "Weird_name",
	} {
		if got := FieldName(in); got != want {
			t.Errorf("FieldName(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseMetadata(f *testing.F) {
	f.Add([]byte(sampleMetadata))
	f.Add([]byte("Metadata-Version: 1.0\nName: a\nVersion: 1\nDescription: x\n        y\n"))
	f.Add([]byte("Metadata-Version: 2.1\n Name: a\nVersion: 1\n\r\n"))
	f.Add([]byte("\ufeffFrom x\n:\n \n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMetadata(b)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("error kind %v, want Invalid: %v", errs.KindOf(err), err)
			}
			return
		}
		if m.Name == "" || m.Version == "" || m.MetadataVersion == "" {
			t.Fatalf("accepted metadata without a required field: %+v", m)
		}
		if m.Name != m.Get("name") || m.Version != m.Get("VERSION") {
			t.Fatalf("Get disagrees with the struct fields: %+v", m)
		}
		for k := range m.Fields {
			if FieldName(k) != k {
				t.Fatalf("field key %q is not canonical (%q)", k, FieldName(k))
			}
		}
	})
}

// TestParseMetadataLinear guards against quadratic unfolding: a megabyte
// of one-character continuation lines must parse quickly.
func TestParseMetadataLinear(t *testing.T) {
	t.Parallel()
	in := "Metadata-Version: 2.1\nName: x\nVersion: 1\nKeywords: k\n" + strings.Repeat(" a\n", (MaxMetadataSize-60)/3)
	m, err := ParseMetadata([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if want := (MaxMetadataSize-60)/3*2 + 1; len(m.Keywords) != want {
		t.Errorf("len(Keywords) = %d, want %d", len(m.Keywords), want)
	}
}

func BenchmarkParseMetadata(b *testing.B) {
	in := []byte(sampleMetadata)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseMetadata(in); err != nil {
			b.Fatal(err)
		}
	}
}
