package asset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sync"
	"testing"
	"time"
)

// memRemote is a Remote in memory: blobs by hash, with the modification
// time of the file each was copied from.
type memRemote struct {
	mu    sync.Mutex
	blobs map[string][]byte
	mtime map[string]time.Time
	puts  int
	fail  error // returned by every call when set
}

func newMemRemote() *memRemote {
	return &memRemote{blobs: map[string][]byte{}, mtime: map[string]time.Time{}}
}

func (m *memRemote) PutBlob(ctx context.Context, hash, path string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	m.blobs[hash], m.mtime[hash] = data, fi.ModTime()
	m.puts++
	return nil
}

func (m *memRemote) OpenBlob(ctx context.Context, hash string) (io.ReadCloser, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, time.Time{}, m.fail
	}
	data, ok := m.blobs[hash]
	if !ok {
		return nil, time.Time{}, fmt.Errorf("%s: %w", hash, fs.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(data)), m.mtime[hash], nil
}

// TestRemote: an upload's blob goes to the remote (new content and known
// content alike); content that no local file holds any more is fetched
// back into the store with the writer's modification time; a corrupt,
// missing or unreachable remote copy is ErrNoContent and leaves nothing
// in the store.
func TestRemote(t *testing.T) {
	l, _ := newLibrary(t)
	remote := newMemRemote()
	l.cfg.Remote = remote
	ctx := t.Context()
	data := pngBytes(t, 4, 4, 200)
	r, created, err := l.AddUpload(ctx, stage(t, l, data), Upload{Tags: []string{"input"}, ClientName: "a.png"})
	if err != nil || !created {
		t.Fatalf("AddUpload = %v, created %v", err, created)
	}
	hash := r.Asset.Hash
	if remote.puts != 1 || !bytes.Equal(remote.blobs[hash], data) {
		t.Fatalf("remote after an upload: %d puts, %d bytes", remote.puts, len(remote.blobs[hash]))
	}
	if _, _, err := l.AddUpload(ctx, stage(t, l, data), Upload{Tags: []string{"input"}, Name: "again.png"}); err != nil {
		t.Fatal(err)
	}
	if remote.puts != 2 {
		t.Errorf("known content was not offered to the remote: %d puts", remote.puts)
	}

	// As on an instance that never had the bytes.
	forget := func() {
		t.Helper()
		for _, p := range []string{r.FilePath, l.Blobs().Path(hash)} {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
		}
	}
	forget()
	c, err := l.Open(ctx, r)
	if err != nil {
		t.Fatalf("Open with the content on the remote only: %v", err)
	}
	got, _ := io.ReadAll(c.File)
	c.File.Close()
	if !bytes.Equal(got, data) || !l.Blobs().Has(hash) {
		t.Errorf("Open from the remote: %d bytes, in store %v", len(got), l.Blobs().Has(hash))
	}
	if fi, err := os.Stat(l.Blobs().Path(hash)); err != nil || !fi.ModTime().Equal(remote.mtime[hash]) {
		t.Errorf("fetched blob's time %v, the writer's %v (%v)", fi.ModTime(), remote.mtime[hash], err)
	}

	for _, c := range []struct {
		name  string
		setup func()
	}{
		{"corrupt", func() { remote.blobs[hash] = append([]byte{0}, data[1:]...) }},
		{"longer", func() { remote.blobs[hash] = append(slices.Clone(data), make([]byte, 1<<20)...) }},
		{"missing", func() { delete(remote.blobs, hash) }},
		{"down", func() { remote.fail = errors.New("connection refused") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			forget()
			c.setup()
			_, err := l.Open(ctx, r)
			if !errors.Is(err, ErrNoContent) {
				t.Errorf("Open = %v, want ErrNoContent", err)
			}
			if (c.name == "corrupt" || c.name == "longer") && !errors.Is(err, ErrCorrupt) {
				t.Errorf("Open of a corrupt copy = %v, want ErrCorrupt too", err)
			}
			if l.Blobs().Has(hash) {
				t.Error("the store kept what the remote sent")
			}
			if left := entries(t, l.Blobs().tmpDir()); len(left) != 0 {
				t.Errorf("temporary files left: %q", left)
			}
		})
	}

	// An unreachable remote does not fail an upload: the content is
	// stored here.
	other := pngBytes(t, 2, 2, 1)
	if _, created, err := l.AddUpload(ctx, stage(t, l, other), Upload{Tags: []string{"input"}, ClientName: "b.png"}); err != nil || !created {
		t.Errorf("AddUpload with the remote down = %v, created %v", err, created)
	}
}
