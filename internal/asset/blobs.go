package asset

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/zeebo/blake3"
)

// HashPrefix starts every content hash: "blake3:" and 64 lowercase hex
// digits, as ComfyUI writes them.
const HashPrefix = "blake3:"

// chunk is the size of the writes to the hasher and the file. Multipart
// parts and request bodies deliver a few KiB per read; hashing in
// megabyte writes is what reaches Blake3's speed.
const chunk = 1 << 20

// ParseHash returns the canonical form of a content hash (trimmed,
// lower-cased) or an error if it is not "blake3:" and 64 hex digits.
func ParseHash(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	digest, ok := strings.CutPrefix(s, HashPrefix)
	if !ok || len(digest) != 64 || strings.Trim(digest, "0123456789abcdef") != "" {
		return "", errors.New("hash must be 'blake3:<hex>'")
	}
	return s, nil
}

// Digest returns the hex digits of a canonical hash.
func Digest(hash string) string { return strings.TrimPrefix(hash, HashPrefix) }

// Blobs keeps content on disk, one file per content named by its hash:
// dir/blake3/ab/cd/<64 hex digits>, in two levels of 256 folders so that
// no folder grows too large. Content is written to dir/tmp first and
// renamed into place once complete, so a blob is always whole. Blob files
// are read-only: the working folders may hold hard links to them, and
// content must never change under its hash.
type Blobs struct {
	dir string
}

// OpenBlobs opens (creating it if needed) the content store in dir and
// removes the temporary files a killed process left behind.
func OpenBlobs(dir string) (*Blobs, error) {
	b := &Blobs{dir: dir}
	if err := os.RemoveAll(b.tmpDir()); err != nil {
		return nil, err
	}
	for _, d := range []string{b.tmpDir(), filepath.Join(dir, "blake3")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (b *Blobs) tmpDir() string { return filepath.Join(b.dir, "tmp") }

// Path returns where the content of a canonical hash is (or would be).
func (b *Blobs) Path(hash string) string {
	d := Digest(hash)
	return filepath.Join(b.dir, "blake3", d[0:2], d[2:4], d)
}

// Has reports whether the store holds the content of a canonical hash.
func (b *Blobs) Has(hash string) bool {
	fi, err := os.Stat(b.Path(hash))
	return err == nil && fi.Mode().IsRegular()
}

// Staged is content written to a temporary file and hashed while it
// streamed in, not yet in the store: Commit puts it there, Discard drops
// it. One of the two must be called.
type Staged struct {
	Hash string // canonical
	Size int64
	b    *Blobs
	tmp  string // "" once committed or discarded
}

// Stage streams r into a temporary file, hashing it on the way, with
// memory that does not depend on its size. On any error (r failing half
// way, a full disk) nothing is left behind.
func (b *Blobs) Stage(r io.Reader) (*Staged, error) {
	var rnd [12]byte
	rand.Read(rnd[:])
	tmp := filepath.Join(b.tmpDir(), hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return nil, err
	}
	h := blake3.New()
	n, err := copyHashing(f, h, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return nil, err
	}
	return &Staged{Hash: HashPrefix + hex.EncodeToString(h.Sum(nil)), Size: n, b: b, tmp: tmp}, nil
}

// Commit moves the content into the store, unless the store has it
// already (then the staged copy is dropped), and returns its path and
// whether it is new.
func (s *Staged) Commit() (path string, created bool, err error) {
	if s.tmp == "" {
		return "", false, errors.New("asset: staged content already committed or discarded")
	}
	path = s.b.Path(s.Hash)
	if s.b.Has(s.Hash) {
		return path, false, s.Discard()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		s.Discard()
		return "", false, err
	}
	// Two commits of the same content may both rename: the second
	// replaces identical bytes, and readers see a whole file either way.
	if err := os.Rename(s.tmp, path); err != nil {
		s.Discard()
		return "", false, err
	}
	s.tmp = ""
	return path, true, nil
}

// Discard removes the staged copy. It may be called after Commit (it
// then does nothing), so that a deferred Discard cleans up on every
// early return.
func (s *Staged) Discard() error {
	if s.tmp == "" {
		return nil
	}
	err := os.Remove(s.tmp)
	s.tmp = ""
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	return err
}

// copyHashing copies r to w and to the hasher h, in chunk-sized pieces,
// and returns how many bytes it copied. It is a pipeline: while one
// goroutine writes a chunk, this one reads and hashes the next, so an
// upload takes about as long as the slowest of reading, hashing and
// writing rather than their sum (writing into fresh page-cache pages is
// the slowest on small machines). Memory is the chunks in flight, whatever
// the size of r. On an error of r or w, it stops and reports the first.
func copyHashing(w io.Writer, h io.Writer, r io.Reader) (int64, error) {
	const inFlight = 3 // chunks being written, hashed and read
	free := make(chan []byte, inFlight)
	for range inFlight {
		free <- make([]byte, chunk)
	}
	full := make(chan []byte, inFlight)
	werr := make(chan error, 1)
	failed := make(chan struct{}) // closed on a write error: stop reading
	go func() {
		var err error
		for b := range full {
			if err == nil {
				if _, err = w.Write(b); err != nil {
					close(failed)
				}
			}
			free <- b[:cap(b)]
		}
		werr <- err
	}()
	var n int64
	var err error
	for err == nil {
		var b []byte
		select {
		case b = <-free:
		case <-failed:
		}
		if b == nil {
			break
		}
		var k int
		k, err = io.ReadFull(r, b)
		if k == 0 {
			free <- b
			break
		}
		n += int64(k)
		full <- b[:k]
		h.Write(b[:k]) // a hash.Hash never fails
	}
	close(full)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil
	}
	if wErr := <-werr; err == nil {
		err = wErr
	}
	return n, err
}

// hashReader hashes what r holds, in chunk-sized writes.
func hashReader(r io.Reader) (string, int64, error) {
	h := blake3.New()
	// Hide r's WriterTo (an *os.File's would copy in 32 KiB writes).
	n, err := io.CopyBuffer(h, struct{ io.Reader }{r}, make([]byte, chunk))
	if err != nil {
		return "", n, fmt.Errorf("asset: hashing: %w", err)
	}
	return HashPrefix + hex.EncodeToString(h.Sum(nil)), n, nil
}
