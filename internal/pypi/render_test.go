package pypi_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"html"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/pypi"
)

// update is the only flag of this package's tests; other golden tests in
// the package reuse it rather than registering "update" again.
var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

const (
	shaSdist   = "0f343b0931126a20f133d67c2b018a3b1e3fc7a3a5d8e8e8f0e9a4c1b2d3e4f5"
	shaWheel   = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
	shaWheelMD = "1111111111111111111111111111111111111111111111111111111111111111"
	shaSdist10 = "2222222222222222222222222222222222222222222222222222222222222222"
	shaRC      = "3333333333333333333333333333333333333333333333333333333333333333"
	shaRCMD    = "4444444444444444444444444444444444444444444444444444444444444444"
)

func fileURL(sha, filename string) string {
	return "../../files/" + sha + "/" + filename
}

// samplePage covers every attribute combination: no metadata and no
// requires-python, yanked with a reason that needs escaping, yanked without
// a reason, a URL with a query string, an upload time outside UTC and none
// at all, and a non-ASCII display name.
func samplePage() pypi.ProjectPage {
	cet := time.FixedZone("CET", 3600)
	return pypi.ProjectPage{
		Name:        "zurich-tools",
		DisplayName: "Zürich_Tools",
		Versions:    []string{"0.9", "1.0", "1.1rc1"},
		LastSerial:  42,
		Files: []pypi.FileEntry{{
			Filename:   "zurich_tools-0.9.tar.gz",
			URL:        fileURL(shaSdist, "zurich_tools-0.9.tar.gz"),
			SHA256:     shaSdist,
			Size:       12345,
			UploadTime: time.Date(2024, 3, 1, 12, 30, 45, 123456789, time.UTC),
			Version:    "0.9",
		}, {
			Filename:           "zurich_tools-1.0-py3-none-any.whl",
			URL:                fileURL(shaWheel, "zurich_tools-1.0-py3-none-any.whl"),
			SHA256:             shaWheel,
			RequiresPython:     ">=3.8",
			Yanked:             true,
			YankedReason:       `broken "import" <b>&</b> it's bad`,
			CoreMetadataSHA256: shaWheelMD,
			Size:               2048,
			UploadTime:         time.Date(2024, 4, 2, 1, 0, 0, 5000, cet),
			Version:            "1.0",
		}, {
			Filename:       "zurich_tools-1.0.tar.gz",
			URL:            fileURL(shaSdist10, "zurich_tools-1.0.tar.gz"),
			SHA256:         shaSdist10,
			RequiresPython: "<4,>=3.8",
			Yanked:         true,
			Size:           4096,
			UploadTime:     time.Date(2024, 4, 2, 0, 0, 1, 0, time.UTC),
			Version:        "1.0",
		}, {
			Filename:           "zurich_tools-1.1rc1-py3-none-any.whl",
			URL:                fileURL(shaRC, "zurich_tools-1.1rc1-py3-none-any.whl") + "?a=1&b=2",
			SHA256:             shaRC,
			RequiresPython:     ">=3.10",
			CoreMetadataSHA256: shaRCMD,
			Size:               1,
			Version:            "1.1rc1",
		}},
	}
}

func sampleList() pypi.ProjectList {
	return pypi.ProjectList{Projects: []pypi.ProjectEntry{
		{Name: "Flask", Normalized: "flask", LastSerial: 7},
		{Name: "zope.interface", Normalized: "zope-interface", LastSerial: 19},
		{Name: "Zürich_Tools", Normalized: "zurich-tools", LastSerial: 42},
		{Name: "a<b>&\"c'", Normalized: "a-b-c", LastSerial: 3},
	}}
}

type renderer struct {
	name   string
	render func(*bytes.Buffer)
	append func([]byte) []byte
}

func renderers(l pypi.ProjectList, p pypi.ProjectPage, prefix string) []renderer {
	return []renderer{
		{prefix + "list.html", func(b *bytes.Buffer) { pypi.RenderProjectListHTML(b, l) }, func(d []byte) []byte { return pypi.AppendProjectListHTML(d, l) }},
		{prefix + "list.json", func(b *bytes.Buffer) { pypi.RenderProjectListJSON(b, l) }, func(d []byte) []byte { return pypi.AppendProjectListJSON(d, l) }},
		{prefix + "project.html", func(b *bytes.Buffer) { pypi.RenderProjectHTML(b, p) }, func(d []byte) []byte { return pypi.AppendProjectHTML(d, p) }},
		{prefix + "project.json", func(b *bytes.Buffer) { pypi.RenderProjectJSON(b, p) }, func(d []byte) []byte { return pypi.AppendProjectJSON(d, p) }},
	}
}

func TestRenderGolden(t *testing.T) {
	t.Parallel()
	all := append(renderers(sampleList(), samplePage(), ""),
		renderers(pypi.ProjectList{}, pypi.ProjectPage{Name: "empty"}, "empty_")...)
	for _, r := range all {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			r.render(&buf)
			checkGolden(t, r.name, buf.Bytes())

			// Render appends after what the buffer holds, and Append agrees.
			var prefixed bytes.Buffer
			prefixed.WriteString("prefix")
			r.render(&prefixed)
			if got, want := prefixed.String(), "prefix"+buf.String(); got != want {
				t.Errorf("Render after existing content = %q, want %q", got, want)
			}
			if got := r.append([]byte("x")); string(got) != "x"+buf.String() {
				t.Errorf("Append = %q, want %q", got, "x"+buf.String())
			}
			if strings.HasSuffix(r.name, ".json") && !json.Valid(buf.Bytes()) {
				t.Errorf("invalid JSON: %s", buf.Bytes())
			}
		})
	}
}

// TestRenderProjectHTMLAttributes checks the rules the golden file encodes,
// so that a careless -update cannot bless a broken page.
func TestRenderProjectHTMLAttributes(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	pypi.RenderProjectHTML(&buf, samplePage())
	lines := strings.Split(buf.String(), "\n")
	anchors := map[string]string{} // filename -> line
	for _, l := range lines {
		if strings.HasPrefix(l, "<a ") {
			name := l[strings.Index(l, ">")+1 : strings.Index(l, "</a>")]
			anchors[name] = l
		}
	}
	for _, tt := range []struct {
		file      string
		want      []string
		wantNot   []string
		wantCount int
	}{{
		file: "zurich_tools-0.9.tar.gz",
		want: []string{`href="../../files/` + shaSdist + `/zurich_tools-0.9.tar.gz#sha256=` + shaSdist + `"`},
		wantNot: []string{
			"data-requires-python", "data-yanked", "data-core-metadata", "data-dist-info-metadata",
		},
	}, {
		file: "zurich_tools-1.0-py3-none-any.whl",
		want: []string{
			`data-requires-python="&gt;=3.8"`,
			`data-yanked="broken &#34;import&#34; &lt;b&gt;&amp;&lt;/b&gt; it&#39;s bad"`,
			`data-core-metadata="sha256=` + shaWheelMD + `"`,
		},
		wantNot: []string{"data-dist-info-metadata"},
	}, {
		file:    "zurich_tools-1.0.tar.gz",
		want:    []string{`data-yanked=""`, `data-requires-python="&lt;4,&gt;=3.8"`},
		wantNot: []string{"data-core-metadata"},
	}, {
		file:    "zurich_tools-1.1rc1-py3-none-any.whl",
		want:    []string{`?a=1&amp;b=2#sha256=` + shaRC + `"`},
		wantNot: []string{"data-yanked"},
	}} {
		line, ok := anchors[tt.file]
		if !ok {
			t.Errorf("no anchor for %s in\n%s", tt.file, buf.String())
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(line, w) {
				t.Errorf("%s: anchor %q lacks %q", tt.file, line, w)
			}
		}
		for _, w := range tt.wantNot {
			if strings.Contains(line, w) {
				t.Errorf("%s: anchor %q has %q", tt.file, line, w)
			}
		}
	}
	for _, w := range []string{
		`<meta name="pypi:repository-version" content="1.1">`,
		"<title>Links for Zürich_Tools</title>",
		"<h1>Links for Zürich_Tools</h1>",
	} {
		if !strings.Contains(buf.String(), w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func TestRenderProjectListHTMLRelativeLinks(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	pypi.RenderProjectListHTML(&buf, sampleList())
	for _, w := range []string{
		`<meta name="pypi:repository-version" content="1.1">`,
		`<a href="flask/">Flask</a>`,
		`<a href="zope-interface/">zope.interface</a>`,
		`<a href="a-b-c/">a&lt;b&gt;&amp;&#34;c&#39;</a>`,
	} {
		if !strings.Contains(buf.String(), w) {
			t.Errorf("page lacks %q:\n%s", w, buf.String())
		}
	}
}

// The JSON tests decode with encoding/json, so they check what clients see
// rather than bytes.

type jsonList struct {
	Meta     jsonMeta `json:"meta"`
	Projects []struct {
		Name       string `json:"name"`
		LastSerial int64  `json:"_last-serial"`
	} `json:"projects"`
}

type jsonMeta struct {
	APIVersion string `json:"api-version"`
	LastSerial int64  `json:"_last-serial"`
}

func TestRenderProjectListJSONDecodes(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := sampleList()
	pypi.RenderProjectListJSON(&buf, l)
	var got jsonList
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%v in %s", err, buf.Bytes())
	}
	want := jsonList{Meta: jsonMeta{APIVersion: "1.1", LastSerial: 42}}
	for _, p := range l.Projects {
		want.Projects = append(want.Projects, struct {
			Name       string `json:"name"`
			LastSerial int64  `json:"_last-serial"`
		}{p.Name, p.LastSerial})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded list (-want +got):\n%s", diff)
	}
}

func TestRenderProjectJSONDecodes(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	pypi.RenderProjectJSON(&buf, samplePage())
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%v in %s", err, buf.Bytes())
	}
	file := func(name, sha string, size float64, rp any, upload any, yanked, md any) map[string]any {
		f := map[string]any{
			"filename":        name,
			"url":             fileURL(sha, name),
			"hashes":          map[string]any{"sha256": sha},
			"requires-python": rp,
			"size":            size,
			"yanked":          yanked,
			"core-metadata":   md,
		}
		if upload != nil {
			f["upload-time"] = upload
		}
		return f
	}
	rc := file("zurich_tools-1.1rc1-py3-none-any.whl", shaRC, 1, ">=3.10", nil, false, map[string]any{"sha256": shaRCMD})
	rc["url"] = rc["url"].(string) + "?a=1&b=2"
	want := map[string]any{
		"meta":     map[string]any{"api-version": "1.1", "_last-serial": float64(42)},
		"name":     "zurich-tools",
		"versions": []any{"0.9", "1.0", "1.1rc1"},
		"files": []any{
			file("zurich_tools-0.9.tar.gz", shaSdist, 12345, nil, "2024-03-01T12:30:45.123456Z", false, false),
			file("zurich_tools-1.0-py3-none-any.whl", shaWheel, 2048, ">=3.8", "2024-04-02T00:00:00.000005Z",
				`broken "import" <b>&</b> it's bad`, map[string]any{"sha256": shaWheelMD}),
			file("zurich_tools-1.0.tar.gz", shaSdist10, 4096, "<4,>=3.8", "2024-04-02T00:00:01.000000Z", true, false),
			rc,
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded project (-want +got):\n%s", diff)
	}
	// PEP 714: pip fails on the old key, so it must never appear in JSON.
	if bytes.Contains(buf.Bytes(), []byte("dist-info-metadata")) {
		t.Errorf("JSON contains dist-info-metadata: %s", buf.Bytes())
	}
}

func TestRenderProjectJSONEmptyHashesAndDisplayName(t *testing.T) {
	t.Parallel()
	p := pypi.ProjectPage{Name: "x", Files: []pypi.FileEntry{{Filename: "x-1.tar.gz", URL: "x-1.tar.gz"}}}
	var buf bytes.Buffer
	pypi.RenderProjectJSON(&buf, p)
	if want := `"hashes":{}`; !strings.Contains(buf.String(), want) {
		t.Errorf("got %s, want it to contain %s", buf.String(), want)
	}
	buf.Reset()
	pypi.RenderProjectHTML(&buf, p)
	for _, w := range []string{"<title>Links for x</title>", `<a href="x-1.tar.gz">x-1.tar.gz</a>`} {
		if !strings.Contains(buf.String(), w) {
			t.Errorf("HTML lacks %q:\n%s", w, buf.String())
		}
	}
}

// jsonName renders s as a project name and returns the encoded string as
// it appears in the list document.
func jsonName(s string) string {
	b := pypi.AppendProjectListJSON(nil, pypi.ProjectList{Projects: []pypi.ProjectEntry{{Name: s}}})
	const pre = `{"meta":{"api-version":"1.1","_last-serial":0},"projects":[{"name":`
	const post = `,"_last-serial":0}]}`
	return strings.TrimSuffix(strings.TrimPrefix(string(b), pre), post)
}

func htmlName(s string) string {
	b := pypi.AppendProjectListHTML(nil, pypi.ProjectList{Projects: []pypi.ProjectEntry{{Name: s, Normalized: "n"}}})
	_, after, _ := strings.Cut(string(b), `<a href="n/">`)
	before, _, _ := strings.Cut(after, "</a>\n</body>")
	return before
}

func randomString(r *rand.Rand) string {
	// Weighted towards the characters escapers get wrong.
	pieces := []string{
		"a", "Z", "0", " ", "-", "<", ">", "&", `"`, `\`, "'", "/", "\x00", "\x01", "\b", "\f",
		"\n", "\r", "\t", "\x1f", "\x7f", "é", "€", "😀", "\u2028", "\u2029", "\ufffd",
		"\xff", "\xc3", "\xe2\x82", "\xed\xa0\x80", "\xf4\x90\x80\x80",
	}
	var sb strings.Builder
	for range r.IntN(24) {
		if r.IntN(4) == 0 {
			sb.WriteByte(byte(r.IntN(256)))
		} else {
			sb.WriteString(pieces[r.IntN(len(pieces))])
		}
	}
	return sb.String()
}

func TestJSONEscapingMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for c := range 256 {
		s := "a" + string(byte(c)) + "b"
		if want, _ := json.Marshal(s); jsonName(s) != string(want) {
			t.Errorf("byte %#x: name %q encodes as %s, encoding/json gives %s", c, s, jsonName(s), want)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		s := randomString(r)
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := jsonName(s); got != string(want) {
			t.Fatalf("case %d: name %q encodes as %s, encoding/json gives %s", i, s, got, want)
		}
	}
}

func TestHTMLEscapingMatchesHTMLEscapeString(t *testing.T) {
	t.Parallel()
	for c := range 256 {
		s := "a" + string(byte(c)) + "b"
		if got, want := htmlName(s), html.EscapeString(s); got != want {
			t.Errorf("byte %#x: name %q escapes as %q, html.EscapeString gives %q", c, s, got, want)
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 20000 {
		s := randomString(r)
		if got, want := htmlName(s), html.EscapeString(s); got != want {
			t.Fatalf("case %d: name %q escapes as %q, html.EscapeString gives %q", i, s, got, want)
		}
	}
}

// TestUploadTimeMatchesAppendFormat checks the hand-written time formatter
// against time.Format for random instants in and around the years uploads
// can have, in zones other than UTC.
func TestUploadTimeMatchesAppendFormat(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	zones := []*time.Location{time.UTC, time.FixedZone("E", 5*3600+1800), time.FixedZone("W", -11*3600)}
	times := []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 29, 23, 59, 59, 999, zones[2]),
	}
	for range 5000 {
		sec := r.Int64N(400*365*86400) - 30*365*86400 // 1940 to 2340
		times = append(times, time.Unix(sec, r.Int64N(1e9)).In(zones[r.IntN(len(zones))]))
	}
	for _, tm := range times {
		p := pypi.ProjectPage{Name: "p", Files: []pypi.FileEntry{{Filename: "f", URL: "f", UploadTime: tm}}}
		b := pypi.AppendProjectJSON(nil, p)
		_, after, _ := strings.Cut(string(b), `"upload-time":"`)
		got, _, _ := strings.Cut(after, `"`)
		if want := tm.UTC().Format("2006-01-02T15:04:05.000000Z"); got != want {
			t.Errorf("upload time %v renders as %q, want %q", tm, got, want)
		}
	}
}

func FuzzJSONEscaping(f *testing.F) {
	for _, s := range []string{"", "flask", "<>&", "\u2028\xff", "a\"b\\c\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := jsonName(s); got != string(want) {
			t.Errorf("name %q encodes as %s, encoding/json gives %s", s, got, want)
		}
		if got := htmlName(s); got != html.EscapeString(s) {
			t.Errorf("name %q escapes as %q, want %q", s, got, html.EscapeString(s))
		}
	})
}

// TestRenderAllocations holds the hot path to its promise: with a buffer
// that is large enough, rendering allocates nothing.
func TestRenderAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts are checked in full runs")
	}
	p := bigPage(50)
	l := bigList(200)
	dst := make([]byte, 0, 1<<20)
	for _, tt := range []struct {
		name string
		fn   func()
	}{
		{"AppendProjectHTML", func() { dst = pypi.AppendProjectHTML(dst[:0], p) }},
		{"AppendProjectJSON", func() { dst = pypi.AppendProjectJSON(dst[:0], p) }},
		{"AppendProjectListHTML", func() { dst = pypi.AppendProjectListHTML(dst[:0], l) }},
		{"AppendProjectListJSON", func() { dst = pypi.AppendProjectListJSON(dst[:0], l) }},
	} {
		if n := testing.AllocsPerRun(20, tt.fn); n != 0 {
			t.Errorf("%s: %v allocations per run, want 0", tt.name, n)
		}
	}
	// Render grows the buffer once at most.
	var buf bytes.Buffer
	if n := testing.AllocsPerRun(20, func() { buf = bytes.Buffer{}; pypi.RenderProjectHTML(&buf, p) }); n > 1 {
		t.Errorf("RenderProjectHTML into an empty buffer: %v allocations, want at most 1", n)
	}
	if n := testing.AllocsPerRun(20, func() { buf = bytes.Buffer{}; pypi.RenderProjectJSON(&buf, p) }); n > 1 {
		t.Errorf("RenderProjectJSON into an empty buffer: %v allocations, want at most 1", n)
	}
}

func bigPage(nfiles int) pypi.ProjectPage {
	p := pypi.ProjectPage{Name: "numpy", DisplayName: "numpy", LastSerial: 123456}
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range nfiles {
		v := "1." + strconv.Itoa(i/10) + ".0"
		if i%10 == 0 {
			p.Versions = append(p.Versions, v)
		}
		fn := "numpy-" + v + "-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
		f := pypi.FileEntry{
			Filename:       fn,
			URL:            fileURL(shaWheel, fn),
			SHA256:         shaWheel,
			RequiresPython: ">=3.9",
			Size:           int64(18_000_000 + i),
			UploadTime:     t0.Add(time.Duration(i) * time.Hour),
			Version:        v,
		}
		if i%3 == 0 {
			f.CoreMetadataSHA256 = shaWheelMD
		}
		if i%50 == 0 {
			f.Yanked, f.YankedReason = true, "broken build"
		}
		p.Files = append(p.Files, f)
	}
	return p
}

func bigList(n int) pypi.ProjectList {
	l := pypi.ProjectList{Projects: make([]pypi.ProjectEntry, n)}
	for i := range l.Projects {
		name := "project-" + strconv.Itoa(i)
		l.Projects[i] = pypi.ProjectEntry{Name: name, Normalized: name, LastSerial: int64(i)}
	}
	return l
}

func BenchmarkRender(b *testing.B) {
	p := bigPage(500)
	l := bigList(10000)
	for _, bb := range []struct {
		name string
		fn   func(*bytes.Buffer)
	}{
		{"ProjectHTML/500files", func(buf *bytes.Buffer) { pypi.RenderProjectHTML(buf, p) }},
		{"ProjectJSON/500files", func(buf *bytes.Buffer) { pypi.RenderProjectJSON(buf, p) }},
		{"ProjectListHTML/10000projects", func(buf *bytes.Buffer) { pypi.RenderProjectListHTML(buf, l) }},
		{"ProjectListJSON/10000projects", func(buf *bytes.Buffer) { pypi.RenderProjectListJSON(buf, l) }},
	} {
		b.Run(bb.name, func(b *testing.B) {
			var buf bytes.Buffer
			bb.fn(&buf)
			b.SetBytes(int64(buf.Len()))
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset() // a server reuses pooled buffers
				bb.fn(&buf)
			}
		})
	}
}
