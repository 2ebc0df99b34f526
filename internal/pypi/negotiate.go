package pypi

// Format is one representation of a simple API page (PEP 691).
type Format uint8

// The formats wharf serves, in the order the server prefers them when a
// client accepts several equally. HTML first, as PyPI does: clients that
// predate PEP 691 send "*/*" or no Accept at all and can only parse HTML,
// while pip and uv rank JSON above HTML with q-values and so get JSON.
const (
	HTML   Format = iota // PEP 503 HTML as text/html, for browsers and old clients
	HTMLv1               // the same HTML as application/vnd.pypi.simple.v1+html
	JSONv1               // PEP 691 JSON

	numFormats = 3
)

const (
	mediaHTML       = "text/html"
	mediaHTMLv1     = "application/vnd.pypi.simple.v1+html"
	mediaJSONv1     = "application/vnd.pypi.simple.v1+json"
	subHTMLv1       = "vnd.pypi.simple.v1+html"
	subJSONv1       = "vnd.pypi.simple.v1+json"
	subHTMLLatest   = "vnd.pypi.simple.latest+html"
	subJSONLatest   = "vnd.pypi.simple.latest+json"
	qOne            = 1000 // q-values are kept in thousandths
	specNone        = 0
	specAny         = 1 // */*
	specType        = 2 // text/* or application/*
	specExact       = 3 // the media type itself or its latest alias
	maxQValueDigits = 3
)

// ContentType is the exact media type to send for f. pip skips pages whose
// Content-Type is not one of the three simple API types, so the concrete v1
// type is sent even when the client asked for "latest".
func (f Format) ContentType() string {
	switch f {
	case HTMLv1:
		return mediaHTMLv1
	case JSONv1:
		return mediaJSONv1
	default:
		return mediaHTML
	}
}

// String returns the content type.
func (f Format) String() string { return f.ContentType() }

// IsJSON reports whether f is rendered with the JSON renderers.
func (f Format) IsJSON() bool { return f == JSONv1 }

// Negotiate picks the representation for a request with the given Accept
// header and ?format= query value (PEP 691). A non-empty formatParam
// replaces the Accept header and is read with the same syntax, so
// "?format=application/vnd.pypi.simple.v1+json" works from a browser.
//
// Each format gets the q-value of the most specific media range matching it
// (an exact type or its "latest" alias, then text/* or application/*, then
// */*), so "*/*, text/html;q=0" excludes text/html. The highest q wins; ties
// go to the order of the Format constants. No Accept header means "*/*",
// which gives HTML. A header in which no media range parses is treated as
// absent, as most servers do; a ?format= value that does not parse is not,
// because a person typed it and should hear it is wrong. ok is false when
// nothing is acceptable: the caller answers 406.
//
// formatParam is the decoded query value (url.Values.Get). Query decoding
// turns the "+" of an unescaped "?format=application/vnd.pypi.simple.v1+json"
// into a space (people paste such URLs into browsers), so a space between two
// token characters is read as "+".
//
// When a request carries several Accept fields, pass them joined with ",".
// Responses must carry "Vary: Accept".
func Negotiate(accept, formatParam string) (f Format, ok bool) {
	if formatParam != "" {
		return negotiate(restorePlus(formatParam), false)
	}
	return negotiate(accept, true)
}

// restorePlus replaces each space that sits between two token characters
// with "+". Such a space is never valid in a media range, so nothing that
// parsed before changes meaning. It allocates only when it replaces.
func restorePlus(s string) string {
	var b []byte
	for i := 1; i+1 < len(s); i++ {
		if s[i] == ' ' && isTokenChar(s[i-1]) && isTokenChar(s[i+1]) {
			if b == nil {
				b = []byte(s)
			}
			b[i] = '+'
		}
	}
	if b == nil {
		return s
	}
	return string(b)
}

type rangeMatch struct {
	spec uint8
	q    uint16
}

func negotiate(h string, lenient bool) (Format, bool) {
	var best [numFormats]rangeMatch
	parsed := false
	for h != "" {
		var elem string
		elem, h = nextListElem(h)
		typ, sub, q, ok := parseMediaRange(elem)
		if !ok {
			continue
		}
		parsed = true
		var spec [numFormats]uint8
		classify(&spec, typ, sub)
		for f, s := range spec {
			// The most specific range decides; equally specific ones (a type
			// and its latest alias) give the better q.
			if b := &best[f]; s != specNone && (s > b.spec || (s == b.spec && q > b.q)) {
				*b = rangeMatch{spec: s, q: q}
			}
		}
	}
	if !parsed {
		return HTML, lenient
	}
	win, winQ := HTML, uint16(0)
	for f := range Format(numFormats) {
		if best[f].q > winQ {
			win, winQ = f, best[f].q
		}
	}
	return win, winQ > 0
}

// classify sets spec[f] to how closely the media range typ/sub names
// format f.
func classify(spec *[numFormats]uint8, typ, sub string) {
	switch {
	case typ == "*":
		*spec = [numFormats]uint8{specAny, specAny, specAny} // parseMediaRange allows "*" only as "*/*"
	case foldEqual(typ, "text"):
		switch {
		case sub == "*":
			spec[HTML] = specType
		case foldEqual(sub, "html"):
			spec[HTML] = specExact
		}
	case foldEqual(typ, "application"):
		switch {
		case sub == "*":
			spec[HTMLv1], spec[JSONv1] = specType, specType
		case foldEqual(sub, subJSONv1), foldEqual(sub, subJSONLatest):
			spec[JSONv1] = specExact
		case foldEqual(sub, subHTMLv1), foldEqual(sub, subHTMLLatest):
			spec[HTMLv1] = specExact
		}
	}
}

// foldEqual reports whether s equals the lower-case ASCII string lower,
// ignoring ASCII case. Media types are ASCII tokens, so the Unicode folding
// of strings.EqualFold is not needed, and lengths are compared first.
func foldEqual(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// nextListElem splits h at the first comma outside a quoted string.
func nextListElem(h string) (elem, rest string) {
	inQuote := false
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case inQuote && c == '\\':
			i++ // quoted-pair: the next byte is literal
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			return h[:i], h[i+1:]
		}
	}
	return h, ""
}

// parseMediaRange parses one Accept element (RFC 9110 §12.5.1):
// type "/" subtype *( OWS ";" OWS [ name "=" value ] ). It returns the
// weight in thousandths; parameters other than q are ignored. ok is false
// for an empty or malformed element, which the caller skips.
func parseMediaRange(s string) (typ, sub string, q uint16, ok bool) {
	s = trimOWS(s)
	i := tokenEnd(s)
	typ, s = s[:i], s[i:]
	if typ == "" || s == "" || s[0] != '/' {
		return "", "", 0, false
	}
	s = s[1:]
	i = tokenEnd(s)
	sub, s = s[:i], s[i:]
	if sub == "" || (typ == "*" && sub != "*") {
		return "", "", 0, false
	}
	q = qOne
	for {
		s = trimLeftOWS(s)
		if s == "" {
			return typ, sub, q, true
		}
		if s[0] != ';' {
			return "", "", 0, false
		}
		s = trimLeftOWS(s[1:])
		if s == "" || s[0] == ';' {
			continue // empty parameter, allowed by the grammar
		}
		i = tokenEnd(s)
		name := s[:i]
		if name == "" || i == len(s) || s[i] != '=' {
			return "", "", 0, false
		}
		s = s[i+1:]
		if s != "" && s[0] == '"' {
			end := quotedEnd(s)
			if end < 0 {
				return "", "", 0, false
			}
			if foldEqual(name, "q") {
				return "", "", 0, false // a qvalue is never quoted
			}
			s = s[end:]
			continue
		}
		i = tokenEnd(s)
		val := s[:i]
		if val == "" {
			return "", "", 0, false
		}
		s = s[i:]
		if foldEqual(name, "q") {
			if q, ok = parseQValue(val); !ok {
				return "", "", 0, false
			}
		}
	}
}

// parseQValue parses RFC 9110's qvalue: "0" [ "." 0*3DIGIT ] or
// "1" [ "." 0*3("0") ], into thousandths.
func parseQValue(v string) (uint16, bool) {
	if v == "" || (v[0] != '0' && v[0] != '1') {
		return 0, false
	}
	whole := v[0] == '1'
	v = v[1:]
	if v == "" {
		if whole {
			return qOne, true
		}
		return 0, true
	}
	if v[0] != '.' || len(v) > 1+maxQValueDigits {
		return 0, false
	}
	var frac uint16
	scale := uint16(100)
	for i := 1; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' || (whole && c != '0') {
			return 0, false
		}
		frac += uint16(c-'0') * scale
		scale /= 10
	}
	if whole {
		return qOne, true
	}
	return frac, true
}

// quotedEnd returns the index just past the quoted-string at the start of
// s, or -1 when it is not closed.
func quotedEnd(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// tokenEnd returns the length of the RFC 9110 token at the start of s.
func tokenEnd(s string) int {
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return i
		}
	}
	return len(s)
}

// tokenLo and tokenHi are RFC 9110's tchar as bitsets over bytes 0-63 and
// 64-127: ALPHA, DIGIT and !#$%&'*+-.^_`|~.
const (
	tokenLo uint64 = 1<<'!' | 1<<'#' | 1<<'$' | 1<<'%' | 1<<'&' | 1<<'\'' | 1<<'*' | 1<<'+' |
		1<<'-' | 1<<'.' | 0x03FF_0000_0000_0000 // '0'-'9' are bits 48-57
	tokenHi uint64 = 0x07FF_FFFE_07FF_FFFE | // 'A'-'Z' and 'a'-'z'
		1<<('^'-64) | 1<<('_'-64) | 1<<('`'-64) | 1<<('|'-64) | 1<<('~'-64)
)

func isTokenChar(c byte) bool {
	if c < 64 {
		return tokenLo&(1<<c) != 0
	}
	return c < 128 && tokenHi&(1<<(c-64)) != 0
}

func trimLeftOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	return s
}

func trimOWS(s string) string {
	s = trimLeftOWS(s)
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
