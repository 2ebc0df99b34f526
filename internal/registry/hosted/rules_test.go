package hosted_test

import (
	"strings"
	"testing"

	"github.com/wharf-dev/wharf/internal/errs"
)

// TestSameBytesUnderAnotherName: PyPI refuses a file whose bytes are
// already stored under another filename; wharf did not, so one wheel could
// be listed three times under spellings of its name, version or build tag.
func TestSameBytesUnderAnotherName(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fn, body := wheel(t, "demo", "1.0", "")
	if _, err := e.upload(t, fn, body, form("demo", "1.0", body)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, version, filename string }{
		{"DEMO", "1.0", "DEMO-1.0-py3-none-any.whl"},
		{"demo", "01.0", "demo-01.0-py3-none-any.whl"},
		{"demo", "1.0", "demo-1.0-1-py3-none-any.whl"},
		{"demo", "1.0", "demo-1.0-py2.py3-none-any.whl"},
	} {
		_, err := e.upload(t, tt.filename, body, form(tt.name, tt.version, body))
		if !errs.Is(err, errs.Invalid) || !strings.HasPrefix(errs.Message(err), "File already exists ('"+fn+"'") {
			t.Errorf("%s: err = %v, want PyPI's File already exists naming %s", tt.filename, err, fn)
		}
	}
	p, err := e.svc.ProjectPage(t.Context(), e.repo, "demo")
	if err != nil || len(p.Files) != 1 {
		t.Fatalf("files after refusals: %+v, %v", p.Files, err)
	}
}

// TestRequiresPythonValidated: Requires-Python, from the form or from the
// wheel's metadata, must be a PEP 440 specifier set.
func TestRequiresPythonValidated(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, field string
		ok          bool
	}{
		{"garbage", "not a specifier !!", false},
		{"no operator", "3.8", false},
		{"wildcard on ordered comparison", ">=3.8.*", false},
		{"valid set", ">=3.8, <4", true},
		{"wildcard", "==3.*", true},
		{"absent: the metadata's", "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			fn, body := wheel(t, "demo", "1.0", "")
			f := form("demo", "1.0", body)
			f["requires_python"] = []string{tt.field}
			res, err := e.upload(t, fn, body, f)
			switch {
			case tt.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case !tt.ok && (!errs.Is(err, errs.Invalid) || !strings.Contains(errs.Message(err), "invalid value for Requires-Python")):
				t.Fatalf("err = %v, want Requires-Python refused", err)
			case tt.ok && tt.field == "" && res.File.RequiresPython != ">=3.8":
				t.Errorf("RequiresPython = %q, want the metadata's >=3.8", res.File.RequiresPython)
			}
		})
	}
}
