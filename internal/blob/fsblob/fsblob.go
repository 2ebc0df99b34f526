// Package fsblob is the local-filesystem blob.Store. Objects live at
// <dir>/sha256/ab/cd/<hex> and are written as temporaries in <dir>/tmp, which
// is on the same filesystem, so Commit is a rename: readers see a whole
// object or none. Every path goes through an os.Root, so even a key that
// slipped past validation cannot name a file outside dir.
package fsblob

import (
	"context"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/wharf-dev/wharf/internal/blob"
	"github.com/wharf-dev/wharf/internal/errs"
)

const (
	objectsDir = "sha256"
	tempDir    = "tmp"

	// DefaultTempMaxAge is how old a temporary with no owner to ask (the
	// layout before owner locks, see owner.go) must be before it is
	// removed. Owned temporaries go as soon as their owner is gone.
	DefaultTempMaxAge = time.Hour

	// bufSize is the write buffer of a Temp. Large writes (and io.Copy,
	// through ReadFrom) fill it directly, so bytes are copied once into it
	// and then handed to the kernel; 1 MiB keeps syscalls rare without
	// holding much memory per concurrent upload.
	bufSize = 1 << 20

	filePerm = 0o644
	dirPerm  = 0o755
)

// Config configures a Store.
type Config struct {
	// Dir is the root directory; it is created if missing.
	Dir string
	// Now is the clock used to age temporaries; time.Now when nil.
	Now func() time.Time
	// TempMaxAge: ownerless temporaries whose last write is older than
	// this are removed (owner.go). DefaultTempMaxAge when zero.
	TempMaxAge time.Duration
}

// Store is a blob.Store on the local filesystem. It is safe for concurrent
// use; a Temp is not (one writer per upload).
type Store struct {
	root *os.Root // dir: temporaries, and renames into objs
	// objs is dir/sha256, opened once: Open, Stat and Delete resolve
	// path components one openat at a time, so starting below
	// sha256/ saves a system call on every download.
	objs *os.Root
	// bufs recycles Temp write buffers, so steady-state uploads do not
	// allocate 1 MiB each.
	bufs sync.Pool
	// tmp is this store's temporary directory, tmp/<id>, and lock the
	// locked tmp/<id>.lock that says it is alive (owner.go).
	tmp        string
	lock       *os.File
	now        func() time.Time
	tempMaxAge time.Duration
}

var _ blob.Store = (*Store)(nil)

// New opens (creating if needed) a Store in dir with the default settings.
func New(dir string) (*Store, error) {
	return NewWithConfig(Config{Dir: dir})
}

// NewWithConfig opens (creating if needed) a Store and removes the
// temporaries of processes that died (owner.go): those of a live process,
// here or in another process or replica sharing the directory, are kept.
func NewWithConfig(cfg Config) (*Store, error) {
	const op = "fsblob.New"
	if cfg.Dir == "" {
		return nil, errs.E(errs.Invalid, op, errors.New("blob directory is empty; set the blob storage path"))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TempMaxAge <= 0 {
		cfg.TempMaxAge = DefaultTempMaxAge
	}
	if err := os.MkdirAll(cfg.Dir, dirPerm); err != nil {
		return nil, ioErr(op, err)
	}
	root, err := os.OpenRoot(cfg.Dir)
	if err != nil {
		return nil, ioErr(op, err)
	}
	for _, d := range []string{objectsDir, tempDir} {
		if err := root.MkdirAll(d, dirPerm); err != nil {
			root.Close()
			return nil, ioErr(op, err)
		}
	}
	objs, err := root.OpenRoot(objectsDir)
	if err != nil {
		root.Close()
		return nil, ioErr(op, err)
	}
	s := &Store{root: root, objs: objs, now: cfg.Now, tempMaxAge: cfg.TempMaxAge}
	s.bufs.New = func() any { b := make([]byte, bufSize); return &b }
	if err := s.own(); err != nil {
		s.Close()
		return nil, ioErr(op, err)
	}
	if _, err := s.sweep(cfg.Now().Add(-cfg.TempMaxAge)); err != nil {
		s.Close()
		return nil, ioErr(op, err)
	}
	return s, nil
}

// Close releases the directory handle. Objects already opened stay readable.
func (s *Store) Close() error {
	return errors.Join(s.disown(), s.objs.Close(), s.root.Close())
}

// Create starts a new object in a fresh temporary file.
func (s *Store) Create(ctx context.Context) (blob.Temp, error) {
	const op = "fsblob.Create"
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// rand.Text has 130 bits of entropy; O_EXCL still guards against reuse.
	name := s.tmp + "/" + rand.Text()
	f, err := s.root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return nil, ioErr(op, err)
	}
	return newTemp(s, f, name), nil
}

// objectPath is the fan-out path of a valid key, relative to objs.
func objectPath(key string) string {
	return key[0:2] + "/" + key[2:4] + "/" + key
}

// Open returns the object; its Read, Seek and (through the embedded
// *os.File) sendfile support make http.ServeContent efficient.
func (s *Store) Open(ctx context.Context, key string) (blob.Object, error) {
	const op = "fsblob.Open"
	if !blob.ValidKey(key) {
		return nil, blob.ErrBadKey
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := s.objs.Open(objectPath(key))
	if err != nil {
		return nil, notFoundOr(op, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, ioErr(op, err)
	}
	return &object{File: f, info: blob.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}}, nil
}

// Stat describes the object without opening it.
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	const op = "fsblob.Stat"
	if !blob.ValidKey(key) {
		return blob.Info{}, blob.ErrBadKey
	}
	if err := ctx.Err(); err != nil {
		return blob.Info{}, err
	}
	fi, err := s.objs.Stat(objectPath(key))
	if err != nil {
		return blob.Info{}, notFoundOr(op, err)
	}
	return blob.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Delete removes the object. Readers that already opened it keep reading
// the old file (POSIX unlink semantics). The fan-out directories stay: a
// concurrent Commit may be about to rename into them.
func (s *Store) Delete(ctx context.Context, key string) error {
	const op = "fsblob.Delete"
	if !blob.ValidKey(key) {
		return blob.ErrBadKey
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.objs.Remove(objectPath(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return ioErr(op, err)
	}
	return nil
}

// object is a committed blob opened for reading. Embedding *os.File (not
// wrapping it) keeps syscall.Conn visible, which is what net's sendfile path
// looks for, so serving a file does not copy it through user space.
type object struct {
	*os.File
	info blob.Info
}

func (o *object) Info() blob.Info { return o.info }

// notFoundOr maps a missing file to blob.ErrNotFound, anything else to an
// internal error.
func notFoundOr(op string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return blob.ErrNotFound
	}
	return ioErr(op, err)
}

// ioErr classifies a filesystem error: a full disk is errs.NoSpace (the
// log names the path, the client is told the server is out of space); the
// rest is Internal.
func ioErr(op string, err error) error { return blob.DiskError(errs.Internal, op, err) }
