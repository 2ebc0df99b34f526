package store

import (
	"slices"
	"strings"
	"unicode"
)

// maxSearchWords bounds the words indexed per project, so a summary that
// is a paragraph does not bloat the index.
const maxSearchWords = 32

// SearchWords splits text into lower-case search words: runs of letters and
// digits, at least two long, each once, in order of first appearance. A
// project is indexed under the words of its normalised name and summary;
// a query is split the same way.
func SearchWords(text string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		if len(w) < 2 || len(w) > 64 || slices.Contains(out, w) {
			continue
		}
		out = append(out, w)
		if len(out) == maxSearchWords {
			break
		}
	}
	return out
}
