package fsblob

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"
)

// Temporaries are owned. Each open Store writes its temporaries in
// tmp/<id>/ and holds an exclusive lock (flock) on tmp/<id>.lock for as
// long as it is open. The kernel drops the lock when the process dies,
// however it dies (kill -9, OOM), so a lock that can be taken belongs to
// nobody, and its directory is the leftover of a crash: it is removed at
// the next start of any process using the directory, and by the periodic
// maintenance run (SweepTemps). A lock that cannot be taken belongs to a
// live process, here or in another process or replica sharing the
// directory, and its temporaries are never touched, however old.
//
// Files directly in tmp/ (the layout before owners) and directories whose
// lock is gone (a sweep interrupted between removing the two) have no owner
// to ask: they are removed once older than TempMaxAge, as before.
const (
	lockSuffix = ".lock"
	// newSuffix marks a lock file being set up: it is locked before it is
	// renamed to its final name, so a sweeper never finds the final name
	// unlocked while its owner is alive.
	newSuffix = ".new"
)

// own creates this store's temporary directory and takes its lock.
func (s *Store) own() error {
	id := rand.Text()
	s.tmp = tempDir + "/" + id
	lockName := s.tmp + lockSuffix
	f, err := s.root.OpenFile(lockName+newSuffix, os.O_RDWR|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return err
	}
	if err := lockFile(f); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		f.Close()
		s.root.Remove(lockName + newSuffix)
		return err
	}
	if err := s.root.Mkdir(s.tmp, dirPerm); err != nil {
		f.Close()
		s.root.Remove(lockName + newSuffix)
		return err
	}
	if err := s.root.Rename(lockName+newSuffix, lockName); err != nil {
		f.Close()
		s.root.Remove(lockName + newSuffix)
		return err
	}
	s.lock = f
	return nil
}

// disown removes this store's temporaries (a Temp still open at Close is
// abandoned) and releases the lock.
func (s *Store) disown() error {
	if s.lock == nil {
		return nil
	}
	err := s.root.RemoveAll(s.tmp)
	if rerr := s.root.Remove(s.tmp + lockSuffix); err == nil && !errors.Is(rerr, fs.ErrNotExist) {
		err = rerr
	}
	if cerr := s.lock.Close(); err == nil {
		err = cerr
	}
	s.lock = nil
	return err
}

// SweepTemps removes the temporaries of processes that are gone, and
// ownerless ones older than TempMaxAge; it returns how many files and
// directories it removed. The maintenance run calls it (blob.TempSweeper).
func (s *Store) SweepTemps(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n, err := s.sweep(s.now().Add(-s.tempMaxAge))
	if err != nil {
		return n, ioErr("fsblob.SweepTemps", err)
	}
	return n, nil
}

// sweep removes what in tmp/ cannot belong to a live process (see above).
func (s *Store) sweep(cutoff time.Time) (int, error) {
	d, err := s.root.Open(tempDir)
	if err != nil {
		return 0, err
	}
	defer d.Close()
	// Names first, decisions after: removing while reading a directory
	// may skip entries.
	var names []string
	var infos = map[string]fs.FileInfo{}
	for {
		ents, err := d.ReadDir(256)
		for _, e := range ents {
			if info, ierr := e.Info(); ierr == nil {
				names = append(names, e.Name())
				infos[e.Name()] = info
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	removed := 0
	owned := map[string]bool{}
	for _, name := range names {
		if id, ok := strings.CutSuffix(name, lockSuffix); ok {
			owned[id] = true
			if tempDir+"/"+id == s.tmp {
				continue
			}
			if s.reclaim(id) {
				removed++
			}
		}
	}
	for _, name := range names {
		info := infos[name]
		switch {
		case owned[name], strings.HasSuffix(name, lockSuffix):
			continue // decided above
		case info.IsDir() && tempDir+"/"+name == s.tmp:
			continue
		case !info.ModTime().Before(cutoff):
			continue // possibly a live upload, or a lock being set up
		}
		// Best effort: what cannot be removed now is retried at the next
		// sweep and is never visible as an object anyway.
		if s.root.RemoveAll(tempDir+"/"+name) == nil {
			removed++
		}
	}
	return removed, nil
}

// reclaim removes tmp/<id>/ and its lock when the lock can be taken: its
// owner is gone. It reports whether it removed them.
func (s *Store) reclaim(id string) bool {
	lockName := tempDir + "/" + id + lockSuffix
	f, err := s.root.OpenFile(lockName, os.O_RDWR, 0)
	if err != nil {
		return false // already reclaimed by another process
	}
	defer f.Close()
	if err := lockFile(f); err != nil {
		return false // alive (or locks unsupported: the age rule applies to nothing owned)
	}
	// Directory first, lock last: a sweep cut short leaves a directory
	// without a lock, which the age rule removes later.
	if err := s.root.RemoveAll(tempDir + "/" + id); err != nil {
		return false
	}
	return s.root.Remove(lockName) == nil
}
