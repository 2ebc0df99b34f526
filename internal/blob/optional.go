package blob

import "context"

// Optional interfaces a Store may implement; callers type-assert.

// Signer is implemented by stores that can hand clients a time-limited URL
// to fetch an object directly (S3 presigned URLs), so downloads need not
// stream through wharf.
type Signer interface {
	// SignedURL returns a URL answering GET with the object's bytes, with
	// the given Content-Type and a Content-Disposition naming filename.
	SignedURL(ctx context.Context, key, filename, contentType string) (string, error)
}

// Pinger is implemented by stores on a remote service; readiness checks
// call Ping and report the store down when it fails.
type Pinger interface {
	Ping(ctx context.Context) error
}

// TempSweeper is implemented by stores that keep temporaries where a
// crashed process can leave them (fsblob): SweepTemps removes those no
// live process owns and returns how many it removed. The maintenance run
// calls it.
type TempSweeper interface {
	SweepTemps(ctx context.Context) (int, error)
}
