package pypi

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/wharf-dev/wharf/internal/errs"
)

// Limits of archive inspection. They bound the work an upload can cause:
// a hostile archive is refused after at most MaxSdistEntries headers and
// MaxSdistBytes decompressed bytes, and a compression bomb much sooner,
// by the ratio rule PyPI uses.
const (
	MaxSdistEntries       = 100_000
	MaxSdistBytes   int64 = 1 << 30
	// An archive that decompresses to more than RatioFloor bytes must not
	// be more than MaxCompressionRatio times smaller than that.
	MaxCompressionRatio       = 50
	RatioFloor          int64 = 64 << 20
)

func invalidDist(op, format string, args ...any) error {
	return errs.E(errs.Invalid, op, fmt.Errorf("Invalid distribution file. "+format, args...))
}

// InspectWheel checks that r (size bytes) is a wheel whose contents agree
// with its filename d, and returns its METADATA file (for PEP 658) and the
// parsed metadata. It requires a plain zip (stored or deflated members, no
// data before the first member, no unsafe or duplicate member names, within
// the compression ratio), exactly one top-level .dist-info directory, named
// after the filename's project and version, holding METADATA of at most
// MaxMetadataSize bytes, whose Name and Version match the filename after
// normalisation.
func InspectWheel(r io.ReaderAt, size int64, d Dist) (metadata []byte, m Metadata, err error) {
	const op = "pypi.InspectWheel"
	if d.Kind != WheelDist {
		return nil, Metadata{}, errs.E(errs.Invalid, op, fmt.Errorf("'%s' is not a wheel filename.", d.Filename))
	}
	zr, err := openZip(op, r, size)
	if err != nil {
		return nil, Metadata{}, err
	}

	want := d.Name + "-" + d.Version + ".dist-info/METADATA"
	missing := func() error {
		return errs.E(errs.Invalid, op, fmt.Errorf("Wheel '%s' does not contain the required METADATA file: %s", d.Filename, want))
	}
	var distInfo string
	for _, f := range zr.File {
		top, _, nested := strings.Cut(f.Name, "/")
		if !nested || !strings.HasSuffix(top, ".dist-info") || top == distInfo {
			continue
		}
		if distInfo != "" {
			return nil, Metadata{}, errs.E(errs.Invalid, op, fmt.Errorf("Wheel '%s' has more than one .dist-info directory (%s, %s); a wheel has exactly one.", d.Filename, distInfo, top))
		}
		distInfo = top
	}
	if distInfo == "" || !sameDistDir(strings.TrimSuffix(distInfo, ".dist-info"), d) {
		return nil, Metadata{}, missing()
	}
	var mf *zip.File
	for _, f := range zr.File {
		if f.Name == distInfo+"/METADATA" {
			mf = f
			break
		}
	}
	if mf == nil {
		return nil, Metadata{}, missing()
	}
	metadata, err = readZipMember(op, mf)
	if err != nil {
		return nil, Metadata{}, err
	}
	m, err = ParseMetadata(metadata)
	if err != nil {
		return nil, Metadata{}, err
	}
	if err := matchFilename(op, d, m); err != nil {
		return nil, Metadata{}, err
	}
	return metadata, m, nil
}

// sameDistDir reports whether a .dist-info stem "{name}-{version}" names the
// same project and version as the filename, after normalisation.
func sameDistDir(stem string, d Dist) bool {
	i := strings.LastIndexByte(stem, '-')
	if i < 0 || Normalize(stem[:i]) != Normalize(d.Name) {
		return false
	}
	dv, ok1 := parseVersion(stem[i+1:])
	fv, ok2 := parseVersion(d.Version)
	return ok1 && ok2 && Compare(dv, fv) == 0
}

// matchFilename checks that the metadata names the project and version
// the filename does, with PyPI's messages.
func matchFilename(op string, d Dist, m Metadata) error {
	if Normalize(m.Name) != Normalize(d.Name) {
		return errs.E(errs.Invalid, op, fmt.Errorf("Start filename for '%s' with '%s'.", m.Name, EscapeName(m.Name)))
	}
	mv, ok := parseVersion(m.Version)
	if !ok {
		return errs.E(errs.Invalid, op, fmt.Errorf("'%s' is an invalid value for Version. Error: Use a PEP 440 version such as 1.2.0.", clip(m.Version, 100)))
	}
	if fv, ok := parseVersion(d.Version); !ok || Compare(mv, fv) != 0 {
		return errs.E(errs.Invalid, op, fmt.Errorf("Version in filename should be '%s' not '%s'.", mv, d.Version))
	}
	return nil
}

// openZip opens r as a zip archive and refuses what PyPI refuses, plus
// member names no extractor should be handed.
func openZip(op string, r io.ReaderAt, size int64) (*zip.Reader, error) {
	var magic [4]byte
	if size < 4 {
		return nil, invalidDist(op, "File is not a zipfile")
	}
	if _, err := r.ReadAt(magic[:], 0); err != nil {
		return nil, invalidDist(op, "File is not a zipfile")
	}
	// Go's reader, like unzip, tolerates data before the first member;
	// such a file could also be a valid tar or gzip, so refuse it.
	if string(magic[:]) != "PK\x03\x04" {
		return nil, invalidDist(op, "File is not a zipfile")
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		if errors.Is(err, zip.ErrInsecurePath) {
			return nil, invalidDist(op, "ZIP archive not accepted: a member has an unsafe path.")
		}
		return nil, invalidDist(op, "File is not a zipfile")
	}
	var total uint64
	seen := make(map[string]struct{}, len(zr.File))
	for _, f := range zr.File {
		if f.Method != zip.Store && f.Method != zip.Deflate {
			return nil, invalidDist(op, "File does not use a supported compression type")
		}
		if !safeMemberName(f.Name) {
			return nil, invalidDist(op, "ZIP archive not accepted: unsafe member name %q.", clip(f.Name, 100))
		}
		if _, dup := seen[f.Name]; dup {
			return nil, invalidDist(op, "ZIP archive not accepted: duplicate member %q.", clip(f.Name, 100))
		}
		seen[f.Name] = struct{}{}
		total += f.UncompressedSize64
		if total > uint64(RatioFloor) && total/MaxCompressionRatio > uint64(size) {
			return nil, invalidDist(op, "File exceeds compression ratio of %d", MaxCompressionRatio)
		}
	}
	return zr, nil
}

// safeMemberName refuses absolute paths, backslashes, NUL and ".."
// components.
func safeMemberName(name string) bool {
	if name == "" || name[0] == '/' || strings.ContainsAny(name, "\\\x00") {
		return false
	}
	for part := range strings.SplitSeq(name, "/") {
		if part == ".." {
			return false
		}
	}
	return true
}

// readZipMember reads a metadata member with a hard cap: the declared size
// is checked first, and the decompressed stream is cut at the cap because
// the declared size may lie.
func readZipMember(op string, f *zip.File) ([]byte, error) {
	if f.UncompressedSize64 > MaxMetadataSize {
		return nil, invalidDist(op, "%s is larger than %d KiB.", f.Name, MaxMetadataSize>>10)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, invalidDist(op, "%s cannot be read: %v", f.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, MaxMetadataSize+1))
	if errors.Is(err, zip.ErrFormat) {
		// Go's reader stops where the declared size ends, so a bomb
		// whose header lies is cut there, before our own cap.
		return nil, invalidDist(op, "%s is larger than its declared size.", f.Name)
	}
	if err != nil {
		return nil, invalidDist(op, "%s cannot be read: %v", f.Name, err)
	}
	if len(b) > MaxMetadataSize {
		return nil, invalidDist(op, "%s is larger than %d KiB.", f.Name, MaxMetadataSize>>10)
	}
	return b, nil
}

// InspectSdistZip is InspectSdist for legacy .zip sdists.
func InspectSdistZip(r io.ReaderAt, size int64, d Dist) (pkgInfo []byte, m Metadata, found bool, err error) {
	const op = "pypi.InspectSdistZip"
	if d.Kind != SdistDist || d.Ext != ".zip" {
		return nil, Metadata{}, false, errs.E(errs.Invalid, op, fmt.Errorf("'%s' is not a .zip sdist filename.", d.Filename))
	}
	zr, err := openZip(op, r, size)
	if err != nil {
		return nil, Metadata{}, false, err
	}
	top := ""
	var pf *zip.File
	for _, f := range zr.File {
		t, _, _ := strings.Cut(f.Name, "/")
		if top == "" {
			top = t
		} else if t != top {
			return nil, Metadata{}, false, invalidDist(op, "Incorrect number of top-level directories in sdist")
		}
		if f.Name == t+"/PKG-INFO" {
			pf = f
		}
	}
	if pf == nil {
		return nil, Metadata{}, false, nil
	}
	if pkgInfo, err = readZipMember(op, pf); err != nil {
		return nil, Metadata{}, false, err
	}
	if m, err = ParseMetadata(pkgInfo); err != nil {
		return nil, Metadata{}, false, err
	}
	if err = matchFilename(op, d, m); err != nil {
		return nil, Metadata{}, false, err
	}
	return pkgInfo, m, true, nil
}

var (
	errTooBig   = errors.New("decompressed size limit")
	errTooDense = errors.New("compression ratio")
)

// meter counts the bytes read from the raw upload and keeps its tail, so
// the end of the file can be checked for a zip end record.
type meter struct {
	r    io.Reader
	n    int64
	tail []byte
}

const tailKeep = 22 + 0xFFFF // a zip end record and the longest comment

func (m *meter) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.n += int64(n)
	m.tail = append(m.tail, p[:n]...)
	if len(m.tail) > 2*tailKeep {
		m.tail = append(m.tail[:0], m.tail[len(m.tail)-tailKeep:]...)
	}
	return n, err
}

// bombGuard counts decompressed bytes and stops the stream at the absolute
// limit or when the ratio to the compressed bytes read is too high.
type bombGuard struct {
	r   io.Reader
	raw *meter
	n   int64
}

func (g *bombGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	g.n += int64(n)
	switch {
	case g.n > MaxSdistBytes:
		return n, errTooBig
	case g.n > RatioFloor && g.n/MaxCompressionRatio > g.raw.n:
		return n, errTooDense
	}
	return n, err
}

// InspectSdist checks a .tar.gz sdist read from r against its filename d
// and returns {top}/PKG-INFO and its parsed metadata when the archive has
// one (found is false otherwise; PEP 625 sdists must, legacy ones may not).
// The archive must be a gzip-compressed tar with a single top-level
// directory, no sparse members or unsafe names, and no zip archive hidden
// at its end. The work it can cause is bounded by MaxSdistEntries,
// MaxSdistBytes and the compression ratio; PKG-INFO by MaxMetadataSize.
func InspectSdist(r io.Reader, d Dist) (pkgInfo []byte, m Metadata, found bool, err error) {
	const op = "pypi.InspectSdist"
	if d.Kind != SdistDist || d.Ext != ".tar.gz" {
		return nil, Metadata{}, false, errs.E(errs.Invalid, op, fmt.Errorf("'%s' is not a .tar.gz sdist filename.", d.Filename))
	}
	raw := &meter{r: r}
	gz, err := gzip.NewReader(raw)
	if err != nil {
		return nil, Metadata{}, false, invalidDist(op, "File is not a tarfile")
	}
	guard := &bombGuard{r: gz, raw: raw}
	tr := tar.NewReader(guard)
	limitErr := func(err error) error {
		switch {
		case errors.Is(err, errTooBig):
			return invalidDist(op, "Sdist decompresses to more than %d MiB.", MaxSdistBytes>>20)
		case errors.Is(err, errTooDense):
			return invalidDist(op, "File exceeds compression ratio of %d", MaxCompressionRatio)
		}
		return nil
	}

	top := ""
	entries := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if le := limitErr(err); le != nil {
				return nil, Metadata{}, false, le
			}
			if entries == 0 {
				return nil, Metadata{}, false, invalidDist(op, "File is not a tarfile")
			}
			return nil, Metadata{}, false, invalidDist(op, "Tar archive is corrupt: %v", err)
		}
		entries++
		if entries > MaxSdistEntries {
			return nil, Metadata{}, false, invalidDist(op, "Sdist has more than %d entries.", MaxSdistEntries)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue // pax global header (git archive); not a member
		}
		if isSparse(hdr) {
			return nil, Metadata{}, false, invalidDist(op, "Sparse tar members are not accepted.")
		}
		name := strings.TrimPrefix(hdr.Name, "./")
		if !safeMemberName(name) {
			return nil, Metadata{}, false, invalidDist(op, "Tar archive not accepted: unsafe member name %q.", clip(hdr.Name, 100))
		}
		t, _, _ := strings.Cut(name, "/")
		if top == "" {
			top = t
		} else if t != top {
			return nil, Metadata{}, false, invalidDist(op, "Incorrect number of top-level directories in sdist")
		}
		if path.Clean(name) != top+"/PKG-INFO" {
			continue
		}
		if found {
			return nil, Metadata{}, false, invalidDist(op, "Sdist contains more than one %s/PKG-INFO.", top)
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil, Metadata{}, false, invalidDist(op, "%s/PKG-INFO is not a regular file.", top)
		}
		if hdr.Size > MaxMetadataSize {
			return nil, Metadata{}, false, invalidDist(op, "%s/PKG-INFO is larger than %d KiB.", top, MaxMetadataSize>>10)
		}
		pkgInfo, err = io.ReadAll(io.LimitReader(tr, MaxMetadataSize+1))
		if err != nil {
			if le := limitErr(err); le != nil {
				return nil, Metadata{}, false, le
			}
			return nil, Metadata{}, false, invalidDist(op, "Tar archive is corrupt: %v", err)
		}
		found = true
	}
	if entries == 0 {
		return nil, Metadata{}, false, invalidDist(op, "File is not a tarfile")
	}
	// Read the rest of the upload: a zip archive appended after the gzip
	// stream would make the file a different archive to other tools.
	if _, err := io.Copy(io.Discard, raw); err != nil {
		return nil, Metadata{}, false, errs.E(errs.Internal, op, err)
	}
	if hasZipEnd(raw.tail) {
		return nil, Metadata{}, false, invalidDist(op, "File is both a zip and a tar file")
	}
	if !found {
		return nil, Metadata{}, false, nil
	}
	if m, err = ParseMetadata(pkgInfo); err != nil {
		return nil, Metadata{}, false, err
	}
	if err = matchFilename(op, d, m); err != nil {
		return nil, Metadata{}, false, err
	}
	return pkgInfo, m, true, nil
}

func isSparse(h *tar.Header) bool {
	if h.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// hasZipEnd reports whether b ends with a zip end-of-central-directory
// record (whose comment runs exactly to the end), which is what makes
// zip tools, and Python's zipfile.is_zipfile, take a file for a zip.
func hasZipEnd(b []byte) bool {
	for i := len(b) - 22; i >= 0 && len(b)-i <= tailKeep; i-- {
		if string(b[i:i+4]) == "PK\x05\x06" &&
			i+22+int(binary.LittleEndian.Uint16(b[i+20:])) == len(b) {
			return true
		}
	}
	return false
}
