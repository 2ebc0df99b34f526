package pypi

import (
	"fmt"
	"strings"

	"github.com/wharf-dev/wharf/internal/errs"
)

// Specifier is one clause of a PEP 440 version specifier set, such as
// ">=3.9" or "==3.8.*".
type Specifier struct {
	Op string // one of ~= == != <= >= < > ===
	// Version is the version as written (trimmed); for "===" any string.
	Version string
	// Wildcard is true for a prefix match ("==3.8.*"); Version then
	// omits the ".*".
	Wildcard bool
}

// specifierOps is longest first, so "===" is not read as "==" and "<=" not
// as "<".
var specifierOps = []string{"===", "~=", "==", "!=", "<=", ">=", "<", ">"}

// ParseSpecifierSet parses a comma-separated PEP 440 specifier set with the
// rules of packaging.specifiers.SpecifierSet (which PyPI applies to
// Requires-Python): empty clauses are ignored, "==" and "!=" allow a ".*"
// suffix after a plain release and a local label otherwise, "~=" needs at
// least two release numbers, the ordered comparisons allow neither, and
// "===" compares any string without spaces. An empty set is valid.
func ParseSpecifierSet(s string) ([]Specifier, error) {
	var set []Specifier
	for _, clause := range strings.Split(s, ",") {
		clause = strings.TrimSpace(clause)
		if clause == "" {
			continue
		}
		sp, ok := parseSpecifier(clause)
		if !ok {
			return nil, errs.E(errs.Invalid, "pypi.ParseSpecifierSet",
				fmt.Errorf("invalid specifier %q in %q: use PEP 440 specifiers such as '>=3.9' or '>=3.8,<4'", clip(clause, 100), clip(s, 200)))
		}
		set = append(set, sp)
	}
	return set, nil
}

func parseSpecifier(clause string) (Specifier, bool) {
	var sp Specifier
	for _, op := range specifierOps {
		if strings.HasPrefix(clause, op) {
			sp.Op = op
			break
		}
	}
	if sp.Op == "" {
		return sp, false
	}
	sp.Version = strings.TrimSpace(clause[len(sp.Op):])
	if sp.Op == "===" {
		// Arbitrary equality: anything without whitespace, ';' or ')'.
		return sp, !strings.ContainsAny(sp.Version, " \t\n\r\f\v;)")
	}
	if strings.ContainsAny(sp.Version, " \t\n\r\f\v") {
		return sp, false
	}
	if prefix, ok := strings.CutSuffix(sp.Version, ".*"); ok {
		if sp.Op != "==" && sp.Op != "!=" {
			return sp, false
		}
		v, err := ParseVersion(prefix)
		// Only epoch and release before the wildcard.
		if err != nil || v.preKind != 0 || v.post != "" || v.dev != "" || v.local != "" {
			return sp, false
		}
		sp.Version, sp.Wildcard = prefix, true
		return sp, true
	}
	v, err := ParseVersion(sp.Version)
	if err != nil {
		return sp, false
	}
	switch sp.Op {
	case "==", "!=":
		return sp, true
	case "~=":
		return sp, v.local == "" && strings.Contains(v.Release(), ".")
	default:
		return sp, v.local == ""
	}
}
