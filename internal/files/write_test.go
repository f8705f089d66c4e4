package files

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gocomfy/gocomfy/internal/files/filestest"
)

func TestWriteFile(t *testing.T) {
	t.Parallel()
	dir, root := tempRoot(t)
	if err := WriteFile(root, "a/b/x.png", writeString("one")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(root, "a/b/x.png", writeString("two")); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "a", "b", "x.png")); string(data) != "two" {
		t.Errorf("content = %q; want two", data)
	}
	boom := errors.New("boom")
	err := WriteFile(root, "a/b/x.png", func(w io.Writer) error {
		io.WriteString(w, "partial")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("WriteFile error = %v; want boom", err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "a", "b", "x.png")); string(data) != "two" {
		t.Errorf("a failed write changed the file: %q", data)
	}
	if names := listAll(t, dir); !slices.Equal(names, []string{"a", "a/b", "a/b/x.png"}) {
		t.Errorf("files = %q; want no temporary files left", names)
	}
	if err := WriteFile(root, "a", writeString("x")); err == nil {
		t.Error("WriteFile over a folder succeeded")
	}
}

// tempRoot opens a fresh temporary directory as a root.
func tempRoot(t *testing.T) (string, *os.Root) {
	t.Helper()
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return dir, root
}

// listAll lists every path under dir, slash-separated and sorted.
func listAll(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for p := range filestest.Snapshot(t, dir) {
		if rel, _ := filepath.Rel(dir, p); rel != "." {
			out = append(out, filepath.ToSlash(rel))
		}
	}
	slices.Sort(out)
	return out
}

func TestUploadStore(t *testing.T) {
	t.Parallel()
	dir, root := tempRoot(t)
	store := func(sub, name, content string, overwrite bool) string {
		t.Helper()
		u := Upload{Subfolder: sub, Name: name, Overwrite: overwrite, Content: strings.NewReader(content), Size: int64(len(content))}
		got, err := u.Store(root, nil)
		if err != nil {
			t.Fatalf("Store(%q, %q): %v", sub, name, err)
		}
		return got
	}
	read := func(name string) string {
		data, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		return string(data)
	}
	for _, c := range []struct {
		sub, name, content string
		overwrite          bool
		want               string
	}{
		{"", "cat.png", "A", false, "cat.png"},
		{"", "cat.png", "B", false, "cat (1).png"},
		{"", "cat.png", "C", false, "cat (2).png"},
		{"", "cat.png", "A", false, "cat.png"},     // same bytes as cat.png
		{"", "cat.png", "B", false, "cat (1).png"}, // same bytes as cat (1).png
		{"", "cat.png", "AA", false, "cat (3).png"},
		{"", "cat.png", "Z", true, "cat.png"},
		{"pasted", "cat.png", "A", false, "cat.png"},
		{"pasted/", "cat.png", "B", false, "cat (1).png"},
		{"", ".bashrc", "1", false, ".bashrc"},
		{"", ".bashrc", "2", false, ".bashrc (1)"},
		{"", "a.tar.gz", "1", false, "a.tar.gz"},
		{"", "a.tar.gz", "2", false, "a.tar (1).gz"},
		{"", "empty.png", "", false, "empty.png"},
		{"", "empty.png", "", false, "empty.png"},
		{"", "pasted", "x", false, "pasted (1)"}, // a folder of that name is taken
		{"pasted", "deep/cat.png", "A", false, "deep/cat.png"},
		{"pasted", "deep/cat.png", "B", false, "deep/cat (1).png"},
	} {
		if got := store(c.sub, c.name, c.content, c.overwrite); got != c.want {
			t.Errorf("Store(%q, %q, %q) = %q; want %q", c.sub, c.name, c.content, got, c.want)
		}
	}
	for name, want := range map[string]string{
		"cat.png": "Z", "cat (1).png": "B", "cat (2).png": "C", "cat (3).png": "AA",
		"pasted/cat.png": "A", "pasted/cat (1).png": "B", ".bashrc (1)": "2", "a.tar (1).gz": "2",
	} {
		if got := read(name); got != want {
			t.Errorf("%s holds %q; want %q", name, got, want)
		}
	}
	// A large upload that differs only in its last byte is no duplicate.
	big := strings.Repeat("x", 200<<10)
	store("", "big.bin", big+"1", false)
	if got := store("", "big.bin", big+"2", false); got != "big (1).bin" {
		t.Errorf("large near-duplicate stored as %q", got)
	}
	if got := store("", "big.bin", big+"2", false); got != "big (1).bin" {
		t.Errorf("large duplicate stored as %q", got)
	}
}

func TestUploadStoreWriteFunc(t *testing.T) {
	t.Parallel()
	dir, root := tempRoot(t)
	// /upload/mask: the duplicate check compares the uploaded mask, but
	// the composite is what is written.
	mask := Upload{Subfolder: "clipspace", Name: "m.png", Content: strings.NewReader("mask"), Size: 4}
	calls := 0
	composite := func(w io.Writer) error {
		calls++
		_, err := io.WriteString(w, "composite")
		return err
	}
	if name, err := mask.Store(root, composite); err != nil || name != "m.png" {
		t.Fatalf("Store = %q, %v", name, err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "clipspace", "m.png")); string(data) != "composite" {
		t.Errorf("stored %q; want the composite", data)
	}
	if name, _ := mask.Store(root, composite); name != "m (1).png" {
		t.Errorf("second mask stored as %q; want m (1).png (the file differs from the upload)", name)
	}
	boom := errors.New("boom")
	failing := func(io.Writer) error { return boom }
	if _, err := mask.Store(root, failing); !errors.Is(err, boom) {
		t.Errorf("Store with a failing write = %v", err)
	}
	if names := listAll(t, dir); !slices.Equal(names, []string{"clipspace", "clipspace/m (1).png", "clipspace/m.png"}) {
		t.Errorf("files = %q; want the failed upload's reserved name removed", names)
	}
	if calls != 2 {
		t.Errorf("composite written %d times; want 2", calls)
	}
}

func TestUploadStoreConcurrent(t *testing.T) {
	t.Parallel()
	dir, root := tempRoot(t)
	const n = 8
	names := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			content := strings.Repeat(string(rune('a'+i)), 1000)
			u := Upload{Name: "image.png", Content: strings.NewReader(content), Size: int64(len(content))}
			name, err := u.Store(root, nil)
			if err != nil {
				t.Error(err)
			}
			names[i] = name
		})
	}
	wg.Wait()
	for i, name := range names {
		data, _ := os.ReadFile(filepath.Join(dir, name))
		if want := strings.Repeat(string(rune('a'+i)), 1000); string(data) != want {
			t.Errorf("upload %d stored as %q holds another upload's bytes", i, name)
		}
	}
	if slices.Sort(names); len(slices.Compact(names)) != n {
		t.Errorf("uploads share names: %q", names)
	}
}
