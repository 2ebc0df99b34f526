package s3blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/wharf-dev/wharf/internal/blob"
	"github.com/wharf-dev/wharf/internal/errs"
)

// temp spools an upload to a local file, hashing it as it arrives. Nothing
// reaches the bucket before Commit, so an abandoned upload leaves no
// unfinished multipart upload behind, and a crash leaves only a file in
// TempDir.
type temp struct {
	s    *Store
	f    *os.File
	h    hash.Hash
	size int64
	err  error
	done bool
}

var _ blob.Temp = (*temp)(nil)

// Create starts a new object spooled in TempDir.
func (s *Store) Create(ctx context.Context) (blob.Temp, error) {
	const op = "s3blob.Create"
	if err := ctx.Err(); err != nil {
		return nil, errs.E(errs.Unavailable, op, err)
	}
	f, err := os.CreateTemp(s.tmpDir, "wharf-s3-*")
	if err != nil {
		return nil, blob.DiskError(errs.Unavailable, op, fmt.Errorf("spool file: %w", err))
	}
	// Unlinked at once: the open descriptor keeps the data, and a crash
	// cannot leave spool files behind.
	os.Remove(f.Name())
	return &temp{s: s, f: f, h: sha256.New()}, nil
}

func (t *temp) usable(op string) error {
	switch {
	case t.err != nil:
		return t.err
	case t.done:
		return errs.E(errs.Internal, op, errors.New("blob upload already committed or aborted"))
	}
	return nil
}

func (t *temp) Write(p []byte) (int, error) {
	if err := t.usable("s3blob.Write"); err != nil {
		return 0, err
	}
	n, err := t.f.Write(p)
	t.h.Write(p[:n])
	t.size += int64(n)
	if err != nil {
		t.err = blob.DiskError(errs.Unavailable, "s3blob.Write", fmt.Errorf("spool file: %w", err))
		return n, t.err
	}
	return n, nil
}

func (t *temp) ReadAt(p []byte, off int64) (int, error) {
	if t.done {
		return 0, errs.E(errs.Internal, "s3blob.ReadAt", errors.New("blob upload already committed or aborted"))
	}
	if off >= t.size {
		return 0, io.EOF
	}
	if max := t.size - off; int64(len(p)) > max {
		n, err := t.f.ReadAt(p[:max], off)
		if err == nil {
			err = io.EOF
		}
		return n, err
	}
	return t.f.ReadAt(p, off)
}

func (t *temp) Size() int64 { return t.size }

func (t *temp) SHA256() string {
	var sum [sha256.Size]byte
	return hex.EncodeToString(t.h.Sum(sum[:0]))
}

// Commit uploads the spooled bytes under their sha256. The key is the
// digest computed here from the bytes that are uploaded, and SigV4 carries
// that same digest as the payload hash of a single PUT, so the server
// refuses a body damaged on the way.
func (t *temp) Commit(ctx context.Context) (blob.Info, error) {
	const op = "s3blob.Commit"
	if err := t.usable(op); err != nil {
		return blob.Info{}, err
	}
	key := t.SHA256()
	var err error
	if t.size <= t.s.part {
		err = t.put(ctx, key)
	} else {
		err = t.multipart(ctx, key)
	}
	if err != nil {
		return blob.Info{}, err
	}
	t.close()
	return blob.Info{Key: key, Size: t.size, ModTime: t.s.now().UTC()}, nil
}

func (t *temp) put(ctx context.Context, key string) error {
	// The payload hash is our key: telling the signer saves it reading
	// the whole file again to compute it.
	ctx = v4.SetPayloadHash(ctx, key)
	ctx, m := t.s.transfer(ctx)
	defer m.stop()
	_, err := t.s.c.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &t.s.bucket,
		Key:           aws.String(t.s.key(key)),
		Body:          meteredReader{io.NewSectionReader(t.f, 0, t.size), m},
		ContentLength: aws.Int64(t.size),
		ContentType:   aws.String("application/octet-stream"),
	})
	if err != nil {
		return transferErr(ctx, "s3blob.Commit", err)
	}
	return nil
}

// multipart uploads the file in parts and completes the upload; on any
// failure it aborts the upload so the bucket keeps no orphaned parts.
func (t *temp) multipart(ctx context.Context, key string) error {
	const op = "s3blob.Commit"
	objKey := aws.String(t.s.key(key))
	cctx, cancel := t.s.call(ctx)
	mu, err := t.s.c.CreateMultipartUpload(cctx, &s3.CreateMultipartUploadInput{
		Bucket:      &t.s.bucket,
		Key:         objKey,
		ContentType: aws.String("application/octet-stream"),
	})
	cancel()
	if err != nil {
		return s3Err(op, err)
	}
	abort := func(err error) error {
		in := &s3.AbortMultipartUploadInput{Bucket: &t.s.bucket, Key: objKey, UploadId: mu.UploadId}
		// A fresh context: the caller's may be what failed.
		if aerr := t.s.abortUpload(context.WithoutCancel(ctx), in); aerr != nil {
			// The store that failed the upload may fail the abort too:
			// it is tried again in the background.
			go t.s.abortLater(context.WithoutCancel(ctx), in)
			err = fmt.Errorf("%w (aborting multipart upload %s failed, retrying: %w)", err, aws.ToString(mu.UploadId), aerr)
		}
		return err
	}
	var parts []types.CompletedPart
	for off, n := int64(0), int32(1); off < t.size; off, n = off+t.s.part, n+1 {
		size := min(t.s.part, t.size-off)
		etag, err := t.part(ctx, objKey, mu.UploadId, n, off, size)
		if err != nil {
			return abort(err)
		}
		parts = append(parts, types.CompletedPart{ETag: etag, PartNumber: aws.Int32(n)})
	}
	cctx, cancel = context.WithTimeout(ctx, completeFactor*t.s.timeout)
	defer cancel()
	_, err = t.s.c.CompleteMultipartUpload(cctx, &s3.CompleteMultipartUploadInput{
		Bucket:          &t.s.bucket,
		Key:             objKey,
		UploadId:        mu.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return abort(s3Err(op, err))
	}
	return nil
}

// abortRetries bounds abortLater: with the default timeout, an hour of
// tries; past that the bucket's AbortIncompleteMultipartUpload lifecycle
// rule (docs/deployment.md) reclaims the parts.
const abortRetries = 360

func (s *Store) abortUpload(ctx context.Context, in *s3.AbortMultipartUploadInput) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	_, err := s.c.AbortMultipartUpload(ctx, in)
	if err != nil && errs.KindOf(s3Err("", err)) == errs.NotFound {
		return nil // already gone
	}
	return err
}

// abortLater retries an abort that failed, one timeout apart, so an upload
// that failed while the store was unreachable leaves no parts once it is
// back.
func (s *Store) abortLater(ctx context.Context, in *s3.AbortMultipartUploadInput) {
	for range abortRetries {
		time.Sleep(s.timeout)
		if s.abortUpload(ctx, in) == nil {
			return
		}
	}
}

// part uploads one part under the minimum rate.
func (t *temp) part(ctx context.Context, objKey, uploadID *string, n int32, off, size int64) (*string, error) {
	ctx, m := t.s.transfer(ctx)
	defer m.stop()
	out, err := t.s.c.UploadPart(ctx, &s3.UploadPartInput{
		Bucket:        &t.s.bucket,
		Key:           objKey,
		UploadId:      uploadID,
		PartNumber:    aws.Int32(n),
		Body:          meteredReader{io.NewSectionReader(t.f, off, size), m},
		ContentLength: aws.Int64(size),
	})
	if err != nil {
		return nil, transferErr(ctx, "s3blob.Commit", err)
	}
	return out.ETag, nil
}

func (t *temp) close() {
	if !t.done {
		t.done = true
		t.f.Close()
	}
}

// Abort discards the spool file; nothing was sent to the bucket.
func (t *temp) Abort() error {
	t.close()
	return nil
}
