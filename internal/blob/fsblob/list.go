package fsblob

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"iter"

	"github.com/wharf-dev/wharf/internal/blob"
)

// dirChunk bounds how many directory entries are held at once, so listing
// a large store uses constant memory.
const dirChunk = 512

// List walks sha256/ab/cd/<hex>. Temporaries are never seen: they live
// outside sha256/. Names that do not fit the layout (editor
// droppings, a stray file) are skipped, not reported: they are not objects.
// An object deleted during the walk is skipped as well.
func (s *Store) List(ctx context.Context) iter.Seq2[blob.Info, error] {
	return func(yield func(blob.Info, error) bool) {
		err := s.walkDir(ctx, ".", func(ab string) error {
			return s.walkDir(ctx, ab, func(cd string) error {
				return s.walkFiles(ctx, ab+"/"+cd, ab+cd, yield)
			})
		})
		switch {
		case err == nil, errors.Is(err, errStop):
		case ctx.Err() != nil && errors.Is(err, ctx.Err()):
			yield(blob.Info{}, err)
		default:
			yield(blob.Info{}, ioErr("fsblob.List", err))
		}
	}
}

// errStop ends the walk when the consumer stops iterating.
var errStop = errors.New("stop")

// walkDir calls fn for each two-hex-digit subdirectory of dir.
func (s *Store) walkDir(ctx context.Context, dir string, fn func(name string) error) error {
	d, err := s.objs.Open(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed by hand, or never created: nothing stored
		}
		return err
	}
	defer d.Close()
	for {
		ents, rerr := d.ReadDir(dirChunk)
		for _, e := range ents {
			if !e.IsDir() || !fanout(e.Name()) {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(e.Name()); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// walkFiles yields the objects in one leaf directory whose names start
// with prefix.
func (s *Store) walkFiles(ctx context.Context, dir, prefix string, yield func(blob.Info, error) bool) error {
	d, err := s.objs.Open(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	defer d.Close()
	for {
		ents, rerr := d.ReadDir(dirChunk)
		for _, e := range ents {
			name := e.Name()
			if !e.Type().IsRegular() || !blob.ValidKey(name) || name[:4] != prefix {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return err
			}
			if !yield(blob.Info{Key: name, Size: fi.Size(), ModTime: fi.ModTime()}, nil) {
				return errStop
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// fanout reports whether name is a two-character lowercase hex directory.
func fanout(name string) bool {
	return len(name) == 2 && hexDigit(name[0]) && hexDigit(name[1])
}

func hexDigit(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }
