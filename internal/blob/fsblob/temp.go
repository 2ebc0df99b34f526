package fsblob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"io/fs"
	"os"

	"github.com/wharf-dev/wharf/internal/blob"
	"github.com/wharf-dev/wharf/internal/errs"
)

// temp is an object being written to tmp/<random>. Bytes are hashed as they
// arrive and pass through one write buffer on their way to the file: small
// writes are coalesced into it, writes of a buffer or more go straight to
// the file, and io.Copy reads straight into it through ReadFrom. So every
// byte is copied at most once in user space.
type temp struct {
	s    *Store
	f    *os.File // nil once closed
	name string   // path relative to the root; "" once renamed or removed
	h    hash.Hash
	buf  *[]byte // from s.bufs; nil until a small write needs it
	n    int     // bytes waiting in *buf
	size int64   // bytes accepted (written or buffered)
	file int64   // bytes in the file
	wb   int64   // writeback has been started for file[:wb]
	err  error   // first write error; the temp is unusable after it
	done bool    // committed or aborted
}

var (
	_ blob.Temp     = (*temp)(nil)
	_ io.ReaderFrom = (*temp)(nil)
)

func newTemp(s *Store, f *os.File, name string) *temp {
	return &temp{s: s, f: f, name: name, h: sha256.New()}
}

// usable reports why the temp cannot take more bytes, if it cannot.
func (t *temp) usable(op string) error {
	switch {
	case t.err != nil:
		return t.err
	case t.done || t.f == nil:
		return errs.E(errs.Internal, op, errors.New("blob upload already committed or aborted"))
	}
	return nil
}

func (t *temp) buffer() []byte {
	if t.buf == nil {
		t.buf = t.s.bufs.Get().(*[]byte)
	}
	return *t.buf
}

func (t *temp) release() {
	if t.buf != nil {
		t.s.bufs.Put(t.buf)
		t.buf, t.n = nil, 0
	}
}

func (t *temp) flush() error {
	if t.n == 0 {
		return nil
	}
	_, err := t.fileWrite((*t.buf)[:t.n])
	t.n = 0
	return err
}

// fileWrite writes p to the file and, every writebackChunk bytes, asks the
// kernel to start writing the new pages to disk. Without that, a large
// upload sits in the page cache (Linux starts background writeback only
// at a percentage of RAM) and Commit's fsync then writes all of it while
// the client waits; with it, the disk works while we hash, and the fsync
// finds little left to do.
func (t *temp) fileWrite(p []byte) (int, error) {
	m, err := t.f.Write(p)
	t.file += int64(m)
	if err != nil {
		t.err = ioErr("fsblob.Write", err)
		return m, t.err
	}
	if t.file-t.wb >= writebackChunk {
		startWriteback(t.f, t.wb, t.file-t.wb)
		t.wb = t.file
	}
	return m, nil
}

func (t *temp) Write(p []byte) (int, error) {
	if err := t.usable("fsblob.Write"); err != nil {
		return 0, err
	}
	t.h.Write(p)
	written := 0
	for len(p) > 0 {
		if t.n == 0 && len(p) >= bufSize {
			m, err := t.fileWrite(p)
			t.size += int64(m)
			return written + m, err
		}
		buf := t.buffer()
		c := copy(buf[t.n:], p)
		t.n += c
		t.size += int64(c)
		written += c
		p = p[c:]
		if t.n == len(buf) {
			if err := t.flush(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// ReadFrom lets io.Copy(temp, body) read the body straight into the write
// buffer instead of through io.Copy's own 32 KiB buffer and a second copy.
// A read error is returned but does not spoil the temp: the caller decides
// whether to Abort.
func (t *temp) ReadFrom(r io.Reader) (int64, error) {
	if err := t.usable("fsblob.Write"); err != nil {
		return 0, err
	}
	buf := t.buffer()
	var total int64
	for {
		if t.n == len(buf) {
			if err := t.flush(); err != nil {
				return total, err
			}
		}
		m, err := r.Read(buf[t.n:])
		if m > 0 {
			t.h.Write(buf[t.n : t.n+m])
			t.n += m
			t.size += int64(m)
			total += int64(m)
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// ReadAt reads back what was written so far; buffered bytes are flushed
// first so the file holds all of them.
func (t *temp) ReadAt(p []byte, off int64) (int, error) {
	if err := t.usable("fsblob.ReadAt"); err != nil {
		return 0, err
	}
	if err := t.flush(); err != nil {
		return 0, err
	}
	return t.f.ReadAt(p, off)
}

func (t *temp) Size() int64 { return t.size }

func (t *temp) SHA256() string {
	var sum [sha256.Size]byte
	return hex.EncodeToString(t.h.Sum(sum[:0]))
}

// Commit makes the file durable and then visible: fsync the data, rename
// into the fan-out directory, fsync that directory (and its parents when
// they were just created) so the name survives a power cut too.
func (t *temp) Commit(ctx context.Context) (blob.Info, error) {
	const op = "fsblob.Commit"
	if err := t.usable(op); err != nil {
		return blob.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return blob.Info{}, err
	}
	if err := t.flush(); err != nil {
		return blob.Info{}, err
	}
	t.release()
	key := t.SHA256()
	if err := t.f.Sync(); err != nil {
		return blob.Info{}, ioErr(op, err)
	}
	fi, err := t.f.Stat()
	if err != nil {
		return blob.Info{}, ioErr(op, err)
	}
	err = t.f.Close()
	t.f = nil
	if err != nil {
		return blob.Info{}, ioErr(op, err)
	}

	root := t.s.root
	dir := objectsDir + "/" + key[0:2] + "/" + key[2:4]
	dest := dir + "/" + key
	if old, err := root.Stat(dest); err == nil && old.Mode().IsRegular() && old.Size() == t.size {
		// Same name means same bytes: keep the stored file (and its
		// readers and mtime) and drop ours.
		t.done = true
		t.removeTemp()
		return blob.Info{Key: key, Size: old.Size(), ModTime: old.ModTime()}, nil
	}
	created := false
	if _, err := root.Stat(dir); err != nil {
		if err := root.MkdirAll(dir, dirPerm); err != nil {
			return blob.Info{}, ioErr(op, err)
		}
		created = true
	}
	// If a concurrent Commit of the same bytes won the race, rename
	// replaces an identical file, which readers cannot tell apart.
	if err := root.Rename(t.name, dest); err != nil {
		return blob.Info{}, ioErr(op, err)
	}
	t.name = ""
	t.done = true
	if err := t.s.syncDir(dir); err != nil {
		return blob.Info{}, ioErr(op, err)
	}
	if created {
		for _, d := range []string{objectsDir + "/" + key[0:2], objectsDir} {
			if err := t.s.syncDir(d); err != nil {
				return blob.Info{}, ioErr(op, err)
			}
		}
	}
	return blob.Info{Key: key, Size: t.size, ModTime: fi.ModTime()}, nil
}

// Abort discards the temporary. After Commit, or a second time, it does
// nothing. After a failed Commit it removes what Commit left behind.
func (t *temp) Abort() error {
	if t.done {
		return nil
	}
	t.done = true
	t.release()
	if t.f != nil {
		// The bytes are being thrown away, so a close error is moot.
		_ = t.f.Close()
		t.f = nil
	}
	return t.removeTemp()
}

func (t *temp) removeTemp() error {
	if t.name == "" {
		return nil
	}
	err := t.s.root.Remove(t.name)
	t.name = ""
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return ioErr("fsblob.Abort", err)
	}
	return nil
}

func (s *Store) syncDir(dir string) error {
	d, err := s.root.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
