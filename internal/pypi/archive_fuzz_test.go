package pypi

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"testing"
)

// FuzzInspectSdist: an uploaded sdist is untrusted bytes; InspectSdist
// must refuse or read it, never panic.
func FuzzInspectSdist(f *testing.F) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	body := []byte("Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n\n")
	tw.WriteHeader(&tar.Header{Name: "demo-1.0/PKG-INFO", Mode: 0o644, Size: int64(len(body))})
	tw.Write(body)
	tw.Close()
	gz.Close()
	f.Add(buf.Bytes())
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	d, err := ParseFilename("demo-1.0.tar.gz")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _, _ = InspectSdist(bytes.NewReader(b), d)
	})
}
