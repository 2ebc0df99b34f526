package store

import "context"

// RemoteBlobs reports which blobs the remote-repository cache references
// (its cached files and their core metadata), so the orphan-blob sweep
// keeps them. A remote file's row is written before its blob is fetched,
// so a blob the cache stores is always referenced by the time it exists.
type RemoteBlobs interface {
	// RemoteBlobKeys returns every sha256 a remote file row names, as its
	// content or its core metadata.
	RemoteBlobKeys(ctx context.Context) (map[string]struct{}, error)
	// RemoteBlobInUse reports whether any remote file row names sha256.
	RemoteBlobInUse(ctx context.Context, sha256 string) (bool, error)
}
