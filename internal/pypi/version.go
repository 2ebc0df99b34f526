package pypi

import (
	"fmt"
	"slices"
	"strings"

	"github.com/wharf-dev/wharf/internal/errs"
)

// Version is a parsed PEP 440 version. Numbers are kept as decimal strings
// without leading zeros rather than machine integers, so any version
// packaging accepts (including 30-digit date stamps) parses, prints and
// orders exactly as packaging.version does, with no overflow cases. Every
// field is a substring of the normalised form, so a Version costs no
// allocation beyond that string, and none at all when the input was already
// normalised.
//
// The zero Version is not a valid version; it prints as "" and orders as 0.
type Version struct {
	s       string // normalised form, as packaging's str(Version)
	epoch   string // "" when 0
	relLo   int    // s[relLo:relHi] is the release, "1.2.3"
	relHi   int
	preKind uint8  // 0 none, preA, preB, preRC
	pre     string // pre-release number when preKind != 0
	post    string // "" when absent
	dev     string // "" when absent
	local   string // normalised local label without '+', "" when absent
}

const (
	preA uint8 = 1 + iota
	preB
	preRC
)

var preNames = [...]string{preA: "a", preB: "b", preRC: "rc"}

// ParseVersion parses s as a PEP 440 version with the normalisation rules of
// packaging.version: surrounding whitespace and a leading 'v' are ignored,
// letters are case-insensitive, alpha/beta/c/pre/preview/rev/r are spelt
// a/b/rc/rc/rc/post/post, separators around pre, post and dev segments are
// optional, missing numbers are 0, "1.0-1" is a post-release, and local
// labels use '.' between segments.
func ParseVersion(s string) (Version, error) {
	v, ok := parseVersion(s)
	if !ok {
		return Version{}, errs.E(errs.Invalid, "pypi.ParseVersion",
			fmt.Errorf("invalid version %q: use a PEP 440 version such as 1.2.0, 1.2.0rc1 or 1.2.0.post1", clip(s, 100)))
	}
	return v, nil
}

// MustParseVersion is ParseVersion for constants in tests and tables; it
// panics on an invalid version.
func MustParseVersion(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// lower folds an ASCII letter to lower case.
func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// hasWord reports whether t[i:] starts with w (lower case), ignoring case.
func hasWord(t string, i int, w string) bool {
	if len(t)-i < len(w) {
		return false
	}
	for k := 0; k < len(w); k++ {
		if lower(t[i+k]) != w[k] {
			return false
		}
	}
	return true
}

// number scans the digits at t[i:] and returns them without leading zeros
// ("0" for all zeros) and the index after them; ok is false when there are
// none.
func number(t string, i int) (n string, end int, ok bool) {
	j := i
	for j < len(t) && isDigit(t[j]) {
		j++
	}
	if j == i {
		return "", i, false
	}
	k := i
	for k < j-1 && t[k] == '0' {
		k++
	}
	return t[k:j], j, true
}

type span struct{ lo, hi int }

// parseVersion is a hand-written equivalent of packaging's VERSION_PATTERN
// regular expression. Where the regex would have to choose, the greedy
// choice made here is the one the regex engine makes first, and it never
// needs to backtrack: every optional separator that a segment takes greedily
// could only have started a later segment that allows it to be absent.
func parseVersion(in string) (Version, bool) {
	lo, hi := 0, len(in)
	for lo < hi && isSpace(in[lo]) {
		lo++
	}
	for hi > lo && isSpace(in[hi-1]) {
		hi--
	}
	t := in[lo:hi]
	i := 0
	if i < len(t) && (t[i] == 'v' || t[i] == 'V') {
		i++
	}

	var arr [64]byte
	b := arr[:0]
	var v Version
	var epoch, rel, pre, post, dev, local span

	n, i, ok := number(t, i)
	if !ok {
		return Version{}, false
	}
	if i < len(t) && t[i] == '!' {
		if n != "0" {
			epoch.lo = len(b)
			b = append(b, n...)
			epoch.hi = len(b)
			b = append(b, '!')
		}
		if n, i, ok = number(t, i+1); !ok {
			return Version{}, false
		}
	}
	rel.lo = len(b)
	b = append(b, n...)
	for i+1 < len(t) && t[i] == '.' && isDigit(t[i+1]) {
		n, i, _ = number(t, i+1)
		b = append(b, '.')
		b = append(b, n...)
	}
	rel.hi = len(b)

	// Pre-release: [-_.]? (alpha|a|beta|b|preview|pre|c|rc) [-_.]? N?
	j := i
	if j < len(t) && isSep(t[j]) {
		j++
	}
	if kind, w := preWord(t, j); kind != 0 {
		v.preKind = kind
		i = j + w
		if i < len(t) && isSep(t[i]) {
			i++
		}
		if n, i, ok = number(t, i); !ok {
			n = "0"
		}
		b = append(b, preNames[kind]...)
		pre.lo = len(b)
		b = append(b, n...)
		pre.hi = len(b)
	}

	// Post-release: -N, or [-_.]? (post|rev|r) [-_.]? N?
	hasPost := false
	if i+1 < len(t) && t[i] == '-' && isDigit(t[i+1]) {
		n, i, _ = number(t, i+1)
		hasPost = true
	} else {
		j = i
		if j < len(t) && isSep(t[j]) {
			j++
		}
		w := 0
		switch {
		case hasWord(t, j, "post"):
			w = 4
		case hasWord(t, j, "rev"):
			w = 3
		case hasWord(t, j, "r"):
			w = 1
		}
		if w > 0 {
			i = j + w
			if i < len(t) && isSep(t[i]) {
				i++
			}
			if n, i, ok = number(t, i); !ok {
				n = "0"
			}
			hasPost = true
		}
	}
	if hasPost {
		b = append(b, ".post"...)
		post.lo = len(b)
		b = append(b, n...)
		post.hi = len(b)
	}

	// Development release: [-_.]? dev [-_.]? N?
	j = i
	if j < len(t) && isSep(t[j]) {
		j++
	}
	if hasWord(t, j, "dev") {
		i = j + 3
		if i < len(t) && isSep(t[i]) {
			i++
		}
		if n, i, ok = number(t, i); !ok {
			n = "0"
		}
		b = append(b, ".dev"...)
		dev.lo = len(b)
		b = append(b, n...)
		dev.hi = len(b)
	}

	// Local label: + [a-z0-9]+ ([-_.] [a-z0-9]+)*
	if i < len(t) && t[i] == '+' {
		i++
		b = append(b, '+')
		local.lo = len(b)
		for {
			j = i
			allDigits := true
			for j < len(t) && isAlnum(t[j]) {
				allDigits = allDigits && isDigit(t[j])
				j++
			}
			if j == i {
				return Version{}, false
			}
			if allDigits {
				n, _, _ = number(t, i)
				b = append(b, n...)
			} else {
				for k := i; k < j; k++ {
					b = append(b, lower(t[k]))
				}
			}
			i = j
			if i < len(t) && isSep(t[i]) {
				b = append(b, '.')
				i++
				continue
			}
			break
		}
		local.hi = len(b)
	}
	if i != len(t) {
		return Version{}, false
	}

	if string(b) == t {
		v.s = t
	} else {
		v.s = string(b)
	}
	v.epoch = v.s[epoch.lo:epoch.hi]
	v.relLo, v.relHi = rel.lo, rel.hi
	v.pre = v.s[pre.lo:pre.hi]
	v.post = v.s[post.lo:post.hi]
	v.dev = v.s[dev.lo:dev.hi]
	v.local = v.s[local.lo:local.hi]
	return v, true
}

// preWord matches a pre-release spelling at t[i:], longest first, which is
// the regex's choice too since a shorter match can never be continued.
func preWord(t string, i int) (kind uint8, width int) {
	if i >= len(t) {
		return 0, 0
	}
	switch lower(t[i]) {
	case 'a':
		if hasWord(t, i, "alpha") {
			return preA, 5
		}
		return preA, 1
	case 'b':
		if hasWord(t, i, "beta") {
			return preB, 4
		}
		return preB, 1
	case 'c':
		return preRC, 1
	case 'r':
		if hasWord(t, i, "rc") {
			return preRC, 2
		}
	case 'p':
		if hasWord(t, i, "preview") {
			return preRC, 7
		}
		if hasWord(t, i, "pre") {
			return preRC, 3
		}
	}
	return 0, 0
}

// String returns the normalised form of v, as packaging's str(Version).
func (v Version) String() string { return v.s }

// Release returns the release segment as written in the normalised form,
// such as "1.2.0".
func (v Version) Release() string { return v.s[v.relLo:v.relHi] }

// Local returns the normalised local label without the '+', or "".
func (v Version) Local() string { return v.local }

// IsLocal reports whether v has a local label ("1.0+ubuntu1").
func (v Version) IsLocal() bool { return v.local != "" }

// IsPrerelease reports whether v is a pre-release or a development
// release, as packaging's Version.is_prerelease.
func (v Version) IsPrerelease() bool { return v.preKind != 0 || v.dev != "" }

// IsPostrelease reports whether v has a post-release segment.
func (v Version) IsPostrelease() bool { return v.post != "" }

// IsDevrelease reports whether v has a development-release segment.
func (v Version) IsDevrelease() bool { return v.dev != "" }

// Public returns the normalised form without the local label.
func (v Version) Public() string {
	if v.local == "" {
		return v.s
	}
	return v.s[:len(v.s)-len(v.local)-1]
}

// Canonical returns packaging.utils.canonicalize_version(v): the normalised
// form with trailing ".0" components of the release removed (keeping at
// least one), so "1.0" and "1.0.0" share one release key.
func (v Version) Canonical() string {
	r := v.s[v.relLo:v.relHi]
	k := len(r)
	for k >= 2 && r[k-1] == '0' && r[k-2] == '.' {
		k -= 2
	}
	if k == len(r) {
		return v.s
	}
	return v.s[:v.relLo+k] + v.s[v.relHi:]
}

// Equal reports whether a and b are the same version under PEP 440, so
// 1.0 equals 1.0.0.
func (v Version) Equal(w Version) bool { return Compare(v, w) == 0 }

// cmpNum orders decimal strings without leading zeros.
func cmpNum(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// nextComponent splits the first dot-separated component off s; an
// exhausted release continues as zeros.
func nextComponent(s string) (comp, rest string) {
	if s == "" {
		return "0", ""
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// Compare orders versions as PEP 440 and packaging.version do: by epoch,
// release (trailing zeros ignored), then pre-release (a development release
// of a final version comes before its pre-releases), post-release,
// development release and local label. It returns -1, 0 or +1.
func Compare(a, b Version) int {
	ae, be := a.epoch, b.epoch
	if ae == "" {
		ae = "0"
	}
	if be == "" {
		be = "0"
	}
	if c := cmpNum(ae, be); c != 0 {
		return c
	}
	ar, br := a.s[a.relLo:a.relHi], b.s[b.relLo:b.relHi]
	for ar != "" || br != "" {
		var x, y string
		x, ar = nextComponent(ar)
		y, br = nextComponent(br)
		if c := cmpNum(x, y); c != 0 {
			return c
		}
	}
	if c := cmpInt(preRank(a), preRank(b)); c != 0 {
		return c
	}
	if a.preKind != 0 {
		if c := cmpNum(a.pre, b.pre); c != 0 {
			return c
		}
	}
	// Absent post sorts before post0; absent dev sorts after every dev.
	if c := cmpOptional(a.post, b.post, -1); c != 0 {
		return c
	}
	if c := cmpOptional(a.dev, b.dev, +1); c != 0 {
		return c
	}
	return cmpLocal(a.local, b.local)
}

// preRank places the pre-release segment: 0 for a development release of
// a final version (1.0.dev1 < 1.0a1), 1-3 for a/b/rc, 4 for none.
func preRank(v Version) int {
	switch {
	case v.preKind != 0:
		return int(v.preKind)
	case v.post == "" && v.dev != "":
		return 0
	default:
		return 4
	}
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpOptional compares two optional numbers; absent sorts on the side
// given by absent (-1 before every number, +1 after).
func cmpOptional(a, b string, absent int) int {
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return absent
	case b == "":
		return -absent
	}
	return cmpNum(a, b)
}

// cmpLocal orders local labels segment by segment: numeric segments
// numerically and above alphanumeric ones, alphanumeric ones as strings, and
// a label that is a prefix of another first. No label sorts first.
func cmpLocal(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == "":
		return -1
	case b == "":
		return 1
	}
	for a != "" && b != "" {
		var x, y string
		x, a, _ = strings.Cut(a, ".")
		y, b, _ = strings.Cut(b, ".")
		xn, yn := allDigits(x), allDigits(y)
		var c int
		switch {
		case xn && yn:
			c = cmpNum(x, y)
		case xn:
			c = 1
		case yn:
			c = -1
		default:
			c = strings.Compare(x, y)
		}
		if c != 0 {
			return c
		}
	}
	return cmpInt(len(a), len(b))
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// SortVersions sorts version strings in PEP 440 order, in place. Strings
// that do not parse come first, in byte order; equal versions spelt
// differently ("1.0", "1.0.0") are ordered by their spelling so the result
// is deterministic.
func SortVersions(vs []string) {
	type item struct {
		s  string
		v  Version
		ok bool
	}
	items := make([]item, len(vs))
	for i, s := range vs {
		v, ok := parseVersion(s)
		items[i] = item{s, v, ok}
	}
	slices.SortFunc(items, func(x, y item) int {
		switch {
		case x.ok != y.ok:
			if !x.ok {
				return -1
			}
			return 1
		case x.ok:
			if c := Compare(x.v, y.v); c != 0 {
				return c
			}
		}
		return strings.Compare(x.s, y.s)
	})
	for i := range items {
		vs[i] = items[i].s
	}
}
