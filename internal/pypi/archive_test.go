package pypi

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wharf-dev/wharf/internal/errs"
)

func meta(name, version string) string {
	return "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\nSummary: test\n\nbody\n"
}

// member is one archive entry for the test builders. A zero-filled
// member of size zeros is streamed, never held in memory.
type member struct {
	name   string
	body   string
	zeros  int64  // if > 0, body is this many zero bytes
	method uint16 // zip only; default Deflate
	lie    int64  // zip only: declared uncompressed size, if > 0
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func (m member) reader() io.Reader {
	if m.zeros > 0 {
		return io.LimitReader(zeroReader{}, m.zeros)
	}
	return strings.NewReader(m.body)
}

func buildZip(t testing.TB, members ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestSpeed)
	})
	for _, m := range members {
		method := m.method
		if method == 0 {
			method = zip.Deflate
		}
		if m.lie > 0 {
			// Write the member raw, so its header can claim any size.
			var comp bytes.Buffer
			fw, _ := flate.NewWriter(&comp, flate.BestSpeed)
			crc := crc32.NewIEEE()
			if _, err := io.Copy(io.MultiWriter(fw, crc), m.reader()); err != nil {
				t.Fatal(err)
			}
			fw.Close()
			w, err := zw.CreateRaw(&zip.FileHeader{Name: m.name, Method: zip.Deflate, CRC32: crc.Sum32(),
				CompressedSize64: uint64(comp.Len()), UncompressedSize64: uint64(m.lie)})
			if err != nil {
				t.Fatal(err)
			}
			w.Write(comp.Bytes())
			continue
		}
		if method != zip.Store && method != zip.Deflate {
			w, err := zw.CreateRaw(&zip.FileHeader{Name: m.name, Method: method,
				CompressedSize64: uint64(len(m.body)), UncompressedSize64: uint64(len(m.body))})
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(w, m.body)
			continue
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: m.name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, m.reader()); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func buildWheel(t testing.TB, distInfo, metadata string, extra ...member) []byte {
	t.Helper()
	ms := []member{
		{name: "pkg/__init__.py", body: "x = 1\n"},
		{name: distInfo + "/METADATA", body: metadata},
		{name: distInfo + "/WHEEL", body: "Wheel-Version: 1.0\n"},
		{name: distInfo + "/RECORD", body: ""},
	}
	return buildZip(t, append(ms, extra...)...)
}

type tarMember struct {
	hdr   tar.Header
	body  string
	zeros int64
}

func buildSdist(t testing.TB, members ...tarMember) []byte {
	t.Helper()
	var buf bytes.Buffer
	gw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	tw := tar.NewWriter(gw)
	for _, m := range members {
		h := m.hdr
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 && h.Typeflag != tar.TypeXGlobalHeader {
			h.Mode = 0o644
		}
		var r io.Reader = strings.NewReader(m.body)
		h.Size = int64(len(m.body))
		if m.zeros > 0 {
			r, h.Size = io.LimitReader(zeroReader{}, m.zeros), m.zeros
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := io.Copy(tw, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	gw.Close()
	return buf.Bytes()
}

func file(name, body string) tarMember {
	return tarMember{hdr: tar.Header{Name: name}, body: body}
}

func dist(t testing.TB, filename string) Dist {
	t.Helper()
	d, err := ParseFilename(filename)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func wantErr(t *testing.T, name string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: unexpected error %v", name, err)
	case want != "" && err == nil:
		t.Errorf("%s: no error, want %q", name, want)
	case want != "" && (!errs.Is(err, errs.Invalid) || !strings.Contains(errs.Message(err), want)):
		t.Errorf("%s: error %q (kind %v), want Invalid containing %q", name, errs.Message(err), errs.KindOf(err), want)
	case err != nil && strings.Contains(errs.Message(err), "\n"):
		t.Errorf("%s: error message has several lines: %q", name, errs.Message(err))
	}
}

func TestInspectWheel(t *testing.T) {
	t.Parallel()
	const fn = "foo_bar-1.0-py3-none-any.whl"
	good := meta("Foo.Bar", "1.0")
	tests := []struct {
		name     string
		filename string
		data     []byte
		want     string // error substring, "" for success
	}{
		{"valid", fn, buildWheel(t, "foo_bar-1.0.dist-info", good), ""},
		{"dist-info spelt differently", fn, buildWheel(t, "Foo.Bar-1.0.0.dist-info", good), ""},
		{"version equal under PEP 440", "foo_bar-1.0.0-py3-none-any.whl", buildWheel(t, "foo_bar-1.0.0.dist-info", good), ""},
		{"stored members", fn, buildZip(t, member{name: "foo_bar-1.0.dist-info/METADATA", body: good, method: zip.Store}), ""},
		{"not a zip", fn, []byte("this is not a zip file at all"), "Invalid distribution file. File is not a zipfile"},
		{"empty", fn, nil, "File is not a zipfile"},
		{"tar.gz named .whl", fn, buildSdist(t, file("foo_bar-1.0/PKG-INFO", good)), "File is not a zipfile"},
		{"data before zip", fn, append([]byte("#!/bin/sh\n"), buildWheel(t, "foo_bar-1.0.dist-info", good)...), "File is not a zipfile"},
		{"truncated zip", fn, buildWheel(t, "foo_bar-1.0.dist-info", good)[:60], "File is not a zipfile"},
		{"wrong dist-info name", fn, buildWheel(t, "other-1.0.dist-info", good),
			"Wheel 'foo_bar-1.0-py3-none-any.whl' does not contain the required METADATA file: foo_bar-1.0.dist-info/METADATA"},
		{"wrong dist-info version", fn, buildWheel(t, "foo_bar-2.0.dist-info", good), "does not contain the required METADATA file"},
		{"no dist-info", fn, buildZip(t, member{name: "pkg/__init__.py"}), "does not contain the required METADATA file"},
		{"no METADATA", fn, buildZip(t, member{name: "foo_bar-1.0.dist-info/WHEEL", body: "x"}), "does not contain the required METADATA file"},
		{"nested METADATA only", fn, buildZip(t, member{name: "foo_bar-1.0.dist-info/sub/METADATA", body: good}), "does not contain the required METADATA file"},
		{"two dist-info dirs", fn, buildWheel(t, "foo_bar-1.0.dist-info", good, member{name: "evil-1.0.dist-info/METADATA", body: good}),
			"more than one .dist-info directory"},
		{"mismatched name", fn, buildWheel(t, "foo_bar-1.0.dist-info", meta("Other-Name", "1.0")), "Start filename for 'Other-Name' with 'other_name'."},
		{"mismatched version", fn, buildWheel(t, "foo_bar-1.0.dist-info", meta("foo-bar", "1.1")), "Version in filename should be '1.1' not '1.0'."},
		{"invalid metadata version", fn, buildWheel(t, "foo_bar-1.0.dist-info", meta("foo-bar", "one")), "'one' is an invalid value for Version."},
		{"metadata missing name", fn, buildWheel(t, "foo_bar-1.0.dist-info", "Metadata-Version: 2.1\nVersion: 1.0\n"), "missing the required field Name"},
		{"unsupported compression", fn, buildZip(t, member{name: "foo_bar-1.0.dist-info/METADATA", body: good, method: 12}),
			"File does not use a supported compression type"},
		{"duplicate METADATA", fn, buildWheel(t, "foo_bar-1.0.dist-info", good, member{name: "foo_bar-1.0.dist-info/METADATA", body: meta("evil", "1.0")}),
			"duplicate member"},
		{"unsafe member name", fn, buildWheel(t, "foo_bar-1.0.dist-info", good, member{name: "../../etc/passwd", body: "x"}), "unsafe member name"},
		{"absolute member name", fn, buildWheel(t, "foo_bar-1.0.dist-info", good, member{name: "/etc/passwd", body: "x"}), "unsafe member name"},
		{"declared METADATA too large", fn, buildZip(t, member{name: "foo_bar-1.0.dist-info/METADATA", zeros: 2 << 20}), "METADATA is larger than 1024 KiB."},
		{"METADATA lies about its size", fn, buildZip(t, member{name: "foo_bar-1.0.dist-info/METADATA", zeros: 8 << 20, lie: 100}),
			"METADATA is larger than its declared size."},
		{"METADATA lies up to the cap", fn, buildZip(t, member{name: "foo_bar-1.0.dist-info/METADATA", zeros: 8 << 20, lie: MaxMetadataSize}),
			"METADATA is larger than its declared size."},
		{"archive claims huge total size", fn, buildWheel(t, "foo_bar-1.0.dist-info", good, member{name: "pkg/big.bin", body: "x", lie: 1 << 40}),
			"File exceeds compression ratio of 50"},
		{"sdist filename", "foo_bar-1.0.tar.gz", buildWheel(t, "foo_bar-1.0.dist-info", good), "is not a wheel filename"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			md, m, err := InspectWheel(bytes.NewReader(tt.data), int64(len(tt.data)), dist(t, tt.filename))
			wantErr(t, tt.name, err, tt.want)
			if err == nil {
				if string(md) != good || m.Name != "Foo.Bar" || m.Summary != "test" {
					t.Errorf("got metadata %q, %+v", md, m)
				}
			}
		})
	}
}

// TestInspectWheelZipBomb stores METADATA deflated from 200 MiB of zeros
// (about 200 KiB compressed), generated as a stream.
func TestInspectWheelZipBomb(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 200 MiB zip bomb")
	}
	t.Parallel()
	const fn = "foo_bar-1.0-py3-none-any.whl"
	for _, tt := range []struct {
		name string
		m    member
		want string
	}{
		{"honest header", member{name: "foo_bar-1.0.dist-info/METADATA", zeros: 200 << 20}, "File exceeds compression ratio of 50"},
		{"lying header", member{name: "foo_bar-1.0.dist-info/METADATA", zeros: 200 << 20, lie: 1000}, "METADATA is larger than its declared size."},
		{"lying header at cap", member{name: "foo_bar-1.0.dist-info/METADATA", zeros: 200 << 20, lie: MaxMetadataSize}, "METADATA is larger than its declared size."},
	} {
		data := buildZip(t, tt.m)
		_, _, err := InspectWheel(bytes.NewReader(data), int64(len(data)), dist(t, fn))
		wantErr(t, tt.name, err, tt.want)
	}
}

// countingReaderAt records how many bytes are read, to prove a bomb is
// not decompressed past the cap.
type countingReaderAt struct {
	r *bytes.Reader
	n int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

func TestInspectWheelStopsAtCap(t *testing.T) {
	t.Parallel()
	// 64 MiB of zeros deflates to ~64 KiB; stopping at 1 MiB of output
	// must read only a small part of it.
	data := buildZip(t, member{name: "foo_bar-1.0.dist-info/METADATA", zeros: 64 << 20, lie: 10})
	c := &countingReaderAt{r: bytes.NewReader(data)}
	_, _, err := InspectWheel(c, int64(len(data)), dist(t, "foo_bar-1.0-py3-none-any.whl"))
	wantErr(t, "lying bomb", err, "larger than")
	if c.n > int64(len(data))/4 {
		t.Errorf("read %d of %d bytes; the cap should stop decompression early", c.n, len(data))
	}
}

func TestInspectSdist(t *testing.T) {
	t.Parallel()
	const fn = "foo_bar-1.0.tar.gz"
	good := meta("Foo.Bar", "1.0")
	appendZip := append(buildSdist(t, file("foo_bar-1.0/PKG-INFO", good)), buildZip(t, member{name: "x", body: "y"})...)
	tests := []struct {
		name      string
		filename  string
		data      []byte
		wantFound bool
		want      string
	}{
		{"valid", fn, buildSdist(t,
			tarMember{hdr: tar.Header{Name: "foo_bar-1.0/", Typeflag: tar.TypeDir}},
			file("foo_bar-1.0/setup.py", "print()"),
			file("foo_bar-1.0/PKG-INFO", good),
			file("foo_bar-1.0/src/foo/PKG-INFO", meta("nested", "9")),
		), true, ""},
		{"dot slash names and pax global header", fn, buildSdist(t,
			tarMember{hdr: tar.Header{Name: "pax_global_header", Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": "abc"}}},
			file("./foo_bar-1.0/PKG-INFO", good),
		), true, ""},
		{"legacy name", "Foo.Bar-1.0.tar.gz", buildSdist(t, file("Foo.Bar-1.0/PKG-INFO", good)), true, ""},
		{"no PKG-INFO", fn, buildSdist(t, file("foo_bar-1.0/setup.py", "")), false, ""},
		{"PKG-INFO at top level only", fn, buildSdist(t, file("PKG-INFO", good)), false, ""},
		{"two top-level dirs", fn, buildSdist(t, file("foo_bar-1.0/PKG-INFO", good), file("other/x", "")), false,
			"Incorrect number of top-level directories in sdist"},
		{"not gzip", fn, []byte("plain text"), false, "Invalid distribution file. File is not a tarfile"},
		{"zip named tar.gz", fn, buildWheel(t, "foo_bar-1.0.dist-info", good), false, "File is not a tarfile"},
		{"gzip but not tar", fn, gzipped(t, strings.Repeat("not a tar header ", 100)), false, "File is not a tarfile"},
		{"zip appended", fn, appendZip, false, "File is both a zip and a tar file"},
		{"sparse member", fn, sparseSdist(t, good), false, "Sparse tar members"},
		{"unsafe name", fn, buildSdist(t, file("foo_bar-1.0/../../x", "")), false, "unsafe member name"},
		{"two PKG-INFO", fn, buildSdist(t, file("foo_bar-1.0/PKG-INFO", good), file("foo_bar-1.0/PKG-INFO", meta("evil", "1.0"))), false,
			"more than one foo_bar-1.0/PKG-INFO"},
		{"PKG-INFO symlink", fn, buildSdist(t, tarMember{hdr: tar.Header{Name: "foo_bar-1.0/PKG-INFO", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}}), false,
			"is not a regular file"},
		{"PKG-INFO too large", fn, buildSdist(t, tarMember{hdr: tar.Header{Name: "foo_bar-1.0/PKG-INFO"}, zeros: 2 << 20}), false, "PKG-INFO is larger than 1024 KiB."},
		{"mismatched name", fn, buildSdist(t, file("foo_bar-1.0/PKG-INFO", meta("other", "1.0"))), false, "Start filename for 'other' with 'other'."},
		{"mismatched version", fn, buildSdist(t, file("foo_bar-1.0/PKG-INFO", meta("foo-bar", "1.0.post1"))), false,
			"Version in filename should be '1.0.post1' not '1.0'."},
		{"truncated", fn, buildSdist(t, file("foo_bar-1.0/PKG-INFO", good), file("foo_bar-1.0/x", strings.Repeat("y", 5000)))[:100], false, "not a tarfile"},
		{"zip sdist filename", "foo_bar-1.0.zip", buildSdist(t, file("foo_bar-1.0/PKG-INFO", good)), false, "is not a .tar.gz sdist filename"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pi, m, found, err := InspectSdist(bytes.NewReader(tt.data), dist(t, tt.filename))
			wantErr(t, tt.name, err, tt.want)
			if found != tt.wantFound {
				t.Errorf("found = %v, want %v", found, tt.wantFound)
			}
			if found && (string(pi) != good || m.Name != "Foo.Bar") {
				t.Errorf("got PKG-INFO %q, %+v", pi, m)
			}
		})
	}
}

// sparseSdist builds a tar.gz whose second member is an old-GNU sparse
// file; Go's writer cannot write one, so a regular header is patched.
func sparseSdist(t testing.TB, pkgInfo string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "foo_bar-1.0/PKG-INFO", Mode: 0o644, Size: int64(len(pkgInfo)), Format: tar.FormatGNU})
	io.WriteString(tw, pkgInfo)
	tw.Flush()
	off := buf.Len()
	tw.WriteHeader(&tar.Header{Name: "foo_bar-1.0/sparse", Mode: 0o644, Format: tar.FormatGNU})
	tw.Close()
	b := buf.Bytes()
	h := b[off : off+512]
	h[156] = tar.TypeGNUSparse
	copy(h[148:156], "        ")
	sum := 0
	for _, c := range h {
		sum += int(c)
	}
	copy(h[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return gzipped(t, string(b))
}

func gzipped(t testing.TB, s string) []byte {
	var buf bytes.Buffer
	gw := gzip.NewWriter(&buf)
	io.WriteString(gw, s)
	gw.Close()
	return buf.Bytes()
}

func TestInspectSdistBombs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds large archives")
	}
	t.Parallel()
	const fn = "foo_bar-1.0.tar.gz"
	many := make([]tarMember, MaxSdistEntries+1)
	for i := range many {
		many[i] = file(fmt.Sprintf("foo_bar-1.0/f%d", i), "")
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"gzip bomb", buildSdist(t, file("foo_bar-1.0/PKG-INFO", meta("foo-bar", "1.0")),
			tarMember{hdr: tar.Header{Name: "foo_bar-1.0/zeros"}, zeros: 200 << 20}), "File exceeds compression ratio of 50"},
		{"too many entries", buildSdist(t, many...), "more than 100000 entries"},
	}
	for _, tt := range tests {
		_, _, _, err := InspectSdist(bytes.NewReader(tt.data), dist(t, fn))
		wantErr(t, tt.name, err, tt.want)
	}
}

func TestInspectSdistZip(t *testing.T) {
	t.Parallel()
	const fn = "foo_bar-1.0.zip"
	good := meta("foo_bar", "1.0")
	tests := []struct {
		name      string
		data      []byte
		wantFound bool
		want      string
	}{
		{"valid", buildZip(t, member{name: "foo_bar-1.0/setup.py"}, member{name: "foo_bar-1.0/PKG-INFO", body: good}), true, ""},
		{"no PKG-INFO", buildZip(t, member{name: "foo_bar-1.0/setup.py"}), false, ""},
		{"two top-level dirs", buildZip(t, member{name: "foo_bar-1.0/PKG-INFO", body: good}, member{name: "x/y"}), false,
			"Incorrect number of top-level directories in sdist"},
		{"not a zip", []byte("nope"), false, "File is not a zipfile"},
		{"mismatched version", buildZip(t, member{name: "foo_bar-1.0/PKG-INFO", body: meta("foo_bar", "2")}), false,
			"Version in filename should be '2' not '1.0'."},
	}
	for _, tt := range tests {
		pi, m, found, err := InspectSdistZip(bytes.NewReader(tt.data), int64(len(tt.data)), dist(t, fn))
		wantErr(t, tt.name, err, tt.want)
		if found != tt.wantFound {
			t.Errorf("%s: found = %v, want %v", tt.name, found, tt.wantFound)
		}
		if found {
			if diff := cmp.Diff(good, string(pi)); diff != "" || m.Version != "1.0" {
				t.Errorf("%s: PKG-INFO (-want +got):\n%s", tt.name, diff)
			}
		}
	}
}

func FuzzInspectWheel(f *testing.F) {
	good := meta("foo", "1.0")
	f.Add(buildWheel(f, "foo-1.0.dist-info", good))
	f.Add(buildZip(f, member{name: "foo-1.0.dist-info/METADATA", body: good, method: zip.Store}))
	f.Add(buildWheel(f, "foo-1.0.dist-info", meta("bar", "2")))
	f.Add(buildZip(f, member{name: "foo-1.0.dist-info/METADATA", zeros: 4 << 20, lie: 10}))
	f.Add([]byte("PK\x03\x04garbage"))
	d := Dist{Kind: WheelDist, Filename: "foo-1.0-py3-none-any.whl", Ext: ".whl", Name: "foo", Version: "1.0",
		PythonTag: "py3", ABITag: "none", PlatformTag: "any"}
	f.Fuzz(func(t *testing.T, b []byte) {
		md, m, err := InspectWheel(bytes.NewReader(b), int64(len(b)), d)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("error kind %v, want Invalid: %v", errs.KindOf(err), err)
			}
			return
		}
		if len(md) > MaxMetadataSize || Normalize(m.Name) != "foo" || !MustParseVersion(m.Version).Equal(MustParseVersion("1.0")) {
			t.Fatalf("accepted inconsistent wheel: %d bytes of metadata, %+v", len(md), m)
		}
	})
}
