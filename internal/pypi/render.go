package pypi

import (
	"bytes"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Rendering is the hot path of every index request, so it is written by hand
// instead of with html/template or encoding/json: no reflection, no
// per-file allocation, escaping that copies the string unchanged when
// nothing needs escaping, and numbers appended with strconv. Each page comes
// in two forms: Append* appends to a byte slice (for callers that cache
// rendered pages) and Render* writes into a bytes.Buffer, growing it once to
// an estimate of the page size first.

// uploadTimeLayout is PEP 700's upload-time format with PyPI's microseconds.
const uploadTimeLayout = "2006-01-02T15:04:05.000000Z"

// htmlHead is shared by both HTML pages. The charset is declared in the
// document because the content type (see Format.ContentType) carries none,
// and display names and requires-python may be non-ASCII.
const htmlHead = "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n" +
	"<meta name=\"pypi:repository-version\" content=\"" + APIVersion + "\">\n"

const htmlTail = "</body>\n</html>\n"

// RenderProjectListHTML writes the PEP 503 index root. Links are relative
// ("{normalized}/"), so the page works under any repository prefix and
// behind proxies that rewrite paths; it must be served at a URL ending in
// "/simple/".
func RenderProjectListHTML(buf *bytes.Buffer, l ProjectList) {
	buf.Grow(projectListHTMLSize(&l))
	buf.Write(AppendProjectListHTML(buf.AvailableBuffer(), l))
}

// AppendProjectListHTML appends the page RenderProjectListHTML writes.
func AppendProjectListHTML(dst []byte, l ProjectList) []byte {
	dst = append(dst, htmlHead...)
	dst = append(dst, "<title>Simple index</title>\n</head>\n<body>\n"...)
	for i := range l.Projects {
		p := &l.Projects[i]
		dst = append(dst, `<a href="`...)
		dst = appendHTML(dst, p.Normalized)
		dst = append(dst, `/">`...)
		dst = appendHTML(dst, p.Name)
		dst = append(dst, "</a>\n"...)
	}
	return append(dst, htmlTail...)
}

func projectListHTMLSize(l *ProjectList) int {
	n := len(htmlHead) + 64 + len(htmlTail)
	for i := range l.Projects {
		n += len(`<a href="/"></a>`) + 1 + len(l.Projects[i].Normalized) + len(l.Projects[i].Name)
	}
	return n
}

// RenderProjectListJSON writes the PEP 691 index root. The meta
// _last-serial is the highest serial of the listed projects.
func RenderProjectListJSON(buf *bytes.Buffer, l ProjectList) {
	buf.Grow(projectListJSONSize(&l))
	buf.Write(AppendProjectListJSON(buf.AvailableBuffer(), l))
}

// AppendProjectListJSON appends the document RenderProjectListJSON writes.
func AppendProjectListJSON(dst []byte, l ProjectList) []byte {
	dst = appendJSONMeta(dst, l.lastSerial())
	dst = append(dst, `,"projects":[`...)
	for i := range l.Projects {
		p := &l.Projects[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"name":`...)
		dst = appendJSONString(dst, p.Name)
		dst = append(dst, `,"_last-serial":`...)
		dst = strconv.AppendInt(dst, p.LastSerial, 10)
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

func projectListJSONSize(l *ProjectList) int {
	n := 64 + 16
	for i := range l.Projects {
		n += len(`{"name":"","_last-serial":},`) + 8 + len(l.Projects[i].Name)
	}
	return n
}

// RenderProjectHTML writes a PEP 503 project page: one link per file with
// the sha256 fragment and the data- attributes that apply (PEP 345
// requires-python, PEP 592 yanked, PEP 658/714 core metadata). The legacy
// data-dist-info-metadata twin is left out: the pips that read only it
// (22.3 to 23.1) negotiate the JSON form anyway, and it would make the
// 500-file page 20% larger on every request.
func RenderProjectHTML(buf *bytes.Buffer, p ProjectPage) {
	buf.Grow(projectHTMLSize(&p))
	buf.Write(AppendProjectHTML(buf.AvailableBuffer(), p))
}

// AppendProjectHTML appends the page RenderProjectHTML writes.
func AppendProjectHTML(dst []byte, p ProjectPage) []byte {
	name := p.displayName()
	dst = append(dst, htmlHead...)
	dst = append(dst, "<title>Links for "...)
	dst = appendHTML(dst, name)
	dst = append(dst, "</title>\n</head>\n<body>\n<h1>Links for "...)
	dst = appendHTML(dst, name)
	dst = append(dst, "</h1>\n"...)
	for i := range p.Files {
		dst = appendFileHTML(dst, &p.Files[i])
	}
	dst = append(dst, htmlTail...)
	// PyPI ends detail pages with the serial; mirrors such as bandersnatch
	// have read it from there.
	dst = append(dst, "<!--SERIAL "...)
	dst = strconv.AppendInt(dst, p.LastSerial, 10)
	return append(dst, "-->\n"...)
}

func appendFileHTML(dst []byte, f *FileEntry) []byte {
	dst = append(dst, `<a href="`...)
	dst = appendHTML(dst, f.URL)
	if f.SHA256 != "" {
		dst = append(dst, "#sha256="...)
		dst = appendHTML(dst, f.SHA256)
	}
	dst = append(dst, '"')
	if f.RequiresPython != "" {
		dst = append(dst, ` data-requires-python="`...)
		dst = appendHTML(dst, f.RequiresPython)
		dst = append(dst, '"')
	}
	if f.Yanked {
		// An empty value still marks the file yanked (PEP 592).
		dst = append(dst, ` data-yanked="`...)
		dst = appendHTML(dst, f.YankedReason)
		dst = append(dst, '"')
	}
	if f.CoreMetadataSHA256 != "" {
		dst = append(dst, ` data-core-metadata="sha256=`...)
		dst = appendHTML(dst, f.CoreMetadataSHA256)
		dst = append(dst, '"')
	}
	dst = append(dst, '>')
	dst = appendHTML(dst, f.Filename)
	return append(dst, "</a><br />\n"...)
}

func projectHTMLSize(p *ProjectPage) int {
	n := len(htmlHead) + len(htmlTail) + 96 + 2*len(p.displayName())
	for i := range p.Files {
		f := &p.Files[i]
		n += len(`<a href="#sha256=" data-requires-python="" data-yanked="" data-core-metadata="sha256="></a><br />`) + 1 +
			len(f.URL) + len(f.SHA256) + len(f.RequiresPython) + len(f.YankedReason) +
			len(f.CoreMetadataSHA256) + len(f.Filename) +
			4 // a few escapes (">=" in requires-python) without regrowing
	}
	return n
}

// RenderProjectJSON writes a PEP 691 project page with the PEP 700 keys
// (versions, size, upload-time). It emits core-metadata and never the
// deprecated dist-info-metadata key: pip 22.3 and later fail hard on it
// (PEP 714).
func RenderProjectJSON(buf *bytes.Buffer, p ProjectPage) {
	buf.Grow(projectJSONSize(&p))
	buf.Write(AppendProjectJSON(buf.AvailableBuffer(), p))
}

// AppendProjectJSON appends the document RenderProjectJSON writes.
func AppendProjectJSON(dst []byte, p ProjectPage) []byte {
	dst = appendJSONMeta(dst, p.LastSerial)
	dst = append(dst, `,"name":`...)
	dst = appendJSONString(dst, p.Name)
	dst = append(dst, `,"versions":[`...)
	for i, v := range p.Versions {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, v)
	}
	dst = append(dst, `],"files":[`...)
	for i := range p.Files {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendFileJSON(dst, &p.Files[i])
	}
	return append(dst, "]}"...)
}

func appendFileJSON(dst []byte, f *FileEntry) []byte {
	dst = append(dst, `{"filename":`...)
	dst = appendJSONString(dst, f.Filename)
	dst = append(dst, `,"url":`...)
	dst = appendJSONString(dst, f.URL)
	dst = append(dst, `,"hashes":{`...)
	if f.SHA256 != "" {
		dst = append(dst, `"sha256":`...)
		dst = appendJSONString(dst, f.SHA256)
	}
	dst = append(dst, `},"requires-python":`...)
	if f.RequiresPython != "" {
		dst = appendJSONString(dst, f.RequiresPython)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"size":`...)
	dst = strconv.AppendInt(dst, f.Size, 10)
	if !f.UploadTime.IsZero() {
		dst = append(dst, `,"upload-time":"`...)
		dst = appendUploadTime(dst, f.UploadTime)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"yanked":`...)
	switch {
	case !f.Yanked:
		dst = append(dst, "false"...)
	case f.YankedReason != "":
		dst = appendJSONString(dst, f.YankedReason)
	default:
		// The spec allows only true or a non-empty reason.
		dst = append(dst, "true"...)
	}
	dst = append(dst, `,"core-metadata":`...)
	if f.CoreMetadataSHA256 != "" {
		dst = append(dst, `{"sha256":`...)
		dst = appendJSONString(dst, f.CoreMetadataSHA256)
		dst = append(dst, '}')
	} else {
		dst = append(dst, "false"...)
	}
	return append(dst, '}')
}

// appendUploadTime appends t in uploadTimeLayout. It is written out by hand
// because time.AppendFormat re-parses the layout on every call, and a
// 500-file page formats 500 times.
func appendUploadTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, uploadTimeLayout) // not a real upload; keep the stdlib's rendering
	}
	hour, minute, sec := t.Clock()
	us := t.Nanosecond() / 1000
	dst = append(dst,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.',
		byte('0'+us/100000), byte('0'+us/10000%10), byte('0'+us/1000%10),
		byte('0'+us/100%10), byte('0'+us/10%10), byte('0'+us%10), 'Z')
	return dst
}

func projectJSONSize(p *ProjectPage) int {
	n := 96 + len(p.Name)
	for _, v := range p.Versions {
		n += len(v) + 3
	}
	for i := range p.Files {
		f := &p.Files[i]
		n += len(`{"filename":"","url":"","hashes":{"sha256":""},"requires-python":"","size":,"upload-time":"2006-01-02T15:04:05.000000Z","yanked":"","core-metadata":{"sha256":""}},`) + 20 +
			len(f.Filename) + len(f.URL) + len(f.SHA256) + len(f.RequiresPython) +
			len(f.YankedReason) + len(f.CoreMetadataSHA256) +
			6 // one escape (a "<" in requires-python) without regrowing
	}
	return n
}

// appendJSONMeta appends the opening brace and the meta object.
func appendJSONMeta(dst []byte, serial int64) []byte {
	dst = append(dst, `{"meta":{"api-version":"`+APIVersion+`","_last-serial":`...)
	dst = strconv.AppendInt(dst, serial, 10)
	return append(dst, '}')
}

// htmlSpecial has bit c set for each byte c < 64 that html.EscapeString
// rewrites: & < > " '. A bit test per byte keeps the scan branch-light.
const htmlSpecial uint64 = 1<<'&' | 1<<'<' | 1<<'>' | 1<<'"' | 1<<'\''

// appendHTML appends s escaped as html.EscapeString does (the five
// characters that matter in text and quoted attributes). When nothing needs
// escaping it is a single append of s.
func appendHTML(dst []byte, s string) []byte {
	// Most strings (hashes, URLs, filenames) need no escaping. For all but
	// short ones, five vectorised IndexByte scans prove that about twice as
	// fast as the byte loop below.
	if len(s) >= 16 && strings.IndexByte(s, '&') < 0 && strings.IndexByte(s, '<') < 0 &&
		strings.IndexByte(s, '>') < 0 && strings.IndexByte(s, '"') < 0 && strings.IndexByte(s, '\'') < 0 {
		return append(dst, s...)
	}
	last := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 64 || htmlSpecial&(1<<c) == 0 {
			continue
		}
		var esc string
		switch c {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '"':
			esc = "&#34;"
		default: // '\''
			esc = "&#39;"
		}
		dst = append(dst, s[last:i]...)
		dst = append(dst, esc...)
		last = i + 1
	}
	return append(dst, s[last:]...)
}

const hexDigits = "0123456789abcdef"

// jsonSafeLo and jsonSafeHi are the ASCII bytes encoding/json copies
// unchanged (its htmlSafeSet) as bitsets over 0-63 and 64-127: everything
// printable except " & < > and backslash.
const (
	jsonSafeLo uint64 = 0xFFFFFFFF_00000000 &^ (1<<'"' | 1<<'&' | 1<<'<' | 1<<'>')
	jsonSafeHi uint64 = ^uint64(0) &^ (1 << ('\\' - 64))
)

// jsonSafe reports whether the ASCII byte b is copied unescaped.
func jsonSafe(b byte) bool {
	if b < 64 {
		return jsonSafeLo&(1<<b) != 0
	}
	return jsonSafeHi&(1<<(b-64)) != 0
}

// appendJSONString appends s as a quoted JSON string, byte for byte what
// encoding/json produces (with its default HTML escaping): <, > and & as
// \u003c..., control characters escaped, invalid UTF-8 replaced by \ufffd,
// U+2028 and U+2029 escaped. Escaping HTML characters keeps a JSON page
// harmless if a browser ever sniffs it as HTML.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if jsonSafe(b) {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			// Valid JSON, but line terminators in JavaScript.
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
