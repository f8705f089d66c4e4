package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"
)

// blobType is the pseudo-folder of the assets' content store in upload
// and Key: a blob's key is "assets/<algorithm>/<ab>/<cd>/<digest>", the
// shards of its local path (internal/asset.Blobs).
const blobType = "assets"

// blobName returns the key name, under blobType, of the content with
// hash ("blake3:<hex digits>"), or false if hash is not of that form.
func blobName(hash string) (string, bool) {
	algo, digest, ok := strings.Cut(hash, ":")
	if !ok || algo == "" || strings.Trim(algo, "abcdefghijklmnopqrstuvwxyz0123456789") != "" ||
		len(digest) < 4 || len(digest) > 128 || strings.Trim(digest, "0123456789abcdef") != "" {
		return "", false
	}
	return algo + "/" + digest[0:2] + "/" + digest[2:4] + "/" + digest, true
}

// BlobKey is the object key of the asset content with hash, or "" if hash
// is not "<algorithm>:<lowercase hex digits>".
func BlobKey(hash string) string {
	name, ok := blobName(hash)
	if !ok {
		return ""
	}
	return Key(blobType, name)
}

// PutBlob uploads the content-store file path, whose content has hash, as
// BlobKey(hash), the way a folder's file is uploaded (in the background,
// retried), and waits for the first attempt as Await does. A blob the
// bucket already holds (same key and size: keys name the content) is not
// sent again.
func (m *Mirror) PutBlob(ctx context.Context, hash, path string) error {
	name, ok := blobName(hash)
	if !ok {
		return fmt.Errorf("blobstore: invalid content hash %q", hash)
	}
	u := upload{t: blobType, name: name, file: path}
	m.enqueue(u)
	return m.await(ctx, u)
}

// OpenBlob opens the bucket's copy of the asset content with hash, and
// returns it with the modification time of the file it was uploaded from;
// an error wrapping fs.ErrNotExist when the bucket does not hold it. The
// caller checks the content against its hash: the bucket is trusted to
// keep bytes, not to keep them whole.
func (m *Mirror) OpenBlob(ctx context.Context, hash string) (io.ReadCloser, time.Time, error) {
	name, ok := blobName(hash)
	if !ok {
		return nil, time.Time{}, fmt.Errorf("%s: %w", hash, fs.ErrNotExist)
	}
	o, err := openObject(ctx, m.opt.Bucket, Key(blobType, name))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && ctx.Err() == nil {
			m.mu.Lock()
			m.stats.ReadFailed++
			m.mu.Unlock()
		}
		return nil, time.Time{}, err
	}
	return o, o.ModTime, nil
}
