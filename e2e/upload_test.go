package e2e

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// upload is one hand-made legacy-API request, built like twine's: every
// field a client sends, then the file part last.
type upload struct {
	project  string // metadata name
	version  string
	filetype string // "sdist" or "bdist_wheel"
	filename string // sent verbatim in Content-Disposition
	sha256   string // sha256_digest field; computed from content when empty
	token    string // no Authorization header when empty
	repo     string // "local" when empty
}

func (u upload) fields(contentSHA string) [][2]string {
	pyversion := "source"
	if u.filetype == "bdist_wheel" {
		pyversion = "py3"
	}
	digest := u.sha256
	if digest == "" {
		digest = contentSHA
	}
	return [][2]string{
		{":action", "file_upload"},
		{"protocol_version", "1"},
		{"metadata_version", "2.1"},
		{"name", u.project},
		{"version", u.version},
		{"filetype", u.filetype},
		{"pyversion", pyversion},
		{"summary", "wharf e2e crafted upload"},
		{"sha256_digest", digest},
	}
}

// multipartFrame renders the form around the file: prefix (fields and the
// file part's header) and suffix (the closing boundary), so a body of any
// size can be streamed between them with an exact Content-Length.
func (u upload) multipartFrame(t *testing.T, contentSHA string) (contentType string, prefix, suffix []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range u.fields(contentSHA) {
		if err := w.WriteField(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	h := textproto.MIMEHeader{}
	// Not CreateFormFile: the filename goes out exactly as given, the
	// way a hostile client would send it.
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="content"; filename="%s"`, u.filename))
	h.Set("Content-Type", "application/octet-stream")
	if _, err := w.CreatePart(h); err != nil {
		t.Fatal(err)
	}
	n := buf.Len()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	all := buf.Bytes()
	return w.FormDataContentType(), append([]byte(nil), all[:n]...), append([]byte(nil), all[n:]...)
}

func (u upload) request(t *testing.T, s *server, content io.Reader, size int64, contentSHA string) *http.Request {
	t.Helper()
	ct, prefix, suffix := u.multipartFrame(t, contentSHA)
	body := io.MultiReader(bytes.NewReader(prefix), content, bytes.NewReader(suffix))
	target := s.uploadURL()
	if u.repo != "" {
		target = s.URL + "/" + u.repo + "/legacy/"
	}
	req, err := http.NewRequest("POST", target, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(prefix)+len(suffix)) + size
	req.Header.Set("Content-Type", ct)
	if u.token != "" {
		req.SetBasicAuth("__token__", u.token)
	}
	return req
}

// post sends content in one request and returns the status and body.
func (u upload) post(t *testing.T, s *server, content []byte) (int, string) {
	t.Helper()
	req := u.request(t, s, bytes.NewReader(content), int64(len(content)), sha256hex(content))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s (%s): %v", req.URL, u.filename, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// modName is the import and filename form of a project name.
func modName(project string) string { return strings.ReplaceAll(project, "-", "_") }

// makeWheel builds a minimal valid pure-Python wheel (METADATA, WHEEL,
// RECORD with hashes), enough for wharf's wheel checks and for pip.
func makeWheel(t *testing.T, project, version string) []byte {
	t.Helper()
	return makeWheelMeta(t, project, version, "")
}

// makeWheelMeta is makeWheel with extra METADATA header lines.
func makeWheelMeta(t *testing.T, project, version, extraMeta string) []byte {
	t.Helper()
	return makeWheelFiles(t, project, version, extraMeta, nil)
}

// makeWheelFiles is makeWheelMeta with extra files (name, content).
func makeWheelFiles(t *testing.T, project, version, extraMeta string, extra [][2]string) []byte {
	t.Helper()
	mod := modName(project)
	info := mod + "-" + version + ".dist-info/"
	files := append([][2]string{
		{mod + "/__init__.py", fmt.Sprintf("__version__ = %q\n", version)},
		{info + "METADATA", fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: wharf e2e crafted upload\n%s", project, version, extraMeta)},
		{info + "WHEEL", "Wheel-Version: 1.0\nGenerator: wharf-e2e\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
	}, extra...)
	var record strings.Builder
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name, body string) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Date(2020, 2, 2, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, body)
	}
	for _, f := range files {
		sum := sha256.Sum256([]byte(f[1]))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f[0], base64.RawURLEncoding.EncodeToString(sum[:]), len(f[1]))
		add(f[0], f[1])
	}
	fmt.Fprintf(&record, "%sRECORD,,\n", info)
	add(info+"RECORD", record.String())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeSdist writes a PEP 625 sdist to w: PKG-INFO, pyproject.toml, the
// module, and dataSize bytes read from data as a payload file. The gzip
// stream is stored, not compressed, so generating 200 MiB is cheap and the
// archive size tracks dataSize.
func writeSdist(w io.Writer, project, version string, data io.Reader, dataSize int64) error {
	mod := modName(project)
	root := mod + "-" + version + "/"
	gz, err := gzip.NewWriterLevel(w, gzip.NoCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	mtime := time.Date(2020, 2, 2, 0, 0, 0, 0, time.UTC)
	small := [][2]string{
		{root + "PKG-INFO", fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: wharf e2e crafted upload\n", project, version)},
		{root + "pyproject.toml", fmt.Sprintf("[project]\nname = %q\nversion = %q\n", project, version)},
		{root + mod + "/__init__.py", fmt.Sprintf("__version__ = %q\n", version)},
	}
	for _, f := range small {
		if err := tw.WriteHeader(&tar.Header{Name: f[0], Mode: 0o644, Size: int64(len(f[1])), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
		if _, err := io.WriteString(tw, f[1]); err != nil {
			return err
		}
	}
	if dataSize > 0 {
		if err := tw.WriteHeader(&tar.Header{Name: root + mod + "/data.bin", Mode: 0o644, Size: dataSize, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
		if _, err := io.CopyN(tw, data, dataSize); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func makeSdist(t *testing.T, project, version string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := writeSdist(&buf, project, version, nil, 0); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// assertNothingStored checks a refused upload left no trace: the project
// shows no files and no committed blob holds the refused bytes.
func assertNothingStored(t *testing.T, s *server, project string, content []byte) {
	t.Helper()
	if page, ok := s.projectJSON(t, project); ok && len(page.Files) > 0 {
		t.Errorf("refused upload is in the index: %v", page.filenames())
	}
	if content != nil {
		if p := findBlob(t, s.data, sha256hex(content)); p != "" {
			t.Errorf("refused upload's bytes were committed as %s", p)
		}
	}
}

// findBlob returns the path of a file named key anywhere under dir.
func findBlob(t *testing.T, dir, key string) string {
	t.Helper()
	var found string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == key {
			found = path
		}
		return nil
	})
	return found
}

// checkCommittedBlobs verifies the content-addressing invariant on disk:
// every file named like a sha256 digest holds exactly the bytes with that
// digest. A partial write that became visible under its final name breaks
// it. Files not named by a digest (temporaries, the database) are skipped.
func checkCommittedBlobs(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !isHexDigest(d.Name()) {
			// Leftover temporaries are allowed (fsblob sweeps old ones
			// at start); worth seeing when they are large.
			if info, err := d.Info(); err == nil && info.Size() > 1<<20 {
				t.Logf("uncommitted file %s: %d bytes", path, info.Size())
			}
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != d.Name() {
			t.Errorf("committed blob %s holds bytes with sha256 %s (a partial or corrupt file)", path, got)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", dir, err)
	}
}

func isHexDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
