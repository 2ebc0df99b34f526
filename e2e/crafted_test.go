package e2e

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The hand-made archives must be valid, or the refusal tests would pass for
// the wrong reason. These checks run without WHARF_E2E.

func TestMakeWheel(t *testing.T) {
	t.Parallel()
	b := makeWheel(t, "some-project", "1.2")
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	want := []string{
		"some_project/__init__.py",
		"some_project-1.2.dist-info/METADATA",
		"some_project-1.2.dist-info/WHEEL",
		"some_project-1.2.dist-info/RECORD",
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("wheel members (-want +got):\n%s", diff)
	}
	if !bytes.Equal(b, makeWheel(t, "some-project", "1.2")) {
		t.Error("makeWheel is not deterministic")
	}
}

func TestWriteSdist(t *testing.T) {
	t.Parallel()
	const size = 3<<20 + 7
	var buf bytes.Buffer
	if err := writeSdist(&buf, "wharf-big", "1.0", newRandomData(), size); err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	got := map[string]int64{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, tr)
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = n
	}
	if got["wharf_big-1.0/wharf_big/data.bin"] != size || got["wharf_big-1.0/PKG-INFO"] == 0 || len(got) != 4 {
		t.Errorf("sdist members: %v", got)
	}
}

func TestCountingWriterMark(t *testing.T) {
	t.Parallel()
	calls := 0
	cw := &countingWriter{w: io.Discard, mark: 10, at: func() { calls++ }}
	for range 5 {
		cw.Write(make([]byte, 4))
	}
	if cw.n != 20 || calls != 1 {
		t.Errorf("n=%d calls=%d, want 20 and 1", cw.n, calls)
	}
}
