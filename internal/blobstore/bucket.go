package blobstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/gocomfy/gocomfy/internal/files"
)

// A Bucket is the storage every instance reaches: an S3 bucket or a
// shared folder. Keys are Key's. Its methods are safe for concurrent use.
type Bucket interface {
	// Put stores size bytes of r under key, with the modification time of
	// the file they come from; r is read from its start, and read again
	// from there if the store retries.
	Put(ctx context.Context, key string, r io.ReadSeeker, size int64, mtime time.Time) error
	// Stat returns the size and the Put modification time of key, or an
	// error wrapping fs.ErrNotExist.
	Stat(ctx context.Context, key string) (size int64, mtime time.Time, err error)
	// ReadFrom opens key for reading from byte off to its end.
	ReadFrom(ctx context.Context, key string, off int64) (io.ReadCloser, error)
	// List returns, in byte order, the keys after the key after ("" for
	// all) that start with prefix and have no further "/" after the
	// prefix's last one, and the folder-like prefixes there (ending in
	// "/"): what a listing of the prefix's folder shows of the names that
	// start with its last segment.
	List(ctx context.Context, prefix, after string) ([]string, error)
	Close() error
}

// OpenBucket opens the bucket of a --output-bucket URL:
//
//	s3://BUCKET?region=REGION               Amazon S3
//	s3://BUCKET?endpoint=URL&region=REGION&use_path_style=true
//	                                        S3-compatible stores (MinIO, R2, …)
//	file:///DIR                             a shared folder (NFS, SMB, …)
//
// S3 credentials come from the standard AWS environment (AWS_ACCESS_KEY_ID
// and AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws, or an instance or
// task role), never from the URL. Other schemes and parameters are
// refused, and errors do not repeat the URL.
func OpenBucket(ctx context.Context, rawURL string) (Bucket, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("bucket URL does not parse")
	}
	if u.User != nil {
		return nil, errors.New("bucket URL must not hold credentials: use the AWS environment")
	}
	q := u.Query()
	switch u.Scheme {
	case "s3":
		if err := onlyParams(q, "region", "endpoint", "use_path_style"); err != nil {
			return nil, err
		}
		if u.Host == "" || (u.Path != "" && u.Path != "/") {
			return nil, errors.New("bucket URL: want s3://BUCKET, with no path")
		}
		return openS3(ctx, u.Host, q)
	case "file":
		if err := onlyParams(q); err != nil {
			return nil, err
		}
		if u.Host != "" && u.Host != "localhost" {
			return nil, errors.New("bucket URL: want file:///ABSOLUTE/DIR")
		}
		return openDir(u.Path)
	}
	return nil, fmt.Errorf("bucket URL scheme %q is not supported (want s3:// or file://)", u.Scheme)
}

// onlyParams refuses query parameters other than allowed.
func onlyParams(q url.Values, allowed ...string) error {
	for k := range q {
		if !slices.Contains(allowed, k) {
			return fmt.Errorf("bucket URL parameter %q is not supported", k)
		}
	}
	return nil
}

// Key is the object key of the file name (clean, as files.CleanName
// returns it) in folder t.
func Key(t files.Type, name string) string {
	return string(t) + "/" + name
}

// s3Bucket is a bucket of S3 or of an S3-compatible store.
type s3Bucket struct {
	client *s3.Client
	bucket string
}

// openS3 configures a client from the AWS environment and the URL's
// parameters. It contacts nothing: a wrong bucket or credentials show at
// the first upload, logged and counted like any failed upload.
func openS3(ctx context.Context, bucket string, q url.Values) (*s3Bucket, error) {
	var opts []func(*config.LoadOptions) error
	if r := q.Get("region"); r != "" {
		opts = append(opts, config.WithRegion(r))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	pathStyle := false
	if v := q.Get("use_path_style"); v != "" {
		if pathStyle, err = strconv.ParseBool(v); err != nil {
			return nil, errors.New("bucket URL: use_path_style must be true or false")
		}
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if e := q.Get("endpoint"); e != "" {
			o.BaseEndpoint = aws.String(e)
		}
		o.UsePathStyle = pathStyle
		// Checksums only where S3 requires them: several S3-compatible
		// stores refuse the SDK's default trailing checksums.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &s3Bucket{client: client, bucket: bucket}, nil
}

func (b *s3Bucket) Put(ctx context.Context, key string, r io.ReadSeeker, size int64, mtime time.Time) error {
	_, err := b.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &b.bucket, Key: &key, Body: r, ContentLength: &size,
		// A hint for other readers of the bucket; /view decides what it
		// sends from the file name, as for local files.
		ContentType: aws.String(contentType(key)),
		Metadata:    map[string]string{mtimeKey: strconv.FormatInt(mtime.UnixNano(), 10)},
	})
	return err
}

func (b *s3Bucket) Stat(ctx context.Context, key string) (int64, time.Time, error) {
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: &key})
	if err != nil {
		return 0, time.Time{}, s3Error(key, err)
	}
	mtime := aws.ToTime(out.LastModified)
	if ns, err := strconv.ParseInt(out.Metadata[mtimeKey], 10, 64); err == nil {
		mtime = time.Unix(0, ns)
	}
	return aws.ToInt64(out.ContentLength), mtime, nil
}

func (b *s3Bucket) ReadFrom(ctx context.Context, key string, off int64) (io.ReadCloser, error) {
	in := &s3.GetObjectInput{Bucket: &b.bucket, Key: &key}
	if off > 0 {
		in.Range = aws.String("bytes=" + strconv.FormatInt(off, 10) + "-")
	}
	out, err := b.client.GetObject(ctx, in)
	if err != nil {
		return nil, s3Error(key, err)
	}
	return out.Body, nil
}

func (b *s3Bucket) List(ctx context.Context, prefix, after string) ([]string, error) {
	var keys []string
	in := &s3.ListObjectsV2Input{Bucket: &b.bucket, Prefix: &prefix, Delimiter: aws.String("/")}
	if after != "" {
		in.StartAfter = &after
	}
	pages := s3.NewListObjectsV2Paginator(b.client, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return keys, err
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		for _, p := range page.CommonPrefixes {
			keys = append(keys, aws.ToString(p.Prefix))
		}
	}
	slices.Sort(keys) // objects and prefixes come in two lists
	return keys, nil
}

func (b *s3Bucket) Close() error { return nil }

// s3Error wraps fs.ErrNotExist into a 404.
func s3Error(key string, err error) error {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == 404 {
		return fmt.Errorf("%s: %w", key, fs.ErrNotExist)
	}
	return err
}

// dirBucket is a shared folder, opened as an os.Root: a key cannot reach
// outside it. Objects are plain files, their modification time the
// writer's.
type dirBucket struct{ root *os.Root }

func openDir(dir string) (*dirBucket, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("bucket folder: %w", err)
	}
	return &dirBucket{root}, nil
}

func (b *dirBucket) Put(ctx context.Context, key string, r io.ReadSeeker, size int64, mtime time.Time) error {
	// WriteFile writes next to the final name and renames, so that readers
	// on other instances see the whole file or none.
	err := files.WriteFile(b.root, key, func(w io.Writer) error {
		_, err := io.Copy(w, io.LimitReader(r, size))
		return err
	})
	if err != nil {
		return err
	}
	return b.root.Chtimes(key, mtime, mtime)
}

func (b *dirBucket) Stat(ctx context.Context, key string) (int64, time.Time, error) {
	fi, err := b.root.Stat(key)
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s: %w", key, fs.ErrNotExist)
	}
	if err != nil {
		return 0, time.Time{}, err
	}
	return fi.Size(), fi.ModTime(), nil
}

func (b *dirBucket) ReadFrom(ctx context.Context, key string, off int64) (io.ReadCloser, error) {
	f, err := b.root.Open(key)
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func (b *dirBucket) List(ctx context.Context, prefix, after string) ([]string, error) {
	dir, base := path.Split(prefix)
	d, err := b.root.Open(strings.TrimSuffix(cmp.Or(dir, "."), "/"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	var keys []string
	for _, e := range entries {
		key := dir + e.Name()
		if e.IsDir() {
			key += "/"
		}
		if strings.HasPrefix(e.Name(), base) && key > after {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	return keys, err
}

func (b *dirBucket) Close() error { return b.root.Close() }
