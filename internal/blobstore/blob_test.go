package blobstore

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocomfy/gocomfy/internal/blobstore/buckettest"
)

func TestBlobKey(t *testing.T) {
	digest := strings.Repeat("ab", 32)
	for hash, want := range map[string]string{
		"blake3:" + digest:            "assets/blake3/ab/ab/" + digest,
		"blake3:abcd":                 "assets/blake3/ab/cd/abcd",
		"blake3:" + "AB" + digest[2:]: "",
		"blake3:abc":                  "",
		"blake3:../../x":              "",
		"b/../x:abcd":                 "",
		":abcd":                       "",
		digest:                        "",
	} {
		if got := BlobKey(hash); got != want {
			t.Errorf("BlobKey(%q) = %q, want %q", hash, got, want)
		}
	}
}

// TestMirrorBlobs: PutBlob uploads a content-store file under its hash's
// key, with its modification time, retrying as for folder files, and
// waits for the first attempt; content the bucket has is not sent again;
// OpenBlob reads it back.
func TestMirrorBlobs(t *testing.T) {
	var failPuts atomic.Int32
	failPuts.Store(1)
	url := buckettest.S3(t, refusePuts(&failPuts))
	b := openBucket(t, url)
	m := NewMirror(Options{Bucket: b, Folders: openFolders(t), Logger: quietLog(), Backoff: 10 * time.Millisecond})
	defer m.Close(context.Background())
	hash := "blake3:" + strings.Repeat("0123", 16)
	path := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(path, []byte("content"), 0o444); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	os.Chtimes(path, mtime, mtime)
	if _, _, err := m.OpenBlob(t.Context(), hash); !errorsIsNotExist(err) {
		t.Fatalf("OpenBlob before the upload: %v", err)
	}
	if err := m.PutBlob(t.Context(), hash, path); err == nil {
		t.Error("PutBlob: no error from the refused first attempt")
	}
	flush(t, m)
	r, got, err := m.OpenBlob(t.Context(), hash)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(data) != "content" || !got.Equal(mtime) {
		t.Errorf("OpenBlob = %q, %v, %v; want %q, %v", data, got, err, "content", mtime)
	}
	if data, err := readAll(b, "assets/blake3/01/23/"+strings.Repeat("0123", 16)); string(data) != "content" {
		t.Errorf("object under the hash's key: %q, %v", data, err)
	}

	// Known content: nothing is sent (a PUT would be refused).
	failPuts.Store(1 << 30)
	if err := m.PutBlob(t.Context(), hash, path); err != nil {
		t.Errorf("PutBlob of content the bucket has: %v", err)
	}
	if s := m.Stats(); s.Uploaded != 2 || s.Retried != 1 || s.Failed != 0 {
		t.Errorf("stats %+v, want 2 uploaded (one skipped) after 1 retry", s)
	}
	if err := m.PutBlob(t.Context(), "md5:zz", path); err == nil {
		t.Error("PutBlob of a malformed hash: no error")
	}
}
