package asset

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/zeebo/blake3"
)

func openBlobs(t testing.TB) *Blobs {
	t.Helper()
	b, err := OpenBlobs(filepath.Join(t.TempDir(), "assets"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sum(data []byte) string {
	s := blake3.Sum256(data)
	return HashPrefix + hex.EncodeToString(s[:])
}

// entries lists a folder's names; for "nothing left behind" checks.
func entries(t testing.TB, dir string) []string {
	t.Helper()
	list, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range list {
		names = append(names, e.Name())
	}
	return names
}

func TestParseHash(t *testing.T) {
	hex64 := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, c := range []struct {
		in, want string
	}{
		{"blake3:" + hex64, "blake3:" + hex64},
		{"  BLAKE3:" + "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef ", "blake3:" + hex64},
		{"blake3:" + hex64[:63], ""},
		{"blake3:" + hex64 + "0", ""},
		{"blake3:" + hex64[:63] + "g", ""},
		{"sha256:" + hex64, ""},
		{hex64, ""},
		{"", ""},
	} {
		got, err := ParseHash(c.in)
		if got != c.want || (err == nil) != (c.want != "") {
			t.Errorf("ParseHash(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestStageCommit(t *testing.T) {
	b := openBlobs(t)
	data := []byte("hello, assets")
	s, err := b.Stage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if s.Hash != sum(data) || s.Size != int64(len(data)) {
		t.Fatalf("Stage = %s %d, want %s %d", s.Hash, s.Size, sum(data), len(data))
	}
	path, created, err := s.Commit()
	if err != nil || !created {
		t.Fatalf("Commit = %q, %v, %v", path, created, err)
	}
	d := Digest(s.Hash)
	if want := filepath.Join(b.dir, "blake3", d[:2], d[2:4], d); path != want {
		t.Errorf("blob at %s, want %s", path, want)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, data) {
		t.Errorf("blob holds %q, %v", got, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm()&0o222 != 0 {
		t.Errorf("blob mode %v, want read-only", fi.Mode())
	}
	if err := s.Discard(); err != nil {
		t.Errorf("Discard after Commit: %v", err)
	}

	// The same bytes again: the store keeps its copy, the new one goes.
	s2, err := b.Stage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if _, created, err := s2.Commit(); err != nil || created {
		t.Errorf("second Commit: created %v, %v", created, err)
	}
	if left := entries(t, b.tmpDir()); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
	if !b.Has(s.Hash) || b.Has(sum([]byte("other"))) {
		t.Error("Has is wrong")
	}
}

func TestStageDiscard(t *testing.T) {
	b := openBlobs(t)
	s, err := b.Stage(bytes.NewReader([]byte("x")))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Discard(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Commit(); err == nil {
		t.Error("Commit after Discard succeeded")
	}
	if b.Has(s.Hash) || len(entries(t, b.tmpDir())) != 0 {
		t.Error("a discarded upload left something behind")
	}
}

// brokenReader delivers n bytes, then fails, as a client that disconnects.
type brokenReader struct{ n int }

var errBroken = errors.New("connection reset")

func (r *brokenReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errBroken
	}
	k := min(len(p), r.n, 4096)
	r.n -= k
	return k, nil
}

func TestStageBrokenOff(t *testing.T) {
	b := openBlobs(t)
	for _, n := range []int{0, 100, 3 << 20} {
		if _, err := b.Stage(&brokenReader{n: n}); !errors.Is(err, errBroken) {
			t.Errorf("Stage(broken after %d bytes) = %v, want the reader's error", n, err)
		}
	}
	if left := entries(t, b.tmpDir()); len(left) != 0 {
		t.Errorf("a broken-off upload left %q", left)
	}
	if left := entries(t, filepath.Join(b.dir, "blake3")); len(left) != 0 {
		t.Errorf("a broken-off upload stored %q", left)
	}
}

func TestOpenBlobsRemovesStaleTemps(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "assets")
	if _, err := OpenBlobs(dir); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "tmp", "0123")
	if err := os.WriteFile(stale, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenBlobs(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary file still there: %v", err)
	}
}

// pattern is a reader of n pseudo-random bytes made on the fly, in the
// small reads a multipart part gives.
type pattern struct {
	n   int64
	rnd *rand.ChaCha8
}

func newPattern(n int64) *pattern { return &pattern{n: n, rnd: rand.NewChaCha8([32]byte{1})} }

func (p *pattern) Read(b []byte) (int, error) {
	if p.n == 0 {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n, 4096)]
	p.rnd.Read(b)
	p.n -= int64(len(b))
	return len(b), nil
}

// TestStageMemory stages 256 MiB from a generator: what Stage allocates
// does not grow with the content.
func TestStageMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 256 MiB")
	}
	b := openBlobs(t)
	const size = 256 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s, err := b.Stage(newPattern(size))
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	defer s.Discard()
	if s.Size != size {
		t.Fatalf("staged %d bytes, want %d", s.Size, size)
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("staging 256 MiB allocated %.1f MiB in all; heap in use %.1f → %.1f MiB",
		float64(allocated)/(1<<20), float64(before.HeapInuse)/(1<<20), float64(after.HeapInuse)/(1<<20))
	if allocated > 16<<20 {
		t.Errorf("staging 256 MiB allocated %d MiB; want it bounded (< 16 MiB)", allocated>>20)
	}
}

// benchSize is the content the hashing benchmarks process.
const benchSize = 256 << 20

// BenchmarkHashMemory is the reference: zeebo/blake3 over content in
// memory, in 1 MiB writes.
func BenchmarkHashMemory(b *testing.B) {
	data := make([]byte, benchSize)
	newPattern(benchSize).rnd.Read(data)
	b.SetBytes(benchSize)
	for b.Loop() {
		h := blake3.New()
		for off := 0; off < len(data); off += chunk {
			h.Write(data[off : off+chunk])
		}
		h.Sum(nil)
	}
}

// BenchmarkStage hashes and writes content to a temporary file as an
// upload does, from memory in 4 KiB reads (what a multipart part gives).
func BenchmarkStage(b *testing.B) {
	data := make([]byte, benchSize)
	newPattern(benchSize).rnd.Read(data)
	blobs := openBlobs(b)
	b.SetBytes(benchSize)
	for b.Loop() {
		s, err := blobs.Stage(&smallReads{r: bytes.NewReader(data)})
		if err != nil {
			b.Fatal(err)
		}
		s.Discard()
	}
}

// smallReads hides the reader's WriterTo and caps reads at 4 KiB.
type smallReads struct{ r io.Reader }

func (s *smallReads) Read(p []byte) (int, error) { return s.r.Read(p[:min(len(p), 4096)]) }

// TestCopyHashing checks the pipelined copy at sizes around its chunks:
// what is written and hashed is what was read, in order.
func TestCopyHashing(t *testing.T) {
	for _, size := range []int64{0, 1, chunk - 1, chunk, chunk + 1, 3*chunk + 17, 7 * chunk} {
		data := make([]byte, size)
		newPattern(size).Read(data)
		var out bytes.Buffer
		h := blake3.New()
		n, err := copyHashing(&out, h, &smallReads{r: bytes.NewReader(data)})
		if err != nil || n != size {
			t.Errorf("%d bytes: copied %d, %v", size, n, err)
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Errorf("%d bytes: the copy differs", size)
		}
		if got := HashPrefix + hex.EncodeToString(h.Sum(nil)); got != sum(data) {
			t.Errorf("%d bytes: hash %s, want %s", size, got, sum(data))
		}
	}
}

// failingWriter fails its writes after n bytes.
type failingWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n < len(p) {
		return 0, errDiskFull
	}
	w.n -= len(p)
	return len(p), nil
}

// TestCopyHashingWriteFails: a failing write is reported, and the copy
// stops reading soon after rather than draining the source.
func TestCopyHashingWriteFails(t *testing.T) {
	src := newPattern(1 << 30)
	_, err := copyHashing(&failingWriter{n: 2 * chunk}, blake3.New(), src)
	if !errors.Is(err, errDiskFull) {
		t.Errorf("error %v, want %v", err, errDiskFull)
	}
	// At most the chunks in flight are read past the failure.
	if read := (1 << 30) - src.n; read > 8*chunk {
		t.Errorf("read %d MiB of the source after a write failed at 2 MiB", read>>20)
	}
}
