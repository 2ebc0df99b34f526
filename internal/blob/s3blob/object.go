package s3blob

import (
	"context"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wharf-dev/wharf/internal/blob"
	"github.com/wharf-dev/wharf/internal/errs"
)

// object reads an S3 object. Open issues one GET for the whole object and
// reads its body as long as reads are sequential; a Seek elsewhere drops
// that body and the next Read asks for a range starting there. So a plain
// download costs one request, and http.ServeContent's Range answers one
// ranged GET per range.
type object struct {
	s    *Store
	ctx  context.Context // the request's, metered: reads stop when the client goes or the store stalls
	m    *meter
	info blob.Info
	body io.ReadCloser // nil: none open
	bpos int64         // offset the body is at
	pos  int64         // offset the next Read starts at
}

var _ blob.Object = (*object)(nil)

// Open starts reading the object; ErrNotFound when absent.
func (s *Store) Open(ctx context.Context, key string) (blob.Object, error) {
	const op = "s3blob.Open"
	if !blob.ValidKey(key) {
		return nil, blob.ErrBadKey
	}
	// The response's body is read under the context of the request that
	// asked for it, so that context lives as long as the object.
	ctx, m := s.transfer(ctx)
	out, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(key))})
	if err != nil {
		m.stop()
		return nil, transferErr(ctx, op, err)
	}
	m.pause()
	return &object{
		s:    s,
		ctx:  ctx,
		m:    m,
		info: blob.Info{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)},
		body: out.Body,
	}, nil
}

func (o *object) Info() blob.Info { return o.info }

func (o *object) Read(p []byte) (int, error) {
	if o.pos >= o.info.Size {
		return 0, io.EOF
	}
	if o.body != nil && o.bpos != o.pos {
		o.body.Close()
		o.body = nil
	}
	o.m.resume()
	defer o.m.pause()
	start := time.Now()
	if o.body == nil {
		out, err := o.s.c.GetObject(o.ctx, &s3.GetObjectInput{
			Bucket: &o.s.bucket,
			Key:    aws.String(o.s.key(o.info.Key)),
			Range:  aws.String("bytes=" + strconv.FormatInt(o.pos, 10) + "-"),
		})
		if err != nil {
			return 0, transferErr(o.ctx, "s3blob.Read", err)
		}
		o.body, o.bpos = out.Body, o.pos
	}
	n, err := o.body.Read(p)
	o.m.count(n, time.Since(start))
	o.pos += int64(n)
	o.bpos = o.pos
	switch {
	case err == io.EOF && o.pos < o.info.Size:
		err = errs.E(errs.Unavailable, "s3blob.Read", io.ErrUnexpectedEOF)
	case err != nil && err != io.EOF:
		err = transferErr(o.ctx, "s3blob.Read", err)
	}
	return n, err
}

func (o *object) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = o.pos + offset
	case io.SeekEnd:
		abs = o.info.Size + offset
	default:
		return 0, errs.E(errs.Invalid, "s3blob.Seek", errors.New("bad whence"))
	}
	if abs < 0 {
		return 0, errs.E(errs.Invalid, "s3blob.Seek", errors.New("negative position"))
	}
	o.pos = abs
	return abs, nil
}

func (o *object) Close() error {
	o.m.stop()
	if o.body != nil {
		err := o.body.Close()
		o.body = nil
		return err
	}
	return nil
}
