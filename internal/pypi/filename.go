package pypi

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/wharf-dev/wharf/internal/errs"
)

// DistKind says what kind of distribution a file is.
type DistKind uint8

const (
	WheelDist DistKind = iota + 1 // a built distribution, PEP 427
	SdistDist                     // a source distribution, PEP 625 (or legacy)
)

// String returns the upload form's "filetype" value for the kind.
func (k DistKind) String() string {
	switch k {
	case WheelDist:
		return "bdist_wheel"
	case SdistDist:
		return "sdist"
	}
	return fmt.Sprintf("DistKind(%d)", uint8(k))
}

// Dist is what a distribution filename says about the file.
type Dist struct {
	Kind     DistKind
	Filename string // the whole filename, as given
	Ext      string // ".whl", ".tar.gz" or ".zip"

	// Name and Version are written as in the filename, so
	// "Foo_Bar-1.0.tar.gz" gives "Foo_Bar" and "1.0"; normalise with
	// Normalize and ParseVersion before comparing.
	Name, Version string

	// Wheel tags; empty for sdists. Compressed tag sets stay as written
	// ("py2.py3").
	Build, PythonTag, ABITag, PlatformTag string

	// Legacy is set for an sdist that is not in the PEP 625 form
	// "{escaped name}-{normalised version}.tar.gz": a .zip sdist, or one
	// whose name or version part is not normalised. PyPI refuses these on
	// upload; a pull-through cache must still serve them.
	Legacy bool
}

// Project returns the normalised project name from the filename.
func (d Dist) Project() string { return Normalize(d.Name) }

// MaxFilenameLen is the longest filename accepted, in bytes; most file
// systems refuse longer names.
const MaxFilenameLen = 255

// CheckFilename refuses filenames that are unsafe to store, serve or put
// into a URL, with PyPI's wording where PyPI has one. It does not check the
// form of the name; ParseFilename does.
func CheckFilename(filename string) error {
	const op = "pypi.CheckFilename"
	switch {
	case filename == "":
		return errs.E(errs.Invalid, op, errors.New("Cannot upload a file with an empty name."))
	case len(filename) > MaxFilenameLen:
		return errs.E(errs.Invalid, op, fmt.Errorf("Cannot upload a file with a name longer than %d bytes.", MaxFilenameLen))
	case strings.ContainsAny(filename, `/\`):
		return errs.E(errs.Invalid, op, errors.New(`Cannot upload a file with '/' or '\' in the name.`))
	}
	for i := 0; i < len(filename); i++ {
		if c := filename[i]; c < 32 || c == 127 {
			return errs.E(errs.Invalid, op, errors.New("Cannot upload a file with non-printable characters (ordinals 0-31) or the DEL character (ordinal 127) in the name."))
		}
	}
	switch {
	case strings.Contains(filename, ".."):
		return errs.E(errs.Invalid, op, errors.New("Cannot upload a file with '..' in the name."))
	case !utf8.ValidString(filename):
		return errs.E(errs.Invalid, op, errors.New("Cannot upload a file whose name is not valid UTF-8."))
	}
	return nil
}

const extHelp = "Invalid file extension: Use .tar.gz, .whl or .zip extension. See https://www.python.org/dev/peps/pep-0527 and https://peps.python.org/pep-0715/ for more information."

// ParseFilename parses a wheel filename (PEP 427:
// {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl) or an sdist
// filename ({name}-{version}.tar.gz, PEP 625, or legacy .zip and
// unnormalised names, split at the last '-' as packaging does). The version
// must be a PEP 440 version. The filename is first checked with
// CheckFilename.
func ParseFilename(filename string) (Dist, error) {
	if err := CheckFilename(filename); err != nil {
		return Dist{}, err
	}
	switch {
	case strings.HasSuffix(filename, ".whl"):
		return parseWheelFilename(filename)
	case strings.HasSuffix(filename, ".tar.gz"):
		return parseSdistFilename(filename, ".tar.gz")
	case strings.HasSuffix(filename, ".zip"):
		return parseSdistFilename(filename, ".zip")
	}
	return Dist{}, errs.E(errs.Invalid, "pypi.ParseFilename", errors.New(extHelp))
}

func filenameErr(format string, args ...any) error {
	return errs.E(errs.Invalid, "pypi.ParseFilename", fmt.Errorf(format, args...))
}

func parseWheelFilename(filename string) (Dist, error) {
	stem := strings.TrimSuffix(filename, ".whl")
	var parts [6]string
	n := 0
	for rest := stem; ; n++ {
		i := strings.IndexByte(rest, '-')
		if n == len(parts)-1 || i < 0 {
			parts[n] = rest
			if i >= 0 {
				n = -1 // too many parts
			}
			break
		}
		parts[n], rest = rest[:i], rest[i+1:]
	}
	n++
	if n != 5 && n != 6 {
		return Dist{}, filenameErr("Invalid wheel filename (wrong number of parts): '%s'. Use {name}-{version}(-{build})?-{python tag}-{abi tag}-{platform tag}.whl.", filename)
	}
	d := Dist{Kind: WheelDist, Filename: filename, Ext: ".whl", Name: parts[0], Version: parts[1]}
	if !ValidName(d.Name) || strings.Contains(d.Name, "__") {
		return Dist{}, filenameErr("Invalid project name in wheel filename '%s': use the normalised name with '_' for '-'.", filename)
	}
	if _, ok := parseVersion(d.Version); !ok || d.Version != strings.TrimSpace(d.Version) {
		return Dist{}, filenameErr("Invalid wheel filename (invalid version): '%s'. Use a PEP 440 version.", filename)
	}
	tags := parts[2:n]
	if n == 6 {
		d.Build, tags = parts[2], parts[3:n]
		if d.Build == "" || !isDigit(d.Build[0]) || !tagChars(d.Build) {
			return Dist{}, filenameErr("Invalid build number in wheel filename '%s': a build tag starts with a digit.", filename)
		}
	}
	for _, tag := range tags {
		if !validTagSet(tag) {
			return Dist{}, filenameErr("Invalid wheel filename (invalid tag '%s'): '%s'.", tag, filename)
		}
	}
	d.PythonTag, d.ABITag, d.PlatformTag = tags[0], tags[1], tags[2]
	return d, nil
}

func tagChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// validTagSet checks a possibly compressed tag set such as "py2.py3":
// non-empty dot-separated tags of letters, digits and '_'.
func validTagSet(s string) bool {
	if s == "" || !tagChars(s) || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	return !strings.Contains(s, "..")
}

func parseSdistFilename(filename, ext string) (Dist, error) {
	stem := strings.TrimSuffix(filename, ext)
	i := strings.LastIndexByte(stem, '-')
	if i < 0 {
		return Dist{}, filenameErr("Invalid sdist filename '%s': use {name}-{version}%s.", filename, ext)
	}
	d := Dist{Kind: SdistDist, Filename: filename, Ext: ext, Name: stem[:i], Version: stem[i+1:]}
	if !ValidName(d.Name) {
		return Dist{}, filenameErr("Invalid project name in sdist filename '%s': use {name}-{version}%s.", filename, ext)
	}
	v, ok := parseVersion(d.Version)
	if !ok || d.Version != strings.TrimSpace(d.Version) {
		return Dist{}, filenameErr("Invalid sdist filename (invalid version): '%s'. Use a PEP 440 version.", filename)
	}
	d.Legacy = ext != ".tar.gz" || d.Version != v.String() || d.Name != EscapeName(d.Name)
	return d, nil
}

// SdistFilename returns the PEP 625 filename of an sdist for a project
// name and a version string (normalised if it parses).
func SdistFilename(name, version string) string {
	if v, ok := parseVersion(version); ok {
		version = v.String()
	}
	return EscapeName(name) + "-" + version + ".tar.gz"
}
