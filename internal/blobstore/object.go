package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"
)

// maxKey is S3's limit on key length, in bytes. A longer key cannot be in
// the bucket (its upload would have failed), so it is not asked for.
const maxKey = 1024

// An Object is a file read from the bucket: an io.ReadSeeker for
// http.ServeContent, which fetches only the ranges that are read. Each Read
// after a Seek to a new offset opens a range reader from there to the end.
type Object struct {
	// Size is the object's size and ModTime the file's modification time
	// on the instance that wrote it (the upload time when unknown).
	Size    int64
	ModTime time.Time

	ctx    context.Context
	bucket Bucket
	key    string
	off    int64         // where the next Read starts
	r      io.ReadCloser // reading from rOff, or nil
	rOff   int64
}

// openObject looks up key and returns it for reading; no content is
// fetched until the first Read. A missing object is an error wrapping
// fs.ErrNotExist. ctx bounds every later read: pass the request's.
func openObject(ctx context.Context, b Bucket, key string) (*Object, error) {
	if len(key) > maxKey {
		return nil, fmt.Errorf("%s: %w", key, fs.ErrNotExist)
	}
	size, mtime, err := b.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	return &Object{Size: size, ModTime: mtime, ctx: ctx, bucket: b, key: key}, nil
}

// Read implements io.Reader.
func (o *Object) Read(p []byte) (int, error) {
	if o.off >= o.Size {
		return 0, io.EOF
	}
	if o.r != nil && o.rOff != o.off {
		o.r.Close()
		o.r = nil
	}
	if o.r == nil {
		r, err := o.bucket.ReadFrom(o.ctx, o.key, o.off)
		if err != nil {
			return 0, err
		}
		o.r, o.rOff = r, o.off
	}
	n, err := o.r.Read(p)
	o.off += int64(n)
	o.rOff += int64(n)
	if err == io.EOF && o.off < o.Size {
		// The object shrank under us (replaced by another upload).
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// Seek implements io.Seeker. It fetches nothing.
func (o *Object) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += o.off
	case io.SeekEnd:
		offset += o.Size
	default:
		return 0, errors.New("blobstore: invalid whence")
	}
	if offset < 0 {
		return 0, errors.New("blobstore: negative position")
	}
	o.off = offset
	return offset, nil
}

// Close releases the range reader, if one is open.
func (o *Object) Close() error {
	if o.r == nil {
		return nil
	}
	err := o.r.Close()
	o.r = nil
	return err
}
