// Package blob defines wharf's content-addressed artifact store. Every object
// is stored under the lowercase hex sha256 of its bytes, so writes are
// idempotent and duplicates are free. Implementations: blob/fsblob (local
// files), blob/s3blob (S3-compatible); blob/blobtest holds them to one
// contract.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"syscall"
	"time"

	"github.com/wharf-dev/wharf/internal/errs"
)

var (
	ErrNotFound = errs.E(errs.NotFound, "blob", errors.New("blob not found"))
	// ErrBadKey: a key that is not 64 lowercase hex characters.
	ErrBadKey = errs.E(errs.Invalid, "blob", errors.New("blob key is not a sha256 hex digest"))
)

// Info describes a stored object.
type Info struct {
	Key     string // sha256 hex
	Size    int64
	ModTime time.Time
}

// Store is a content-addressed object store.
type Store interface {
	// Create starts a new object. Bytes written to the Temp are kept out of
	// sight (on local disk or as an unfinished upload) until Commit; memory
	// use does not grow with the object's size.
	Create(ctx context.Context) (Temp, error)
	// Open returns the object for reading; ErrNotFound when absent.
	Open(ctx context.Context, key string) (Object, error)
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes the object; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List yields every stored object, in no particular order.
	List(ctx context.Context) iter.Seq2[Info, error]
}

// Temp is an object being written. It hashes what is written to it.
type Temp interface {
	io.Writer
	// ReaderAt reads back what was written so far (for validating an
	// upload, for example opening a wheel as a zip) before it is committed.
	io.ReaderAt
	Size() int64
	// SHA256 is the hex digest of everything written so far.
	SHA256() string
	// Commit makes the object visible under SHA256(), atomically: readers
	// see the whole object or nothing. Committing content that is already
	// stored is a no-op that succeeds.
	Commit(ctx context.Context) (Info, error)
	// Abort discards the object. It is safe to call after Commit, and
	// more than once, so `defer t.Abort()` is the usual pattern.
	Abort() error
}

// Object is a stored object opened for reading. Seek allows http.ServeContent
// to answer Range requests.
type Object interface {
	io.ReadSeekCloser
	Info() Info
}

// ValidKey reports whether key is a lowercase hex sha256 digest.
func ValidKey(key string) bool {
	if len(key) != 64 {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// DiskError classifies an error of the local filesystem under a store (its
// objects or its spool files): a full disk or an exhausted quota is
// errs.NoSpace, which clients are told is the server's problem and never
// shown the paths in; anything else gets kind.
func DiskError(kind errs.Kind, op string, err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return errs.E(errs.NoSpace, op, fmt.Errorf("storage is full: %w", err))
	}
	return errs.E(kind, op, err)
}
