// Package backup takes online snapshots of an embedded installation (SQLite
// + blobs) and restores them. A snapshot is the database as of one instant
// (SQLite's VACUUM INTO, one read transaction, so uploads go on meanwhile)
// plus exactly the blobs that database references, each re-hashed on the
// way; blobs uploaded after that instant are not in it, and no row of it
// lacks its blob.
//
// A backup is written under a ".partial" name and renamed when complete, and
// its manifest (wharf-backup.json) is written last, so a backup killed
// midway is recognisably incomplete: Restore refuses it. A directory backup
// is itself a data directory (`wharf serve --data DIR` serves it); a .tar
// backup holds the same files.
package backup

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/wharf-dev/wharf/internal/blob"
	"github.com/wharf-dev/wharf/internal/blob/fsblob"
	"github.com/wharf-dev/wharf/internal/store"
	"github.com/wharf-dev/wharf/internal/store/sqlstore"
)

// Layout of a backup (and of the data directory it restores to).
const (
	ManifestName = "wharf-backup.json"
	DatabaseName = "wharf.db"
	BlobsDir     = "blobs"
	KEKName      = "kek"
	partial      = ".partial"
	format       = 1
)

// Snapshotter is a metadata store that can write a consistent copy of
// itself to a file (sqlstore on SQLite).
type Snapshotter interface {
	SnapshotTo(ctx context.Context, path string) error
}

// Config says what to back up.
type Config struct {
	Store store.Store // the live metadata store; must be a Snapshotter
	Blobs blob.Store  // the live blob store
	// KEKFile, when set, is the generated key-encryption key kept in the
	// data directory; it is copied so the backup's secrets open. A key kept
	// elsewhere (secrets.kek_file, kek_env) is the operator's to back up.
	KEKFile string
	// Progress receives a line now and then; nil discards.
	Progress io.Writer
	Now      func() time.Time
}

// Manifest describes a complete backup.
type Manifest struct {
	Format         int       `json:"format"`
	Created        time.Time `json:"created"`
	DatabaseSHA256 string    `json:"database_sha256"`
	DatabaseSize   int64     `json:"database_size"`
	Blobs          int64     `json:"blobs"`
	BlobBytes      int64     `json:"blob_bytes"`
	// MissingRemote counts remote-cache rows whose blob was never fetched
	// (normal: the cache fetches on first download).
	MissingRemote int64 `json:"missing_remote_blobs"`
	KEK           bool  `json:"kek"`
}

// Report is what a backup or restore did.
type Report struct {
	Manifest
	Path     string
	Duration time.Duration
}

// Create writes a backup of cfg's installation to to: a directory, or a tar
// file when to ends in ".tar". to must not exist.
func Create(ctx context.Context, cfg Config, to string) (Report, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	snap, ok := cfg.Store.(Snapshotter)
	if !ok {
		return Report{}, errors.New("this metadata store cannot take online snapshots; back up PostgreSQL with pg_dump and the object store with its own tools (see docs/operations.md)")
	}
	to = filepath.Clean(to)
	if _, err := os.Stat(to); err == nil {
		return Report{}, fmt.Errorf("%s already exists: name a new directory or .tar file", to)
	}
	start := cfg.Now()
	tmp := to + partial
	if _, err := os.Stat(tmp); err == nil {
		fmt.Fprintf(cfg.Progress, "removing %s, left by a backup that did not finish\n", tmp)
		if err := os.RemoveAll(tmp); err != nil {
			return Report{}, err
		}
	}
	// The snapshot goes to a work directory next to the destination, so the
	// rename at the end stays on one file system.
	work, err := os.MkdirTemp(filepath.Dir(to), ".wharf-backup-")
	if err != nil {
		return Report{}, err
	}
	defer os.RemoveAll(work)
	dbPath := filepath.Join(work, DatabaseName)
	if err := snap.SnapshotTo(ctx, dbPath); err != nil {
		return Report{}, fmt.Errorf("database snapshot: %w", err)
	}
	// Listing the references opens the snapshot as a store (which may set
	// its journal mode), so it is hashed afterwards, as it is copied.
	refs, err := referencedBlobs(ctx, dbPath)
	if err != nil {
		return Report{}, err
	}
	m := Manifest{Format: format, Created: start.UTC()}
	if m.DatabaseSHA256, m.DatabaseSize, err = hashFile(dbPath); err != nil {
		return Report{}, err
	}
	fmt.Fprintf(cfg.Progress, "database snapshot: %.1f MB, %d blobs referenced\n", float64(m.DatabaseSize)/1e6, len(refs))

	var w writer
	if strings.HasSuffix(to, ".tar") {
		w, err = newTarWriter(tmp)
	} else {
		w, err = newDirWriter(tmp)
	}
	if err != nil {
		return Report{}, err
	}
	fail := func(err error) (Report, error) {
		w.abort()
		return Report{}, err
	}
	if err := w.file(DatabaseName, dbPath); err != nil {
		return fail(err)
	}
	if cfg.KEKFile != "" {
		if _, err := os.Stat(cfg.KEKFile); err == nil {
			if err := w.file(KEKName, cfg.KEKFile); err != nil {
				return fail(err)
			}
			m.KEK = true
		}
	}
	last := cfg.Now()
	for i, ref := range refs {
		n, err := copyBlob(ctx, cfg.Blobs, w, ref.key)
		switch {
		case errors.Is(err, blob.ErrNotFound) && !ref.required:
			m.MissingRemote++
			continue
		case errors.Is(err, blob.ErrNotFound):
			return fail(fmt.Errorf("blob %s (%s) is referenced by the snapshot but missing from the blob store", ref.key, ref.what))
		case err != nil:
			return fail(err)
		}
		m.Blobs++
		m.BlobBytes += n
		if now := cfg.Now(); now.Sub(last) >= 2*time.Second {
			last = now
			fmt.Fprintf(cfg.Progress, "blobs: %d of %d (%.1f MB)\n", i+1, len(refs), float64(m.BlobBytes)/1e6)
		}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fail(err)
	}
	if err := w.manifest(append(b, '\n')); err != nil {
		return fail(err)
	}
	if err := w.finish(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, to); err != nil {
		return fail(err)
	}
	syncDir(filepath.Dir(to))
	return Report{Manifest: m, Path: to, Duration: cfg.Now().Sub(start)}, nil
}

// blobRef is one blob a snapshot references.
type blobRef struct {
	key      string
	what     string // "files 12", for messages
	required bool   // hosted files must have their blob; remote-cache rows need not
}

// referencedBlobs opens the snapshot and lists the blobs its rows name,
// sorted and deduplicated.
func referencedBlobs(ctx context.Context, dbPath string) ([]blobRef, error) {
	st, err := sqlstore.Open(ctx, sqlstore.Config{DSN: dbPath, ReadConns: 1})
	if err != nil {
		return nil, fmt.Errorf("opening the snapshot: %w", err)
	}
	defer st.Close()
	seen := map[string]*blobRef{}
	tables := st.Tables()
	err = st.Snapshot(ctx, func(scan func(string, func([]any) error) error) error {
		for _, t := range tables {
			cols := store.BlobColumns(t)
			if len(cols) == 0 {
				continue
			}
			required := t.Name != "remote_files"
			err := scan(t.Name, func(row []any) error {
				for _, c := range cols {
					k, _ := row[c].(string)
					if k == "" {
						continue
					}
					if r, ok := seen[k]; ok {
						r.required = r.required || required
						continue
					}
					seen[k] = &blobRef{key: k, what: fmt.Sprintf("%s %v", t.Name, row[0]), required: required}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the snapshot: %w", err)
	}
	refs := make([]blobRef, 0, len(seen))
	for _, r := range seen {
		refs = append(refs, *r)
	}
	slices.SortFunc(refs, func(a, b blobRef) int { return strings.Compare(a.key, b.key) })
	return refs, nil
}

// copyBlob copies one blob into the backup, checking that its bytes hash
// to its name.
func copyBlob(ctx context.Context, bs blob.Store, w writer, key string) (int64, error) {
	obj, err := bs.Open(ctx, key)
	if err != nil {
		return 0, err
	}
	defer obj.Close()
	return w.blob(ctx, key, obj.Info().Size, obj)
}

// writer is where a backup's files go: a directory or a tar file.
type writer interface {
	file(name, path string) error
	blob(ctx context.Context, key string, size int64, r io.Reader) (int64, error)
	manifest(b []byte) error
	finish() error
	abort()
}

// dirWriter writes a data directory: the database, the key and an fsblob
// store, which re-hashes every blob.
type dirWriter struct {
	dir   string
	blobs *fsblob.Store
}

func newDirWriter(dir string) (*dirWriter, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	bs, err := fsblob.New(filepath.Join(dir, BlobsDir))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &dirWriter{dir: dir, blobs: bs}, nil
}

func (d *dirWriter) file(name, path string) error {
	return copyFile(path, filepath.Join(d.dir, name))
}

func (d *dirWriter) blob(ctx context.Context, key string, _ int64, r io.Reader) (int64, error) {
	t, err := d.blobs.Create(ctx)
	if err != nil {
		return 0, err
	}
	defer t.Abort()
	if _, err := io.Copy(t, r); err != nil {
		return 0, fmt.Errorf("copying blob %s: %w", key, err)
	}
	if got := t.SHA256(); got != key {
		return 0, fmt.Errorf("blob %s holds bytes hashing to %s: the blob store is damaged", key, got)
	}
	info, err := t.Commit(ctx)
	return info.Size, err
}

func (d *dirWriter) manifest(b []byte) error {
	return writeFileSync(filepath.Join(d.dir, ManifestName), b)
}

func (d *dirWriter) finish() error {
	// fsblob leaves its temporary directory behind (emptied by Close,
	// which also releases its owner lock); a backup has none.
	d.blobs.Close()
	os.Remove(filepath.Join(d.dir, BlobsDir, "tmp"))
	syncDir(d.dir)
	return nil
}

func (d *dirWriter) abort() { os.RemoveAll(d.dir) }

// tarWriter streams the same files into one tar archive.
type tarWriter struct {
	f  *os.File
	tw *tar.Writer
}

func newTarWriter(path string) (*tarWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	return &tarWriter{f: f, tw: tar.NewWriter(f)}, nil
}

func (t *tarWriter) header(name string, size int64) error {
	return t.tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: size, Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0), Format: tar.FormatPAX})
}

func (t *tarWriter) file(name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := t.header(name, fi.Size()); err != nil {
		return err
	}
	_, err = io.Copy(t.tw, f)
	return err
}

func (t *tarWriter) blob(_ context.Context, key string, size int64, r io.Reader) (int64, error) {
	if err := t.header(blobPath(key), size); err != nil {
		return 0, err
	}
	h := sha256.New()
	n, err := io.Copy(t.tw, io.TeeReader(io.LimitReader(r, size), h))
	if err != nil {
		return n, fmt.Errorf("copying blob %s: %w", key, err)
	}
	if n != size || hex.EncodeToString(h.Sum(nil)) != key {
		return n, fmt.Errorf("blob %s does not hash to its name (or changed size while read): the blob store is damaged", key)
	}
	return n, nil
}

func (t *tarWriter) manifest(b []byte) error {
	if err := t.header(ManifestName, int64(len(b))); err != nil {
		return err
	}
	_, err := t.tw.Write(b)
	return err
}

func (t *tarWriter) finish() error {
	if err := t.tw.Close(); err != nil {
		return err
	}
	if err := t.f.Sync(); err != nil {
		return err
	}
	return t.f.Close()
}

func (t *tarWriter) abort() {
	t.f.Close()
	os.Remove(t.f.Name())
}

// blobPath is where fsblob keeps a blob, relative to the data directory.
func blobPath(key string) string {
	return BlobsDir + "/sha256/" + key[:2] + "/" + key[2:4] + "/" + key
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	return copyReader(src, to)
}

func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
