package pypi_test

import (
	"strings"
	"testing"

	"github.com/wharf-dev/wharf/internal/pypi"
)

const (
	acceptPip     = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
	acceptUV      = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
	acceptFirefox = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	acceptChrome  = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
	jsonV1        = "application/vnd.pypi.simple.v1+json"
	htmlV1        = "application/vnd.pypi.simple.v1+html"
)

func TestNegotiate(t *testing.T) {
	t.Parallel()
	const notOK = pypi.Format(255) // marks "want ok=false"; the format is then not checked
	for _, tt := range []struct {
		name   string
		accept string
		format string
		want   pypi.Format
	}{
		// Real clients.
		{"pip", acceptPip, "", pypi.JSONv1},
		{"uv", acceptUV, "", pypi.JSONv1},
		{"pip before PEP 691", "text/html", "", pypi.HTML},
		{"firefox", acceptFirefox, "", pypi.HTML},
		{"chrome", acceptChrome, "", pypi.HTML},
		{"curl", "*/*", "", pypi.HTML},
		{"no header", "", "", pypi.HTML},
		{"blank header", " \t ", "", pypi.HTML},

		// Exact types, aliases, case.
		{"v1 json", jsonV1, "", pypi.JSONv1},
		{"v1 html", htmlV1, "", pypi.HTMLv1},
		{"latest json", "application/vnd.pypi.simple.latest+json", "", pypi.JSONv1},
		{"latest html", "application/vnd.pypi.simple.latest+html", "", pypi.HTMLv1},
		{"case-insensitive", "Application/VND.PyPI.Simple.V1+JSON", "", pypi.JSONv1},
		{"text/html upper", "TEXT/HTML", "", pypi.HTML},

		// Wildcards and server preference on ties.
		{"application wildcard prefers v1 html", "application/*", "", pypi.HTMLv1},
		{"text wildcard", "text/*", "", pypi.HTML},
		{"wildcard below json", "*/*;q=0.1, " + jsonV1, "", pypi.JSONv1},
		{"equal q prefers html", jsonV1 + ", text/html", "", pypi.HTML},
		{"json higher than html", "text/html;q=0.5, " + jsonV1 + ";q=0.6", "", pypi.JSONv1},
		{"three decimals decide", "text/html;q=0.001, " + jsonV1 + ";q=0.002", "", pypi.JSONv1},

		// q=0 excludes, the most specific range decides.
		{"star q0", "*/*;q=0", "", notOK},
		{"exclude text/html", "text/html;q=0, */*", "", pypi.HTMLv1},
		{"exclude both html", "text/html;q=0, " + htmlV1 + ";q=0, */*", "", pypi.JSONv1},
		{"exact q0 beats type wildcard", "application/*;q=0.5, " + jsonV1 + ";q=0", "", pypi.HTMLv1},
		{"exact q0 beats star", "*/*, text/html;q=0, " + htmlV1 + ";q=0, " + jsonV1 + ";q=0", "", notOK},
		{"alias gives the better q", jsonV1 + ";q=0, application/vnd.pypi.simple.latest+json;q=0.5", "", pypi.JSONv1},
		{"q zero with dot", jsonV1 + ";q=0.000", "", notOK},
		{"q one with zeros", "text/html;q=0.9, " + jsonV1 + ";q=1.000", "", pypi.JSONv1},
		{"q one dot", "text/html;q=0.9, " + jsonV1 + ";q=1.", "", pypi.JSONv1},

		// Nothing we serve.
		{"plain json", "application/json", "", notOK},
		{"text plain", "text/plain", "", notOK},
		{"v2", "application/vnd.pypi.simple.v2+json", "", notOK},
		{"xhtml only", "application/xhtml+xml", "", notOK},

		// Parameters and list syntax.
		{"empty elements", ",,, " + jsonV1 + " ,", "", pypi.JSONv1},
		{"tabs", jsonV1 + "\t;\tq=0.5,\ttext/html;q=0.4", "", pypi.JSONv1},
		{"empty parameters", jsonV1 + ";;q=0.9;", "", pypi.JSONv1},
		{"other parameters ignored", "text/html;level=1;q=0.2, " + jsonV1 + ";charset=utf-8;q=0.3", "", pypi.JSONv1},
		{"quoted comma", jsonV1 + `;x="a,b;q=0";q=0.9, text/html;q=0.5`, "", pypi.JSONv1},
		{"quoted escape", jsonV1 + `;x="a\"b,";q=0.9, text/html;q=0.5`, "", pypi.JSONv1},
		{"upper Q", jsonV1 + "; Q=0.9, text/html; q=0.95", "", pypi.HTML},

		// Malformed elements are skipped; a header with nothing valid is
		// treated as absent.
		{"bad q skipped", jsonV1 + ";q=abc, text/html;q=0.1", "", pypi.HTML},
		{"q above one skipped", jsonV1 + ";q=1.5, text/html;q=0.1", "", pypi.HTML},
		{"q one with digits skipped", jsonV1 + ";q=1.01, text/html;q=0.1", "", pypi.HTML},
		{"q four decimals skipped", jsonV1 + ";q=0.0001, text/html;q=0.1", "", pypi.HTML},
		{"quoted q skipped", jsonV1 + `;q="0.5", text/html;q=0.1`, "", pypi.HTML},
		{"empty q skipped", jsonV1 + ";q=, text/html;q=0.1", "", pypi.HTML},
		{"negative q skipped", jsonV1 + ";q=-1, text/html;q=0.1", "", pypi.HTML},
		{"parameter without value skipped", jsonV1 + ";level, text/html;q=0.1", "", pypi.HTML},
		{"space before equals skipped", jsonV1 + ";q =0.5, text/html;q=0.1", "", pypi.HTML},
		{"unclosed quote skipped", jsonV1 + `;x="abc`, "", pypi.HTML},
		{"star subtype on type skipped", "*/json", "", pypi.HTML},
		{"missing subtype", "application/", "", pypi.HTML},
		{"missing slash", "json", "", pypi.HTML},
		{"garbage after type", "text/html garbage, " + jsonV1 + ";q=0.5", "", pypi.JSONv1},
		{"only garbage", "garbage; q=1", "", pypi.HTML},
		{"bad q but valid other rejects", jsonV1 + ";q=2, application/json", "", notOK},

		// ?format= overrides Accept, with the same syntax, but strictly.
		{"format json over browser", acceptFirefox, jsonV1, pypi.JSONv1},
		{"format html over pip", acceptPip, "text/html", pypi.HTML},
		{"format v1 html", acceptPip, htmlV1, pypi.HTMLv1},
		{"format latest", "", "application/vnd.pypi.simple.latest+json", pypi.JSONv1},
		{"format list", "", "text/html;q=0.1, " + jsonV1, pypi.JSONv1},
		{"format plus decoded as space", acceptFirefox, "application/vnd.pypi.simple.v1 json", pypi.JSONv1},
		{"format latest plus decoded as space", "", "application/vnd.pypi.simple.latest html", pypi.HTMLv1},
		{"format spaces around separators kept", "", "text/html ; q=0.1 , application/vnd.pypi.simple.v1 json", pypi.JSONv1},
		{"space in Accept not repaired", "application/vnd.pypi.simple.v1 json, text/html;q=0.1", "", pypi.HTML},
		{"format short name refused", acceptPip, "json", notOK},
		{"format unknown type refused", acceptPip, "application/json", notOK},
		{"format garbage refused", "", ";;", notOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := pypi.Negotiate(tt.accept, tt.format)
			if tt.want == notOK {
				if ok {
					t.Errorf("Negotiate(%q, %q) = %v, true; want ok = false (406)", tt.accept, tt.format, got)
				}
				return
			}
			if !ok || got != tt.want {
				t.Errorf("Negotiate(%q, %q) = %v, %v; want %v, true", tt.accept, tt.format, got, ok, tt.want)
			}
		})
	}
}

// TestNegotiateTokenChars checks every byte against RFC 9110's tchar: a type
// made of token characters parses (and, matching nothing, gives 406); any
// other byte makes the only element malformed, so the header counts as
// absent and gives HTML.
func TestNegotiateTokenChars(t *testing.T) {
	t.Parallel()
	const tchar = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	for c := range 256 {
		h := "x" + string(byte(c)) + "/y"
		_, ok := pypi.Negotiate(h, "")
		if isToken := strings.IndexByte(tchar, byte(c)) >= 0; ok == isToken {
			t.Errorf("Negotiate(%q) ok = %v; byte %#x is a token character: %v", h, ok, c, isToken)
		}
	}
}

func TestFormatContentType(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		f      pypi.Format
		want   string
		isJSON bool
	}{
		{pypi.HTML, "text/html", false},
		{pypi.HTMLv1, htmlV1, false},
		{pypi.JSONv1, jsonV1, true},
	} {
		if got := tt.f.ContentType(); got != tt.want {
			t.Errorf("%d.ContentType() = %q, want %q", tt.f, got, tt.want)
		}
		if got := tt.f.String(); got != tt.want {
			t.Errorf("%d.String() = %q, want %q", tt.f, got, tt.want)
		}
		if got := tt.f.IsJSON(); got != tt.isJSON {
			t.Errorf("%d.IsJSON() = %v, want %v", tt.f, got, tt.isJSON)
		}
		// What we send is what we understand back.
		if got, ok := pypi.Negotiate(tt.want, ""); !ok || got != tt.f {
			t.Errorf("Negotiate(%q) = %v, %v; want %v, true", tt.want, got, ok, tt.f)
		}
	}
}

func TestNegotiateAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts are checked in full runs")
	}
	for _, h := range []string{acceptPip, acceptUV, acceptFirefox, acceptChrome, "*/*", ""} {
		if n := testing.AllocsPerRun(100, func() { pypi.Negotiate(h, "") }); n != 0 {
			t.Errorf("Negotiate(%q): %v allocations, want 0", h, n)
		}
	}
}

func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{acceptPip, acceptUV, acceptChrome, "*/*", "", `a/b;x="\"`, "text/html;q=0.5;;"} {
		f.Add(s, "")
	}
	f.Add("", jsonV1)
	f.Fuzz(func(t *testing.T, accept, format string) {
		got, ok := pypi.Negotiate(accept, format)
		if !ok {
			return
		}
		switch got {
		case pypi.HTML, pypi.HTMLv1, pypi.JSONv1:
		default:
			t.Fatalf("Negotiate(%q, %q) = %d, an unknown format", accept, format, got)
		}
	})
}

func BenchmarkNegotiate(b *testing.B) {
	for _, bb := range []struct{ name, accept string }{
		{"pip", acceptPip},
		{"uv", acceptUV},
		{"chrome", acceptChrome},
		{"curl", "*/*"},
		{"none", ""},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				pypi.Negotiate(bb.accept, "")
			}
		})
	}
}
