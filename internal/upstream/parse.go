package upstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"html"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/wharf-dev/wharf/internal/pypi"
)

// jsonFile is one file of a PEP 691 project page. yanked and core-metadata
// are bool-or-value fields, decoded by hand.
type jsonFile struct {
	Filename       string            `json:"filename"`
	URL            string            `json:"url"`
	Hashes         map[string]string `json:"hashes"`
	RequiresPython *string           `json:"requires-python"`
	Yanked         json.RawMessage   `json:"yanked"`
	CoreMetadata   json.RawMessage   `json:"core-metadata"`
	DistInfo       json.RawMessage   `json:"dist-info-metadata"` // PEP 658's first spelling
	Size           *int64            `json:"size"`
	UploadTime     *string           `json:"upload-time"`
}

type jsonProject struct {
	Name     string     `json:"name"`
	Files    []jsonFile `json:"files"`
	Versions []string   `json:"versions"`
}

// ParseProjectJSON parses a PEP 691 project page; relative file URLs
// resolve against base.
func ParseProjectJSON(body []byte, base *url.URL) (pypi.ProjectPage, error) {
	var jp jsonProject
	if err := json.Unmarshal(body, &jp); err != nil {
		return pypi.ProjectPage{}, err
	}
	p := pypi.ProjectPage{Name: jp.Name, DisplayName: jp.Name, Files: make([]pypi.FileEntry, 0, len(jp.Files)), Versions: jp.Versions}
	for _, f := range jp.Files {
		e := pypi.FileEntry{Filename: f.Filename, SHA256: strings.ToLower(f.Hashes["sha256"])}
		u, err := resolve(base, f.URL)
		if err != nil {
			continue // a link we cannot follow is not offered
		}
		e.URL = u
		if f.RequiresPython != nil {
			e.RequiresPython = *f.RequiresPython
		}
		e.Yanked, e.YankedReason = boolOrString(f.Yanked)
		cm := f.CoreMetadata
		if len(cm) == 0 {
			cm = f.DistInfo
		}
		e.CoreMetadataSHA256 = metadataHash(cm)
		if f.Size != nil {
			e.Size = *f.Size
		}
		if f.UploadTime != nil {
			if t, err := time.Parse(time.RFC3339Nano, *f.UploadTime); err == nil {
				e.UploadTime = t.UTC()
			}
		}
		e.Version = versionOf(f.Filename)
		p.Files = append(p.Files, e)
	}
	return p, nil
}

// boolOrString decodes PEP 691 yanked: false, true, or a reason.
func boolOrString(raw json.RawMessage) (bool, string) {
	if len(raw) == 0 {
		return false, ""
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b, ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return true, s
	}
	return false, ""
}

// metadataHash decodes core-metadata: false, true (no hash known) or a hash
// map. Only metadata with a sha256 is offered: wharf verifies what it
// serves, so metadata without a hash is dropped.
func metadataHash(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var m map[string]string
	if json.Unmarshal(raw, &m) == nil {
		return strings.ToLower(m["sha256"])
	}
	return ""
}

func versionOf(filename string) string {
	if d, err := pypi.ParseFilename(filename); err == nil {
		return d.Version
	}
	return ""
}

func resolve(base *url.URL, ref string) (string, error) {
	u, err := base.Parse(ref)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", errors.New("not an http(s) URL")
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String(), nil
}

// ParseRootJSON parses a PEP 691 project list.
func ParseRootJSON(body []byte) (pypi.ProjectList, error) {
	var jr struct {
		Projects []struct {
			Name string `json:"name"`
		} `json:"projects"`
	}
	if err := json.Unmarshal(body, &jr); err != nil {
		return pypi.ProjectList{}, err
	}
	l := pypi.ProjectList{Projects: make([]pypi.ProjectEntry, 0, len(jr.Projects))}
	for _, p := range jr.Projects {
		l.Projects = append(l.Projects, pypi.ProjectEntry{Name: p.Name, Normalized: pypi.Normalize(p.Name)})
	}
	sortList(&l)
	return l, nil
}

func sortList(l *pypi.ProjectList) {
	slices.SortFunc(l.Projects, func(a, b pypi.ProjectEntry) int { return strings.Compare(a.Normalized, b.Normalized) })
	l.Projects = slices.CompactFunc(l.Projects, func(a, b pypi.ProjectEntry) bool { return a.Normalized == b.Normalized })
}

// anchor is one <a> element: its attributes (names lower-cased, values
// unescaped) and its text.
type anchor struct {
	attrs map[string]string
	text  string
}

// anchors scans an HTML page for <a> elements. PEP 503 pages are flat lists
// of anchors, so a tokenizer that understands tags, quoted attributes,
// comments and character references is enough; it never builds a tree.
func anchors(body []byte) []anchor {
	var out []anchor
	for i := 0; i < len(body); {
		lt := bytes.IndexByte(body[i:], '<')
		if lt < 0 {
			break
		}
		i += lt
		if bytes.HasPrefix(body[i:], []byte("<!--")) {
			end := bytes.Index(body[i+4:], []byte("-->"))
			if end < 0 {
				break
			}
			i += 4 + end + 3
			continue
		}
		if i+2 >= len(body) || (body[i+1]|0x20) != 'a' || !isSpace(body[i+2]) && body[i+2] != '>' {
			i++
			continue
		}
		attrs, n := parseAttrs(body[i+2:])
		i += 2 + n
		// Text up to </a>.
		end := indexFold(body[i:], "</a")
		if end < 0 {
			end = len(body) - i
		}
		text := html.UnescapeString(strings.TrimSpace(string(stripTags(body[i : i+end]))))
		out = append(out, anchor{attrs: attrs, text: text})
		i += end
	}
	return out
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

// parseAttrs reads attributes up to the closing '>' and returns them with
// the number of bytes consumed.
func parseAttrs(b []byte) (map[string]string, int) {
	attrs := map[string]string{}
	i := 0
	for i < len(b) {
		for i < len(b) && (isSpace(b[i]) || b[i] == '/') {
			i++
		}
		if i >= len(b) {
			break
		}
		if b[i] == '>' {
			return attrs, i + 1
		}
		start := i
		for i < len(b) && !isSpace(b[i]) && b[i] != '=' && b[i] != '>' && b[i] != '/' {
			i++
		}
		name := strings.ToLower(string(b[start:i]))
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		val := ""
		if i < len(b) && b[i] == '=' {
			i++
			for i < len(b) && isSpace(b[i]) {
				i++
			}
			if i < len(b) && (b[i] == '"' || b[i] == '\'') {
				q := b[i]
				end := bytes.IndexByte(b[i+1:], q)
				if end < 0 {
					return attrs, len(b)
				}
				val = string(b[i+1 : i+1+end])
				i += end + 2
			} else {
				start := i
				for i < len(b) && !isSpace(b[i]) && b[i] != '>' {
					i++
				}
				val = string(b[start:i])
			}
		}
		if _, dup := attrs[name]; !dup && name != "" {
			attrs[name] = html.UnescapeString(val)
		}
	}
	return attrs, len(b)
}

func stripTags(b []byte) []byte {
	if bytes.IndexByte(b, '<') < 0 {
		return b
	}
	var out []byte
	in := false
	for _, c := range b {
		switch {
		case c == '<':
			in = true
		case c == '>':
			in = false
		case !in:
			out = append(out, c)
		}
	}
	return out
}

func indexFold(b []byte, s string) int {
	for i := 0; i+len(s) <= len(b); i++ {
		if bytes.EqualFold(b[i:i+len(s)], []byte(s)) {
			return i
		}
	}
	return -1
}

// ParseProjectHTML parses a PEP 503 project page: anchors whose text is the
// filename, #sha256= fragments, and the data-* attributes of PEP 503, 592
// and 658/714.
func ParseProjectHTML(body []byte, base *url.URL) (pypi.ProjectPage, error) {
	var p pypi.ProjectPage
	for _, a := range anchors(body) {
		href, ok := a.attrs["href"]
		if !ok {
			continue
		}
		u, err := base.Parse(strings.TrimSpace(href))
		if err != nil {
			continue
		}
		e := pypi.FileEntry{Filename: a.text}
		if frag := u.Fragment; frag != "" {
			if alg, hex, ok := strings.Cut(frag, "="); ok && strings.EqualFold(alg, "sha256") {
				e.SHA256 = strings.ToLower(hex)
			}
		}
		if e.Filename == "" {
			e.Filename = pathBase(u.Path)
		}
		if e.URL, err = resolve(base, strings.TrimSpace(href)); err != nil {
			continue
		}
		e.RequiresPython = a.attrs["data-requires-python"]
		if r, ok := a.attrs["data-yanked"]; ok {
			e.Yanked, e.YankedReason = true, r
		}
		cm, ok := a.attrs["data-core-metadata"]
		if !ok {
			cm = a.attrs["data-dist-info-metadata"]
		}
		if alg, hex, ok := strings.Cut(cm, "="); ok && strings.EqualFold(alg, "sha256") {
			e.CoreMetadataSHA256 = strings.ToLower(hex)
		}
		e.Version = versionOf(e.Filename)
		p.Files = append(p.Files, e)
	}
	return p, nil
}

func pathBase(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// ParseRootHTML parses a PEP 503 project list (anchor text is the name).
func ParseRootHTML(body []byte) (pypi.ProjectList, error) {
	var l pypi.ProjectList
	for _, a := range anchors(body) {
		if a.text == "" {
			continue
		}
		l.Projects = append(l.Projects, pypi.ProjectEntry{Name: a.text, Normalized: pypi.Normalize(a.text)})
	}
	sortList(&l)
	return l, nil
}
