// Package s3blob is the blob.Store on Amazon S3 or any S3-compatible object
// store (MinIO, versitygw, Ceph RGW, R2, ...), through aws-sdk-go-v2.
//
// Objects live at <prefix>sha256/<hex>. A Temp spools to a local file while
// it is hashed (memory use does not grow with the object), and Commit
// uploads it under its checked sha256 key only: with one PutObject for
// small objects, with a multipart upload for large ones. S3 makes an object
// visible only once its PUT or CompleteMultipartUpload succeeds, so readers
// see the whole object or nothing, as with fsblob's rename.
package s3blob

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wharf-dev/wharf/internal/blob"
	"github.com/wharf-dev/wharf/internal/errs"
)

const (
	// DefaultPartSize is the multipart part size, and the size above which
	// Commit uses a multipart upload. S3 needs parts of at least 5 MiB.
	DefaultPartSize = 16 << 20
	minPartSize     = 5 << 20
	// DefaultPresignTTL is how long a presigned download URL stays valid.
	DefaultPresignTTL = 5 * time.Minute
	objectsDir        = "sha256/"
)

// Config configures a Store.
type Config struct {
	Bucket string
	// Prefix is prepended to every key ("wharf/" keeps wharf's objects
	// under one folder of a shared bucket); a missing trailing slash is added.
	Prefix string
	Region string
	// Endpoint is the URL of an S3-compatible server; empty means AWS.
	Endpoint string
	// PathStyle addresses the bucket as <endpoint>/<bucket>/key rather than
	// <bucket>.<endpoint>/key; most self-hosted servers need it.
	PathStyle bool
	// AccessKeyID and SecretAccessKey are static credentials; both empty
	// means the AWS default chain (environment, shared files, instance role).
	AccessKeyID     string
	SecretAccessKey string
	// TempDir holds upload spool files; os.TempDir() when empty.
	TempDir string
	// PartSize is the multipart part size; DefaultPartSize when zero.
	PartSize int64
	// PresignTTL is the lifetime of SignedURL's URLs; DefaultPresignTTL when zero.
	PresignTTL time.Duration
	// HTTPClient overrides the SDK's HTTP client (tests).
	HTTPClient *http.Client
	// RetryMaxAttempts bounds the SDK's attempts per request; its default
	// (3) when zero.
	RetryMaxAttempts int
	// Timeout bounds each metadata call (HEAD, DELETE, a listing page,
	// starting a multipart upload) and is the window over which body
	// transfers must keep MinRate; DefaultTimeout when zero.
	Timeout time.Duration
	// MinRate, in bytes per second, is the slowest body transfer not
	// abandoned; DefaultMinRate when zero.
	MinRate int64
	Now     func() time.Time
}

// Store is a blob.Store on an S3 bucket. It is safe for concurrent use.
type Store struct {
	c       *s3.Client
	presign *s3.PresignClient
	bucket  string
	prefix  string
	tmpDir  string
	part    int64
	ttl     time.Duration
	timeout time.Duration
	minRate int64
	now     func() time.Time
}

var (
	_ blob.Store  = (*Store)(nil)
	_ blob.Signer = (*Store)(nil)
	_ blob.Pinger = (*Store)(nil)
)

// New builds a Store. It does not contact the server; Ping does.
func New(ctx context.Context, cfg Config) (*Store, error) {
	const op = "s3blob.New"
	if cfg.Bucket == "" {
		return nil, errs.E(errs.Invalid, op, errors.New("blobs.s3.bucket is required"))
	}
	if (cfg.AccessKeyID == "") != (cfg.SecretAccessKey == "") {
		return nil, errs.E(errs.Invalid, op, errors.New("set both the S3 access key ID and secret access key, or neither to use the AWS default credential chain"))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.PartSize < minPartSize {
		return nil, errs.Errorf(errs.Invalid, op, "S3 part size %d is below the 5 MiB S3 requires", cfg.PartSize)
	}
	if cfg.PresignTTL <= 0 {
		cfg.PresignTTL = DefaultPresignTTL
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MinRate <= 0 {
		cfg.MinRate = DefaultMinRate
	}
	region := cfg.Region
	if region == "" && cfg.Endpoint != "" {
		// Self-hosted servers rarely care, but SigV4 needs some region.
		region = "us-east-1"
	}
	var opts []func(*awsconfig.LoadOptions) error
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, awsconfig.WithHTTPClient(cfg.HTTPClient))
	}
	if cfg.RetryMaxAttempts > 0 {
		opts = append(opts, awsconfig.WithRetryMaxAttempts(cfg.RetryMaxAttempts))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, errs.E(errs.Invalid, op, fmt.Errorf("AWS configuration: %w", err))
	}
	c := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.UsePathStyle = cfg.PathStyle
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
			// Since service/s3 v1.73 the SDK adds CRC32 checksums to every
			// request and validates them on responses, which many
			// S3-compatible servers reject or do not send. Only when the
			// operation requires it, there. (Our own sha256 check is what
			// guards content.)
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	})
	prefix := cfg.Prefix
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &Store{
		c:       c,
		presign: s3.NewPresignClient(c),
		bucket:  cfg.Bucket,
		prefix:  prefix + objectsDir,
		tmpDir:  cfg.TempDir,
		part:    cfg.PartSize,
		ttl:     cfg.PresignTTL,
		timeout: cfg.Timeout,
		minRate: cfg.MinRate,
		now:     cfg.Now,
	}, nil
}

func (s *Store) key(k string) string { return s.prefix + k }

// Stat returns the object's size and modification time.
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	const op = "s3blob.Stat"
	if !blob.ValidKey(key) {
		return blob.Info{}, blob.ErrBadKey
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	out, err := s.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(key))})
	if err != nil {
		return blob.Info{}, s3Err(op, err)
	}
	return blob.Info{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// Delete removes the object; S3 deletes of missing keys succeed.
func (s *Store) Delete(ctx context.Context, key string) error {
	const op = "s3blob.Delete"
	if !blob.ValidKey(key) {
		return blob.ErrBadKey
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	if _, err := s.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(key))}); err != nil {
		if errs.KindOf(s3Err(op, err)) == errs.NotFound {
			return nil
		}
		return s3Err(op, err)
	}
	return nil
}

// List yields every object under the prefix whose name is a valid key.
func (s *Store) List(ctx context.Context) iter.Seq2[blob.Info, error] {
	return func(yield func(blob.Info, error) bool) {
		p := s3.NewListObjectsV2Paginator(s.c, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(s.prefix)})
		for p.HasMorePages() {
			cctx, cancel := s.call(ctx)
			page, err := p.NextPage(cctx)
			cancel()
			if err != nil {
				yield(blob.Info{}, s3Err("s3blob.List", err))
				return
			}
			for _, o := range page.Contents {
				k := strings.TrimPrefix(aws.ToString(o.Key), s.prefix)
				if !blob.ValidKey(k) {
					continue // not ours (another tool's file under the prefix)
				}
				if !yield(blob.Info{Key: k, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)}, nil) {
					return
				}
			}
		}
	}
}

// Ping checks that the bucket is reachable with the configured credentials
// (readiness).
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	if _, err := s.c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket}); err != nil {
		err = s3Err("s3blob.Ping", err)
		if errs.KindOf(err) == errs.NotFound {
			return errs.Errorf(errs.Unavailable, "s3blob.Ping", "bucket %q does not exist", s.bucket)
		}
		if errs.KindOf(err) != errs.Unavailable {
			return errs.E(errs.Unavailable, "s3blob.Ping", err)
		}
		return err
	}
	return nil
}

// SignedURL returns a presigned GET URL for the object, valid for the
// configured TTL, that answers with the given Content-Type and
// Content-Disposition filename.
func (s *Store) SignedURL(ctx context.Context, key, filename, contentType string) (string, error) {
	const op = "s3blob.SignedURL"
	if !blob.ValidKey(key) {
		return "", blob.ErrBadKey
	}
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(key))}
	if contentType != "" {
		in.ResponseContentType = aws.String(contentType)
	}
	if filename != "" && !strings.ContainsAny(filename, "\"\\\r\n") {
		in.ResponseContentDisposition = aws.String(`attachment; filename="` + filename + `"`)
	}
	req, err := s.presign.PresignGetObject(ctx, in, s3.WithPresignExpires(s.ttl))
	if err != nil {
		return "", errs.E(errs.Internal, op, err)
	}
	return req.URL, nil
}

// s3Err gives an SDK error a kind: 404s are NotFound, network failures,
// throttling and 5xx Unavailable, the rest Internal.
func s3Err(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errs.E(errs.Unavailable, op, err)
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		switch c := re.HTTPStatusCode(); {
		case c == http.StatusNotFound:
			return errs.E(errs.NotFound, op, blob.ErrNotFound)
		case c == http.StatusTooManyRequests || c == http.StatusServiceUnavailable || c >= 500:
			return errs.E(errs.Unavailable, op, err)
		case c != 0:
			return errs.E(errs.Internal, op, err)
		}
	}
	// No HTTP response at all: the server could not be reached.
	return errs.E(errs.Unavailable, op, err)
}
