package registry

import "context"

// Reader says what one caller may read. The HTTP layer builds it from the
// request's credentials and hands it to the indexes in the context
// (WithReader): a virtual repository asks it about each member before
// using the member's data, and every index asks it about the project of a
// file it is about to open, as the file's stored row names it.
type Reader interface {
	// CanRead reports whether the caller may read repo's index at all; whole
	// is set when it may read every project of it (otherwise each project
	// must pass CanReadProject, and listings are filtered).
	CanRead(repo Repository) (ok, whole bool)
	// CanReadProject reports whether the caller may read project (PEP 503
	// normalised) of repo. project "" is a file whose project is not known:
	// only a caller that may read the whole repository may read it, so an
	// unknown project is never a wildcard.
	CanReadProject(repo Repository, project string) bool
}

// Anonymous is the Reader of a caller without credentials: public
// repositories only.
type Anonymous struct{}

func (Anonymous) CanRead(repo Repository) (bool, bool)          { return repo.Public, repo.Public }
func (Anonymous) CanReadProject(repo Repository, _ string) bool { return repo.Public }

type readerKey struct{}

// WithReader returns a context carrying the caller's Reader.
func WithReader(ctx context.Context, r Reader) context.Context {
	return context.WithValue(ctx, readerKey{}, r)
}

// ReaderFrom returns the caller's Reader, Anonymous when the context
// carries none: code that forgets to say who is reading sees only public
// repositories, never more.
func ReaderFrom(ctx context.Context) Reader {
	if r, ok := ctx.Value(readerKey{}).(Reader); ok {
		return r
	}
	return Anonymous{}
}
