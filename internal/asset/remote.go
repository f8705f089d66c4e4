package asset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/gocomfy/gocomfy/internal/store"
)

// Remote is storage that every instance reaches (--output-bucket), where
// uploaded content is kept by hash, so that instances sharing one
// database but not the user folder serve each other's uploads.
// internal/blobstore's Mirror is one; the interface lives here so that
// this package does not depend on it.
type Remote interface {
	// PutBlob copies the content-store file path, whose content has hash,
	// to the remote, and returns once the copy is made or has failed (it
	// is then retried in the background), or ctx is done.
	PutBlob(ctx context.Context, hash, path string) error
	// OpenBlob opens the remote's copy of the content with hash and gives
	// the modification time of the file it was copied from; an error
	// wrapping fs.ErrNotExist when the remote does not have it.
	OpenBlob(ctx context.Context, hash string) (io.ReadCloser, time.Time, error)
}

// ErrCorrupt: the remote's copy of content does not have its hash.
var ErrCorrupt = errors.New("stored content does not match its hash")

// remoteWait bounds how long an upload's answer waits for the remote, as
// /upload/image waits for the bucket.
const remoteWait = 10 * time.Second

// share copies the blob of hash, at path, to the remote, if there is one,
// waiting up to remoteWait so that an instance asked for the content
// right after the answer finds it. A failure is logged, not returned: the
// content is stored here, and its copy goes on in the background.
func (l *Library) share(ctx context.Context, hash, path string) {
	if l.cfg.Remote == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, remoteWait)
	defer cancel()
	if err := l.cfg.Remote.PutBlob(ctx, hash, path); err != nil {
		l.log.Warn("asset upload: not in the output bucket yet; other instances may not serve it for a while",
			"hash", hash, "err", err)
	}
}

// fetch copies the remote's copy of the content with hash, of size bytes
// (0: unknown), into the content store and returns its path there; a copy
// that is longer is read no further than a byte past size, so that a
// corrupt object cannot fill the disk. It returns an error wrapping
// fs.ErrNotExist when there is no remote or it lacks the content,
// ErrCorrupt when the copy does not have the hash (it is not stored).
// The blob keeps the writer's modification time, so that every instance
// sends the same Last-Modified.
func (l *Library) fetch(ctx context.Context, hash string, size int64) (string, error) {
	if l.cfg.Remote == nil {
		return "", fmt.Errorf("%s: %w", hash, fs.ErrNotExist)
	}
	r, mtime, err := l.cfg.Remote.OpenBlob(ctx, hash)
	if err != nil {
		return "", err
	}
	var src io.Reader = r
	if size > 0 {
		src = io.LimitReader(r, size+1)
	}
	s, err := l.cfg.Blobs.Stage(src)
	r.Close()
	if err != nil {
		return "", err
	}
	defer s.Discard()
	if s.Hash != hash {
		return "", fmt.Errorf("%w: the remote's copy of %s has %s", ErrCorrupt, hash, s.Hash)
	}
	path, _, err := s.Commit()
	if err != nil {
		return "", err
	}
	if !mtime.IsZero() {
		os.Chtimes(path, mtime, mtime) // a Last-Modified of our own otherwise
	}
	return path, nil
}

// openRemote opens content a from the remote, through the content store;
// ErrNoContent when it cannot. A remote that fails or holds a corrupt copy
// is logged, and the content is then missing, as a file /view cannot read
// from the bucket is.
func (l *Library) openRemote(ctx context.Context, a store.Asset) (*os.File, error) {
	hash := a.Hash
	path, err := l.fetch(ctx, hash, a.Size)
	switch {
	case errors.Is(err, ErrCorrupt):
		l.log.Error("asset content: the output bucket's copy is corrupt; not served", "hash", hash, "err", err)
	case err != nil && !errors.Is(err, fs.ErrNotExist) && ctx.Err() == nil:
		l.log.Warn("asset content: reading the output bucket failed", "hash", hash, "err", err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoContent, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoContent, err)
	}
	return f, nil
}
