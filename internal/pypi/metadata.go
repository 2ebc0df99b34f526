package pypi

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/wharf-dev/wharf/internal/errs"
)

// MaxMetadataSize is the largest core metadata file (METADATA, PKG-INFO)
// accepted. Real ones are a few KiB plus the long description; PyPI's
// largest are well under this.
const MaxMetadataSize = 1 << 20

// Metadata is a parsed core metadata file (METADATA in a wheel, PKG-INFO in
// an sdist, or the body served for PEP 658). The named fields are the
// common ones, taken from the first occurrence; Fields holds every header
// with all its values, so nothing in the file is lost.
type Metadata struct {
	MetadataVersion string
	Name            string
	Version         string

	Summary                string
	Description            string // the body after the headers, or the Description header
	DescriptionContentType string
	Keywords               string
	HomePage               string
	DownloadURL            string
	Author                 string
	AuthorEmail            string
	Maintainer             string
	MaintainerEmail        string
	License                string
	LicenseExpression      string
	RequiresPython         string

	Classifiers        []string
	RequiresDist       []string
	ProvidesExtra      []string
	ProjectURLs        []string // "Label, https://..." as written
	LicenseFiles       []string
	Platforms          []string
	SupportedPlatforms []string
	RequiresExternal   []string
	ProvidesDist       []string
	ObsoletesDist      []string
	Dynamic            []string

	// Fields maps each header, spelt as in the core metadata specification
	// for known fields ("Home-page", "Project-URL") and with each word
	// capitalised for others, to its values in file order.
	Fields map[string][]string
}

// Get returns the first value of a header, matching its name without
// regard to case, or "".
func (m Metadata) Get(key string) string {
	if vs := m.Fields[FieldName(key)]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// Values returns every value of a header, matching its name without regard
// to case.
func (m Metadata) Values(key string) []string { return m.Fields[FieldName(key)] }

// FieldName returns the canonical spelling of a core metadata header name:
// the specification's for known fields, otherwise each '-'-separated word
// capitalised.
func FieldName(key string) string {
	lk := strings.ToLower(key)
	switch lk {
	case "metadata-version":
		return "Metadata-Version"
	case "name":
		return "Name"
	case "version":
		return "Version"
	case "dynamic":
		return "Dynamic"
	case "platform":
		return "Platform"
	case "supported-platform":
		return "Supported-Platform"
	case "summary":
		return "Summary"
	case "description":
		return "Description"
	case "description-content-type":
		return "Description-Content-Type"
	case "keywords":
		return "Keywords"
	case "home-page":
		return "Home-page"
	case "download-url":
		return "Download-URL"
	case "author":
		return "Author"
	case "author-email":
		return "Author-email"
	case "maintainer":
		return "Maintainer"
	case "maintainer-email":
		return "Maintainer-email"
	case "license":
		return "License"
	case "license-expression":
		return "License-Expression"
	case "license-file":
		return "License-File"
	case "classifier":
		return "Classifier"
	case "requires-dist":
		return "Requires-Dist"
	case "requires-python":
		return "Requires-Python"
	case "requires-external":
		return "Requires-External"
	case "project-url":
		return "Project-URL"
	case "provides-extra":
		return "Provides-Extra"
	case "provides-dist":
		return "Provides-Dist"
	case "obsoletes-dist":
		return "Obsoletes-Dist"
	case "import-name":
		return "Import-Name"
	case "import-namespace":
		return "Import-Namespace"
	}
	b := []byte(lk)
	up := true
	for i, c := range b {
		if up && c >= 'a' && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
		up = c == '-'
	}
	return string(b)
}

// multiline reports whether continuation lines of a field keep their line
// breaks (after removing the 8-space indentation setuptools writes), as
// pkginfo and twine read them; other fields are unfolded with one space.
func multiline(field string) bool { return field == "Description" || field == "License" }

func metaErr(msg string) error {
	return errs.E(errs.Invalid, "pypi.ParseMetadata", errors.New(msg))
}

// ParseMetadata parses core metadata in the RFC 822-like format of
// METADATA and PKG-INFO, as tolerantly as packaging's email-based parser:
// CRLF or LF line ends, folded continuation lines, repeated fields, and the
// body after the first blank line as the description. A line that is
// neither a header nor a continuation ends the headers, as in Python's
// email parser. Metadata-Version, Name and Version must be present and not
// repeated with different values; Validate checks their values.
func ParseMetadata(b []byte) (Metadata, error) {
	if len(b) > MaxMetadataSize {
		return Metadata{}, metaErr(fmt.Sprintf("Core metadata is larger than %d KiB; shorten the long description.", MaxMetadataSize>>10))
	}
	if !utf8.Valid(b) {
		return Metadata{}, metaErr("Core metadata is not valid UTF-8; write METADATA/PKG-INFO in UTF-8.")
	}
	s := strings.TrimPrefix(string(b), "\ufeff")
	m := Metadata{Fields: make(map[string][]string, 16)}

	// Continuation lines are collected and joined once per header, so a
	// file of many short folded lines costs linear time, not quadratic.
	var key string // the header the last line belonged to, for continuations
	var folded []string
	flush := func() {
		if len(folded) > 0 {
			vs := m.Fields[key]
			vs[len(vs)-1] = unfold(vs[len(vs)-1], folded, multiline(key))
			folded = folded[:0]
		}
	}
	body, haveBody := "", false
	for rest := s; rest != ""; {
		line, next, _ := strings.Cut(rest, "\n")
		line = strings.TrimSuffix(line, "\r")
		switch {
		case line == "":
			body, haveBody = next, true
		case line[0] == ' ' || line[0] == '\t':
			if key != "" {
				folded = append(folded, line)
			}
			rest = next
			continue
		default:
			name, value, ok := strings.Cut(line, ":")
			if ok && validHeaderName(name) {
				flush()
				key = FieldName(name)
				m.Fields[key] = append(m.Fields[key], strings.TrimSpace(value))
				rest = next
				continue
			}
			if key == "" && strings.HasPrefix(line, "From ") {
				rest = next // an mbox "From " line before the headers
				continue
			}
			body, haveBody = rest, true // not a header: the body starts here
		}
		break
	}
	flush()

	for _, f := range []string{"Metadata-Version", "Name", "Version"} {
		vs := m.Fields[f]
		if len(vs) == 0 || vs[0] == "" {
			return Metadata{}, metaErr(fmt.Sprintf("Core metadata is missing the required field %s.", f))
		}
		for _, v := range vs[1:] {
			if v != vs[0] {
				return Metadata{}, metaErr(fmt.Sprintf("Core metadata has more than one %s field; keep exactly one.", f))
			}
		}
	}

	get := func(k string) string {
		if vs := m.Fields[k]; len(vs) > 0 {
			return vs[0]
		}
		return ""
	}
	m.MetadataVersion, m.Name, m.Version = get("Metadata-Version"), get("Name"), get("Version")
	m.Summary = get("Summary")
	m.Description = get("Description")
	if haveBody && body != "" {
		m.Description = body
	}
	m.DescriptionContentType = get("Description-Content-Type")
	m.Keywords = get("Keywords")
	m.HomePage = get("Home-page")
	m.DownloadURL = get("Download-URL")
	m.Author = get("Author")
	m.AuthorEmail = get("Author-email")
	m.Maintainer = get("Maintainer")
	m.MaintainerEmail = get("Maintainer-email")
	m.License = get("License")
	m.LicenseExpression = get("License-Expression")
	m.RequiresPython = get("Requires-Python")
	m.Classifiers = m.Fields["Classifier"]
	m.RequiresDist = m.Fields["Requires-Dist"]
	m.ProvidesExtra = m.Fields["Provides-Extra"]
	m.ProjectURLs = m.Fields["Project-URL"]
	m.LicenseFiles = m.Fields["License-File"]
	m.Platforms = m.Fields["Platform"]
	m.SupportedPlatforms = m.Fields["Supported-Platform"]
	m.RequiresExternal = m.Fields["Requires-External"]
	m.ProvidesDist = m.Fields["Provides-Dist"]
	m.ObsoletesDist = m.Fields["Obsoletes-Dist"]
	m.Dynamic = m.Fields["Dynamic"]
	return m, nil
}

// validHeaderName accepts RFC 5322 field names: printable ASCII without
// space or ':'.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 127 {
			return false
		}
	}
	return true
}

// unfold joins a header's first-line value with its continuation lines:
// with line breaks and the 8-column setuptools indentation (or old
// distutils' 7 spaces and '|') removed for multi-line fields, with single
// spaces otherwise.
func unfold(first string, lines []string, keepLines bool) string {
	var b strings.Builder
	b.WriteString(first)
	for _, line := range lines {
		if !keepLines {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(line)
			continue
		}
		switch {
		case strings.HasPrefix(line, "        "), strings.HasPrefix(line, "       |"):
			line = line[8:]
		default:
			line = strings.TrimLeft(line, " \t")
		}
		b.WriteByte('\n')
		b.WriteString(strings.TrimRight(line, " \t"))
	}
	return b.String()
}

// SupportedMetadataVersions lists the Metadata-Version values PyPI accepts.
func SupportedMetadataVersions() []string {
	return []string{"1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5"}
}

// Validate checks the values of the identifying fields as PyPI's upload
// does: a known Metadata-Version, a valid project name and a PEP 440
// version. Policy on local versions is the caller's (Version.IsLocal).
func (m Metadata) Validate() error {
	const op = "pypi.Metadata.Validate"
	known := false
	for _, v := range SupportedMetadataVersions() {
		known = known || m.MetadataVersion == v
	}
	if !known {
		return errs.E(errs.Invalid, op, fmt.Errorf("'%s' is an invalid value for Metadata-Version. Error: Use a known metadata version (%s).",
			clip(m.MetadataVersion, 40), strings.Join(SupportedMetadataVersions(), ", ")))
	}
	if !ValidName(m.Name) {
		return errs.E(errs.Invalid, op, fmt.Errorf("'%s' is an invalid value for Name. Error: Start and end with a letter or numeral containing only ASCII numeric and '.', '_' and '-'.", clip(m.Name, 100)))
	}
	if _, ok := parseVersion(m.Version); !ok {
		return errs.E(errs.Invalid, op, fmt.Errorf("'%s' is an invalid value for Version. Error: Use a PEP 440 version such as 1.2.0.", clip(m.Version, 100)))
	}
	return nil
}
