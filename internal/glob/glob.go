// Package glob matches wildcard patterns where '*' stands for any run of
// characters (possibly empty) and everything else is literal. Token project
// scopes ("acme-*") and trust-policy matchers (within one path segment)
// share it.
package glob

// Match reports whether s matches pat. Linear time in practice (the
// classic backtrack-to-last-star algorithm), no allocation.
func Match(pat, s string) bool {
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(s) {
		switch {
		case p < len(pat) && pat[p] == '*':
			star, mark = p, n
			p++
		case p < len(pat) && pat[p] == s[n]:
			p++
			n++
		case star >= 0:
			// Let the last '*' swallow one more character and retry.
			mark++
			p, n = star+1, mark
		default:
			return false
		}
	}
	for p < len(pat) && pat[p] == '*' {
		p++
	}
	return p == len(pat)
}
