// Package pypi holds the pure protocol code of the Python packaging
// ecosystem: project-name normalisation (PEP 503), versions (PEP 440),
// distribution filenames (PEP 427, PEP 625), core metadata, inspection of
// uploaded archives, and the simple index model and rendering. It performs no
// network or database I/O; archive inspection reads only what the caller
// hands in.
package pypi

// isSep reports whether c is one of the PEP 503 separators.
func isSep(c byte) bool { return c == '-' || c == '_' || c == '.' }

func isAlnum(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// Normalize returns the PEP 503 normalised form of a project name: lower
// case, with every run of '-', '_' and '.' replaced by a single '-'. It is
// the key projects are stored and looked up by. A name that is already
// normalised is returned as is, without allocating, which is the common case
// on the index hot path.
func Normalize(name string) string {
	if isNormalized(name) {
		return name
	}
	b := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case isSep(c):
			if i > 0 && isSep(name[i-1]) {
				continue // the run already produced its '-'
			}
			b = append(b, '-')
		case c >= 'A' && c <= 'Z':
			b = append(b, c+('a'-'A'))
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func isNormalized(name string) bool {
	prevDash := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_' || c == '.' || (c >= 'A' && c <= 'Z'):
			return false
		case c == '-':
			if prevDash {
				return false
			}
			prevDash = true
		default:
			prevDash = false
		}
	}
	return true
}

// EscapeName returns the form of a project name used inside distribution
// filenames and .dist-info directory names (PEP 427, PEP 625): the
// normalised name with '_' in place of '-'.
func EscapeName(name string) string {
	n := Normalize(name)
	for i := 0; i < len(n); i++ {
		if n[i] == '-' {
			b := []byte(n)
			for j := i; j < len(b); j++ {
				if b[j] == '-' {
					b[j] = '_'
				}
			}
			return string(b)
		}
	}
	return n
}

// ValidName reports whether name is a valid project name as PyPI's upload
// form checks it: ASCII letters and digits, with '.', '_' and '-' allowed
// inside but not at either end.
func ValidName(name string) bool {
	n := len(name)
	if n == 0 || !isAlnum(name[0]) || !isAlnum(name[n-1]) {
		return false
	}
	for i := 1; i < n-1; i++ {
		if c := name[i]; !isAlnum(c) && !isSep(c) {
			return false
		}
	}
	return true
}
