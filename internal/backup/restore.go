package backup

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/wharf-dev/wharf/internal/blob/fsblob"
)

// ErrIncomplete: the backup has no manifest, so it stopped before it was
// finished and cannot be trusted.
var ErrIncomplete = errors.New("the backup is incomplete (no " + ManifestName + "): it was interrupted; take a new one")

// Restore unpacks the backup at from (a directory or a .tar file written by
// Create) into dataDir, which must not exist or be empty, checking every
// blob's hash and the database's against the manifest. The result is a
// data directory `wharf serve --data` serves as the snapshot was.
func Restore(ctx context.Context, from, dataDir string, progress io.Writer) (Report, error) {
	if progress == nil {
		progress = io.Discard
	}
	start := time.Now()
	from, dataDir = filepath.Clean(from), filepath.Clean(dataDir)
	if strings.HasSuffix(from, partial) {
		return Report{}, fmt.Errorf("%s: %w", from, ErrIncomplete)
	}
	fi, err := os.Stat(from)
	if err != nil {
		if _, perr := os.Stat(from + partial); perr == nil {
			return Report{}, fmt.Errorf("%s: only %s exists: %w", from, from+partial, ErrIncomplete)
		}
		return Report{}, err
	}
	if entries, err := os.ReadDir(dataDir); err == nil && len(entries) > 0 {
		return Report{}, fmt.Errorf("%s is not empty: restore into a new directory", dataDir)
	}
	tmp := dataDir + partial
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return Report{}, err
	}
	fail := func(err error) (Report, error) {
		os.RemoveAll(tmp)
		return Report{}, err
	}
	bs, err := fsblob.New(filepath.Join(tmp, BlobsDir))
	if err != nil {
		return fail(err)
	}
	r := &restorer{dir: tmp, blobs: bs, progress: progress}
	if fi.IsDir() {
		err = r.fromDir(ctx, from)
	} else {
		err = r.fromTar(ctx, from)
	}
	if err != nil {
		return fail(err)
	}
	m, err := r.check()
	if err != nil {
		return fail(err)
	}
	bs.Close() // empties its temporary directory and releases its owner lock
	os.Remove(filepath.Join(tmp, BlobsDir, "tmp"))
	// Keep the manifest: the restored directory says what it came from.
	if err := writeFileSync(filepath.Join(tmp, ManifestName), r.manifestBytes); err != nil {
		return fail(err)
	}
	os.Remove(dataDir) // an empty directory given as the target
	if err := os.Rename(tmp, dataDir); err != nil {
		return fail(err)
	}
	return Report{Manifest: m, Path: dataDir, Duration: time.Since(start)}, nil
}

type restorer struct {
	dir           string
	blobs         *fsblob.Store
	progress      io.Writer
	manifestBytes []byte
	blobCount     int64
	blobBytes     int64
	sawDB, sawKEK bool
}

// entry restores one file of the backup, named as in the archive.
func (r *restorer) entry(ctx context.Context, name string, rd io.Reader) error {
	switch {
	case name == ManifestName:
		b, err := io.ReadAll(io.LimitReader(rd, 1<<20))
		r.manifestBytes = b
		return err
	case name == DatabaseName || name == KEKName:
		if name == DatabaseName {
			r.sawDB = true
		} else {
			r.sawKEK = true
		}
		return copyReader(rd, filepath.Join(r.dir, name))
	case strings.HasPrefix(name, BlobsDir+"/sha256/"):
		key := path.Base(name)
		if name != blobPath(key) {
			return fmt.Errorf("unexpected file %s in the backup", name)
		}
		t, err := r.blobs.Create(ctx)
		if err != nil {
			return err
		}
		defer t.Abort()
		n, err := io.Copy(t, rd)
		if err != nil {
			return fmt.Errorf("restoring blob %s: %w", key, err)
		}
		if got := t.SHA256(); got != key {
			return fmt.Errorf("blob %s in the backup hashes to %s: the backup is damaged", key, got)
		}
		if _, err := t.Commit(ctx); err != nil {
			return err
		}
		r.blobCount++
		r.blobBytes += n
		if r.blobCount%1000 == 0 {
			fmt.Fprintf(r.progress, "blobs: %d restored (%.1f MB)\n", r.blobCount, float64(r.blobBytes)/1e6)
		}
		return nil
	case strings.HasPrefix(name, BlobsDir+"/tmp"):
		return nil
	}
	return fmt.Errorf("unexpected file %s in the backup", name)
}

func (r *restorer) fromTar(ctx context.Context, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if r.manifestBytes == nil {
				return fmt.Errorf("%s: %v: %w", file, err, ErrIncomplete)
			}
			return fmt.Errorf("%s: %w", file, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if err := r.entry(ctx, h.Name, tr); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) && r.manifestBytes == nil {
				return fmt.Errorf("%s ends inside %s: %w", file, h.Name, ErrIncomplete)
			}
			return err
		}
	}
}

func (r *restorer) fromDir(ctx context.Context, dir string) error {
	if _, err := os.Stat(filepath.Join(dir, ManifestName)); err != nil {
		return fmt.Errorf("%s: %w", dir, ErrIncomplete)
	}
	return filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return r.entry(ctx, filepath.ToSlash(rel), f)
	})
}

// check compares what was restored with the manifest.
func (r *restorer) check() (Manifest, error) {
	var m Manifest
	if r.manifestBytes == nil {
		return m, ErrIncomplete
	}
	if err := json.Unmarshal(r.manifestBytes, &m); err != nil {
		return m, fmt.Errorf("%s: %w", ManifestName, err)
	}
	if m.Format != format {
		return m, fmt.Errorf("backup format %d is not one this wharf reads (%d)", m.Format, format)
	}
	if !r.sawDB {
		return m, errors.New("the backup holds no database")
	}
	sum, size, err := hashFile(filepath.Join(r.dir, DatabaseName))
	if err != nil {
		return m, err
	}
	if sum != m.DatabaseSHA256 || size != m.DatabaseSize {
		return m, errors.New("the database in the backup does not match its manifest: the backup is damaged")
	}
	if r.blobCount != m.Blobs || r.blobBytes != m.BlobBytes {
		return m, fmt.Errorf("the backup holds %d blobs (%d bytes), its manifest says %d (%d bytes): the backup is damaged",
			r.blobCount, r.blobBytes, m.Blobs, m.BlobBytes)
	}
	if m.KEK != r.sawKEK {
		return m, errors.New("the backup's key-encryption key does not match its manifest")
	}
	return m, nil
}

func copyReader(rd io.Reader, to string) error {
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, rd); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
