package blobstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocomfy/gocomfy/internal/blobstore/buckettest"
	"github.com/gocomfy/gocomfy/internal/files"
)

func openBucket(t testing.TB, url string) Bucket {
	t.Helper()
	b, err := OpenBucket(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// readAll reads the object key whole.
func readAll(b Bucket, key string) ([]byte, error) {
	r, err := b.ReadFrom(context.Background(), key, 0)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func openFolders(t testing.TB) *files.Folders {
	t.Helper()
	f, err := files.Open(files.Config{BaseDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func write(t testing.TB, f *files.Folders, typ files.Type, name string, data []byte) {
	t.Helper()
	err := files.WriteFile(f.Root(typ), name, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func flush(t testing.TB, m *Mirror) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Flush(ctx); err != nil {
		t.Fatal("flush:", err)
	}
}

func TestOpenBucketRefuses(t *testing.T) {
	for _, url := range []string{"gs://b", "mem://", "s3://user:secret@b", "http://x", "%zz", "s3://b?foo=1",
		"s3://b/path", "s3://", "s3://b?use_path_style=secret", "file://host/dir", "file:///nonexistent-dir",
		"file:///tmp?no_tmp_dir=true"} {
		if _, err := OpenBucket(context.Background(), url); err == nil {
			t.Errorf("OpenBucket(%q) succeeded", url)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("OpenBucket(%q): error repeats the URL: %v", url, err)
		}
	}
}

func TestMirrorUploadsOutputsAndInputs(t *testing.T) {
	for _, scheme := range []string{"s3", "file"} {
		t.Run(scheme, func(t *testing.T) {
			b := openBucket(t, buckettest.URL(t, scheme))
			f := openFolders(t)
			m := NewMirror(Options{Bucket: b, Folders: f, Logger: quietLog()})
			defer m.Close(context.Background())

			png := bytes.Repeat([]byte("\x89PNG data "), 1000)
			write(t, f, files.Output, "sub/a_00001_.png", png)
			write(t, f, files.Input, "cat.png", []byte("cat"))
			write(t, f, files.Temp, "preview.png", []byte("temp"))
			flush(t, m)

			ctx := context.Background()
			got, err := readAll(b, "output/sub/a_00001_.png")
			if err != nil || !bytes.Equal(got, png) {
				t.Fatalf("output object: %d bytes, %v", len(got), err)
			}
			if got, _ := readAll(b, "input/cat.png"); string(got) != "cat" {
				t.Errorf("input object %q", got)
			}
			if _, err := readAll(b, "temp/preview.png"); !errorsIsNotExist(err) {
				t.Error("a temp file was mirrored")
			}

			// Read back through Object, with seeks, as ServeContent does.
			o, err := m.Open(ctx, files.Output, "sub/a_00001_.png")
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			local, _ := f.Root(files.Output).Stat("sub/a_00001_.png")
			if o.Size != int64(len(png)) || !o.ModTime.Equal(local.ModTime()) {
				t.Errorf("object size %d mtime %v; file %d %v", o.Size, o.ModTime, len(png), local.ModTime())
			}
			if end, _ := o.Seek(0, io.SeekEnd); end != o.Size {
				t.Errorf("SeekEnd = %d", end)
			}
			o.Seek(100, io.SeekStart)
			part := make([]byte, 50)
			if _, err := io.ReadFull(o, part); err != nil || !bytes.Equal(part, png[100:150]) {
				t.Errorf("range 100-149: %q, %v", part, err)
			}
			o.Seek(9000, io.SeekStart)
			if rest, err := io.ReadAll(o); err != nil || !bytes.Equal(rest, png[9000:]) {
				t.Errorf("range 9000-: %d bytes, %v", len(rest), err)
			}

			if _, err := m.Open(ctx, files.Output, "missing.png"); !errorsIsNotExist(err) {
				t.Errorf("missing object: %v", err)
			}
			if _, err := m.Open(ctx, files.Output, strings.Repeat("a/", 600)+"x.png"); !errorsIsNotExist(err) {
				t.Errorf("over-long key: %v", err)
			}
		})
	}
}

// refusePuts answers the next n PUT requests with S3's AccessDenied, an
// error the AWS SDK does not retry itself, so that only the Mirror's own
// retries can get an upload through.
func refusePuts(n *atomic.Int32) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && n.Add(-1) >= 0 {
				w.WriteHeader(http.StatusForbidden)
				io.WriteString(w, `<Error><Code>AccessDenied</Code><Message>refused by the test</Message></Error>`)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// always is a count for refusePuts that does not run out.
func always() *atomic.Int32 {
	var n atomic.Int32
	n.Store(1 << 30)
	return &n
}

func errorsIsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// TestMirrorRetries fails the first uploads with a non-retryable S3 error
// (so the SDK's own retries do not hide it) and checks that the Mirror
// retries until the object is there.
func TestMirrorRetries(t *testing.T) {
	var failPuts atomic.Int32
	failPuts.Store(3)
	url := buckettest.S3(t, refusePuts(&failPuts))
	b := openBucket(t, url)
	f := openFolders(t)
	m := NewMirror(Options{Bucket: b, Folders: f, Logger: quietLog(), Backoff: 10 * time.Millisecond})
	defer m.Close(context.Background())
	write(t, f, files.Output, "x.png", []byte("x"))
	if err := m.Await(t.Context(), files.Output, "./x.png"); err == nil {
		t.Error("Await: no error from the refused first attempt")
	}
	flush(t, m)
	if got, err := readAll(b, "output/x.png"); err != nil || string(got) != "x" {
		t.Fatalf("after retries: %q, %v", got, err)
	}
	if err := m.Await(t.Context(), files.Output, "x.png"); err != nil {
		t.Errorf("Await after the upload: %v", err)
	}
	if s := m.Stats(); s.Uploaded != 1 || s.Retried != 3 || s.Failed != 0 {
		t.Errorf("stats %+v, want 1 uploaded after 3 retries", s)
	}
}

// TestMirrorGivesUp checks that an upload that keeps failing is given up
// after Attempts, and that Flush then returns.
func TestMirrorGivesUp(t *testing.T) {
	b := openBucket(t, buckettest.S3(t, refusePuts(always())))
	f := openFolders(t)
	m := NewMirror(Options{Bucket: b, Folders: f, Logger: quietLog(), Backoff: time.Millisecond, Attempts: 3})
	defer m.Close(context.Background())
	write(t, f, files.Output, "a.png", []byte("a"))
	write(t, f, files.Output, "b.png", []byte("b"))
	flush(t, m)
	if s := m.Stats(); s != (Stats{Failed: 2, Retried: 4}) {
		t.Errorf("stats %+v, want 2 failed after 2 retries each", s)
	}
}

// TestMirrorBound checks that writes beyond MaxPending are dropped, not
// waited for, while uploads wait to be retried.
func TestMirrorBound(t *testing.T) {
	b := openBucket(t, buckettest.S3(t, refusePuts(always())))
	f := openFolders(t)
	m := NewMirror(Options{Bucket: b, Folders: f, Logger: quietLog(), Backoff: time.Hour, MaxPending: 2})
	for _, name := range []string{"a.png", "b.png", "c.png", "d.png", "e.png"} {
		write(t, f, files.Output, name, []byte("x"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	m.Close(ctx)
	if s := m.Stats(); s.Dropped != 3 || s.Uploaded != 0 {
		t.Errorf("stats %+v, want 3 dropped", s)
	}
}

// TestMirrorCloseAbandons checks that Close returns when its context ends
// even though an upload keeps being retried.
func TestMirrorCloseAbandons(t *testing.T) {
	f := openFolders(t)
	b := openBucket(t, buckettest.S3(t, refusePuts(always())))
	m := NewMirror(Options{Bucket: b, Folders: f, Logger: quietLog(), Backoff: time.Hour})
	write(t, f, files.Output, "x.png", []byte("x")) // refused, retried in an hour
	m.Enqueue(files.Output, "missing.png")          // does not exist: skipped
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := m.Close(ctx); err == nil {
		t.Error("Close reported every upload done")
	}
	write(t, f, files.Output, "after.png", []byte("x")) // the hook is gone
	if _, err := readAll(b, "output/after.png"); !errorsIsNotExist(err) {
		t.Error("a write after Close was mirrored")
	}
}

// TestMirrorFetches: a file written on one instance is fetched into the
// other's folder when a reader there misses it (LoadImage of an upload
// made elsewhere), with the writer's modification time, and is not
// uploaded back.
func TestMirrorFetches(t *testing.T) {
	b := openBucket(t, buckettest.S3(t, nil))
	fa, fb := openFolders(t), openFolders(t)
	ma := NewMirror(Options{Bucket: b, Folders: fa, Logger: quietLog()})
	defer ma.Close(context.Background())
	mb := NewMirror(Options{Bucket: b, Folders: fb, Logger: quietLog()})
	defer mb.Close(context.Background())
	write(t, fa, files.Input, "sub/cat.png", []byte("cat"))
	write(t, fa, files.Output, "out.png", []byte("out"))
	flush(t, ma)

	ctx := t.Context()
	for _, c := range []struct {
		typ        files.Type
		name, want string
	}{{files.Input, "sub/cat.png", "cat"}, {files.Output, "out.png", "out"}} {
		f, err := files.OpenOrFetch(ctx, fb.Root(c.typ), c.name)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, _ := io.ReadAll(f)
		fi, _ := f.Stat()
		f.Close()
		wrote, _ := fa.Root(c.typ).Stat(c.name)
		if string(got) != c.want || !fi.ModTime().Equal(wrote.ModTime()) {
			t.Errorf("%s: %q mtime %v, want %q %v", c.name, got, fi.ModTime(), c.want, wrote.ModTime())
		}
	}
	if _, err := files.OpenOrFetch(ctx, fb.Root(files.Input), "missing.png"); !errorsIsNotExist(err) {
		t.Errorf("missing everywhere: %v", err)
	}
	if _, err := files.OpenOrFetch(ctx, fb.Root(files.Temp), "x.png"); !errorsIsNotExist(err) {
		t.Errorf("temp: %v", err)
	}
	flush(t, mb)
	if s := mb.Stats(); s != (Stats{Fetched: 2}) {
		t.Errorf("fetching instance's stats %+v, want 2 fetched and nothing uploaded back", s)
	}
}

// TestMirrorFetchFails: a bucket that answers with errors makes a fetch
// fail with an error that is not "not found", counted and logged; the
// reader sees the file as missing.
func TestMirrorFetchFails(t *testing.T) {
	b := openBucket(t, buckettest.S3(t, func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusForbidden)
		})
	}))
	f := openFolders(t)
	m := NewMirror(Options{Bucket: b, Folders: f, Logger: quietLog()})
	defer m.Close(context.Background())
	if _, err := files.OpenOrFetch(t.Context(), f.Root(files.Input), "x.png"); !errorsIsNotExist(err) {
		t.Errorf("OpenOrFetch: %v, want the folder's not-exist error", err)
	}
	if _, err := m.Open(t.Context(), files.Output, "x.png"); err == nil || errorsIsNotExist(err) {
		t.Errorf("Open: %v, want a bucket error", err)
	}
	if s := m.Stats(); s != (Stats{FetchFailed: 1, ReadFailed: 1}) {
		t.Errorf("stats %+v", s)
	}
}

// BenchmarkMirror4MiB measures the upload of a 4 MiB PNG, from the moment
// a save node's write queues it to the end of its upload to an S3 on
// loopback (gofakes3, in memory, through the AWS SDK), one file at a
// time. The save's own write and fsync are not counted.
func BenchmarkMirror4MiB(b *testing.B) {
	bucket := openBucket(b, buckettest.S3(b, nil))
	f := openFolders(b)
	data := noisePNG(b, 4<<20)
	// Written around WriteFile, so that only Enqueue queues it.
	if err := os.WriteFile(filepath.Join(f.Dir(files.Output), "x.png"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	m := NewMirror(Options{Bucket: bucket, Folders: f, Logger: quietLog()})
	defer m.Close(context.Background())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		m.Enqueue(files.Output, "x.png")
		flush(b, m)
	}
	if s := m.Stats(); s.Failed+s.Retried != 0 || s.Uploaded != b.N {
		b.Fatalf("stats %+v", s)
	}
}

// BenchmarkFetch4MiB measures LoadImage's fetch of a 4 MiB PNG another
// instance wrote: from the bucket into the local folder, opened.
func BenchmarkFetch4MiB(b *testing.B) {
	bucket := openBucket(b, buckettest.S3(b, nil))
	data := noisePNG(b, 4<<20)
	if err := bucket.Put(context.Background(), Key(files.Input, "x.png"), bytes.NewReader(data), int64(len(data)), time.Now()); err != nil {
		b.Fatal(err)
	}
	f := openFolders(b)
	m := NewMirror(Options{Bucket: bucket, Folders: f, Logger: quietLog()})
	defer m.Close(context.Background())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		fh, err := files.OpenOrFetch(b.Context(), f.Root(files.Input), "x.png")
		if err != nil {
			b.Fatal(err)
		}
		fh.Close()
		b.StopTimer()
		f.Root(files.Input).Remove("x.png")
		b.StartTimer()
	}
}

// noisePNG returns a PNG of random pixels of about size bytes, which
// compresses as little as a photograph's.
func noisePNG(tb testing.TB, size int) []byte {
	side := int(math.Sqrt(float64(size) / 3))
	img := image.NewNRGBA(image.Rect(0, 0, side, side))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = byte(rng.Uint32())
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// TestMirrorNumbersAfterOthers: a save numbers its file after those other
// instances put in the bucket under the same prefix, in the top folder and
// in subfolders, for both kinds of bucket.
func TestMirrorNumbersAfterOthers(t *testing.T) {
	for _, scheme := range []string{"s3", "file"} {
		t.Run(scheme, func(t *testing.T) {
			b := openBucket(t, buckettest.URL(t, scheme))
			fa, fb := openFolders(t), openFolders(t)
			ma := NewMirror(Options{Bucket: b, Folders: fa, Logger: quietLog()})
			defer ma.Close(context.Background())
			mb := NewMirror(Options{Bucket: b, Folders: fb, Logger: quietLog()})
			defer mb.Close(context.Background())
			save := func(f *files.Folders, prefix string) string {
				t.Helper()
				sp, err := files.SaveImagePath(f.Root(files.Output), prefix, 8, 8, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				name := sp.Name(0, ".png")
				if sp.Subfolder != "" {
					name = sp.Subfolder + "/" + name
				}
				write(t, f, files.Output, name, []byte(name))
				return name
			}
			for i, c := range []struct {
				f            *files.Folders
				prefix, want string
			}{
				{fa, "run", "run_00001_.png"},
				{fb, "run", "run_00002_.png"},
				{fa, "run", "run_00003_.png"},
				{fb, "sub/run", "sub/run_00001_.png"},
				{fa, "sub/run", "sub/run_00002_.png"},
				{fa, "ru", "ru_00001_.png"}, // "run_…" is another prefix
			} {
				if got := save(c.f, c.prefix); got != c.want {
					t.Errorf("save %d (%s): %s, want %s", i, c.prefix, got, c.want)
				}
				flush(t, ma)
				flush(t, mb)
			}
		})
	}
}

// BenchmarkSaveNumbering measures SaveImagePath with the bucket holding
// 1,000 files of other instances under the same prefix: a listing of the
// S3 on loopback (one page) on top of the local folder's scan.
func BenchmarkSaveNumbering(b *testing.B) {
	bucket := openBucket(b, buckettest.S3(b, nil))
	for i := range 1000 {
		key := Key(files.Output, fmt.Sprintf("ComfyUI_%05d_.png", i+1))
		if err := bucket.Put(context.Background(), key, strings.NewReader("x"), 1, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	f := openFolders(b)
	m := NewMirror(Options{Bucket: bucket, Folders: f, Logger: quietLog()})
	defer m.Close(context.Background())
	for b.Loop() {
		sp, err := files.SaveImagePath(f.Root(files.Output), "ComfyUI", 8, 8, time.Now())
		if err != nil || sp.Counter != 1001 {
			b.Fatalf("counter %d, %v", sp.Counter, err)
		}
	}
}
