package files

import (
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gocomfy/gocomfy/internal/files/filestest"
)

// openTest opens Folders under a fresh base directory, with a sibling
// "outside" folder holding a secret that no operation may reach.
func openTest(t *testing.T) (f *Folders, outside string) {
	t.Helper()
	dir := t.TempDir()
	outside = filepath.Join(dir, "outside")
	if err := os.MkdirAll(outside, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("secret"), 0o666); err != nil {
		t.Fatal(err)
	}
	f, err := Open(Config{BaseDir: filepath.Join(dir, "base")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, outside
}

func TestCleanName(t *testing.T) {
	t.Parallel()
	ok := []struct{ in, want string }{
		{"x.png", "x.png"},
		{"sub/x.png", "sub/x.png"},
		{"a//b/./c.png", "a/b/c.png"},
		{"./x.png", "x.png"},
		{"dir/", "dir"},
		{"a..b.png", "a..b.png"},
		{"..x", "..x"},
		{"x..", "x.."},
		{".hidden", ".hidden"},
		{"café/日本.png", "café/日本.png"},
		{"with space (1).png", "with space (1).png"},
		{"1:2.png", "1:2.png"}, // a colon past the first element's second byte is no drive letter
		{strings.Repeat("a", 255), strings.Repeat("a", 255)},
	}
	for _, c := range ok {
		got, err := CleanName(c.in)
		if err != nil || got != c.want {
			t.Errorf("CleanName(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", ".", "./", "/"} {
		if _, err := CleanName(in); !errors.Is(err, ErrInvalidName) {
			t.Errorf("CleanName(%q) = %v; want ErrInvalidName", in, err)
		}
	}
}

func TestCleanNameMessage(t *testing.T) {
	t.Parallel()
	_, err := CleanName("a/../../x")
	if got, want := err.Error(), `invalid name "a/../../x": parent directory reference`; got != want {
		t.Errorf("error = %q; want %q", got, want)
	}
	_, err = CleanName(strings.Repeat("a", 300))
	if len(err.Error()) > 150 {
		t.Errorf("error for a long name is %d bytes; want it shortened", len(err.Error()))
	}
}

func TestTraversalCorpusFile(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/traversal.txt")
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, `"`) {
			if _, err := strconv.Unquote(line); err != nil {
				t.Errorf("traversal.txt:%d: %v", i+1, err)
			}
		}
	}
	if n := len(TraversalCorpus()); n < 50 {
		t.Errorf("corpus has %d cases; want at least 50", n)
	}
}

// TestTraversal runs the corpus through every entry point that takes a
// name, and checks that nothing was written anywhere.
func TestTraversal(t *testing.T) {
	t.Parallel()
	f, outside := openTest(t)
	parent := filepath.Dir(outside)
	before := filestest.Snapshot(t, parent)
	for _, name := range TraversalCorpus() {
		for _, typ := range []Type{Input, Output, Temp, User} {
			if _, err := f.Resolve(typ, "", name); !errors.Is(err, ErrInvalidName) {
				t.Errorf("Resolve(%s, \"\", %q) = %v; want ErrInvalidName", typ, name, err)
			}
			if _, err := f.Resolve(typ, name, "x.png"); !errors.Is(err, ErrInvalidName) {
				t.Errorf("Resolve(%s, %q, x.png) = %v; want ErrInvalidName", typ, name, err)
			}
		}
		if _, err := f.ResolveAnnotated(name, Input); !errors.Is(err, ErrInvalidName) {
			t.Errorf("ResolveAnnotated(%q) = %v; want ErrInvalidName", name, err)
		}
		if _, err := f.Models.FullPath("checkpoints", name); !errors.Is(err, ErrInvalidName) {
			t.Errorf("FullPath(checkpoints, %q) = %v; want ErrInvalidName", name, err)
		}
		up := Upload{Name: name, Content: strings.NewReader("x"), Size: 1}
		if _, err := up.Store(f.Root(Input), nil); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Store(name %q) = %v; want ErrInvalidName", name, err)
		}
		up = Upload{Subfolder: name, Name: "x.png", Content: strings.NewReader("x"), Size: 1}
		if _, err := up.Store(f.Root(Input), nil); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Store(subfolder %q) = %v; want ErrInvalidName", name, err)
		}
		if err := WriteFile(f.Root(Output), name, writeString("x")); !errors.Is(err, ErrInvalidName) {
			t.Errorf("WriteFile(%q) = %v; want ErrInvalidName", name, err)
		}
	}
	if after := filestest.Snapshot(t, parent); !maps.Equal(before, after) {
		t.Errorf("files changed:\nbefore %v\nafter  %v", before, after)
	}
}

// TestTraversalSymlinks checks that links inside a folder that lead out of
// it are refused when opened, written through or stored into, and that the
// outside is left as it was.
func TestTraversalSymlinks(t *testing.T) {
	t.Parallel()
	f, outside := openTest(t)
	in := f.Dir(Input)
	for name, target := range map[string]string{
		"dirlink":  outside,                               // absolute link to a folder outside
		"rellink":  "../../outside",                       // relative link climbing out
		"filelink": filepath.Join(outside, "secret.txt"),  // link to a file outside
		"deadlink": filepath.Join(outside, "missing.png"), // dangling link pointing outside
		"chain":    "dirlink",                             // link to a link that leaves
		"absin":    filepath.Join(in, "sub"),              // absolute link: os.Root refuses all of them
		"inside":   "sub",                                 // relative link that stays inside
	} {
		if err := os.Symlink(target, filepath.Join(in, name)); err != nil {
			t.Skipf("symlinks unavailable: %v", err)
		}
	}
	if err := os.MkdirAll(filepath.Join(in, "sub"), 0o777); err != nil {
		t.Fatal(err)
	}
	before := filestest.Snapshot(t, outside)
	root := f.Root(Input)

	for _, c := range []struct{ sub, name string }{
		{"dirlink", "secret.txt"},
		{"rellink", "secret.txt"},
		{"chain", "secret.txt"},
		{"", "filelink"},
		{"absin", "x.png"},
	} {
		loc, err := f.Resolve(Input, c.sub, c.name)
		if err != nil {
			t.Fatalf("Resolve(%q, %q): %v", c.sub, c.name, err)
		}
		if _, err := loc.Root.Open(loc.Name); !IsOutside(err) {
			t.Errorf("Open(%q) = %v; want a refusal", loc.Name, err)
		}
	}
	for _, c := range []struct {
		sub, name string
		overwrite bool
	}{
		{"dirlink", "new.png", false},
		{"rellink", "new.png", true},
		{"", "deadlink", false},
		{"", "filelink", false},
		{"dirlink/deeper", "new.png", false},
	} {
		up := Upload{Subfolder: c.sub, Name: c.name, Overwrite: c.overwrite, Content: strings.NewReader("x"), Size: 1}
		if _, err := up.Store(root, nil); !IsOutside(err) {
			t.Errorf("Store(%q, %q) = %v; want a refusal", c.sub, c.name, err)
		}
	}
	if err := WriteFile(root, "dirlink/new.png", writeString("x")); !IsOutside(err) {
		t.Errorf("WriteFile through a link = %v; want a refusal", err)
	}
	if _, err := SaveImagePath(root, "dirlink/ComfyUI", 8, 8, testNow); !IsOutside(err) {
		t.Errorf("SaveImagePath through a link = %v; want a refusal", err)
	}
	// Overwriting a link replaces the link itself, inside the folder.
	up := Upload{Name: "filelink", Overwrite: true, Content: strings.NewReader("x"), Size: 1}
	if _, err := up.Store(root, nil); err != nil {
		t.Errorf("overwrite of a link: %v", err)
	}
	// A link that stays inside the folder works.
	if err := WriteFile(root, "inside/ok.png", writeString("ok")); err != nil {
		t.Errorf("WriteFile through an inside link: %v", err)
	}
	if after := filestest.Snapshot(t, outside); !maps.Equal(before, after) {
		t.Errorf("outside changed:\nbefore %v\nafter  %v", before, after)
	}
	if data, _ := os.ReadFile(filepath.Join(outside, "secret.txt")); string(data) != "secret" {
		t.Errorf("secret.txt = %q", data)
	}
}

func TestIsOutside(t *testing.T) {
	t.Parallel()
	if IsOutside(nil) || IsOutside(fs.ErrNotExist) || IsOutside(ErrInvalidName) {
		t.Error("IsOutside is true for an unrelated error")
	}
	if !IsOutside(&outsideError{"x"}) {
		t.Error("IsOutside(outsideError) is false")
	}
	// os.Root's own refusal, whose text IsOutside relies on.
	_, root := tempRoot(t)
	if _, err := root.Open("../x"); !IsOutside(err) {
		t.Errorf("os.Root error %v not recognised; has its text changed?", err)
	}
}

func TestSplitAnnotation(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in, rest string
		typ      Type
		ok       bool
	}{
		{"x.png", "x.png", "", false},
		{"x.png [output]", "x.png", Output, true},
		{"sub/x.png [input]", "sub/x.png", Input, true},
		{"x.png [temp]", "x.png", Temp, true},
		{"x.png[output]", "x.png", Output, true},
		{"x.png [user]", "x.png [user]", "", false},
		{"[output]", "", Output, true},
		{"x.png [output] ", "x.png [output] ", "", false},
	} {
		rest, typ, ok := SplitAnnotation(c.in)
		if rest != c.rest || typ != c.typ || ok != c.ok {
			t.Errorf("SplitAnnotation(%q) = %q, %q, %v; want %q, %q, %v", c.in, rest, typ, ok, c.rest, c.typ, c.ok)
		}
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	f, _ := openTest(t)
	loc, err := f.Resolve(Output, "pasted/", "a//x.png")
	if err != nil {
		t.Fatal(err)
	}
	if loc.Name != "pasted/a/x.png" || loc.Type != Output || loc.Root != f.Root(Output) {
		t.Errorf("Resolve = %+v", loc)
	}
	if want := filepath.Join(f.Dir(Output), "pasted", "a", "x.png"); loc.Path() != want {
		t.Errorf("Path() = %q; want %q", loc.Path(), want)
	}
	loc, err = f.ResolveAnnotated("x.png [temp]", Input)
	if err != nil || loc.Type != Temp || loc.Name != "x.png" {
		t.Errorf("ResolveAnnotated = %+v, %v", loc, err)
	}
	loc, err = f.ResolveAnnotated("sub/x.png", Output)
	if err != nil || loc.Type != Output || loc.Name != "sub/x.png" {
		t.Errorf("ResolveAnnotated default = %+v, %v", loc, err)
	}
	if _, err := f.Resolve("models", "", "x.png"); !errors.Is(err, ErrUnknownType) {
		t.Errorf("Resolve(models) = %v; want ErrUnknownType", err)
	}
	long := strings.Repeat("d/", 1500)
	if _, err := f.Resolve(Input, long, long+"x"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Resolve of a joined path over the limit = %v; want ErrInvalidName", err)
	}
}

func FuzzResolve(f *testing.F) {
	for _, c := range TraversalCorpus() {
		f.Add("", c)
		f.Add(c, "x.png")
	}
	f.Add("sub", "x.png")
	f.Add("a/./b/", "c//d.png")
	dir := f.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		f.Fatal(err)
	}
	defer root.Close()
	folders := &Folders{roots: map[Type]*os.Root{Input: root}}
	f.Fuzz(func(t *testing.T, sub, name string) {
		loc, err := folders.Resolve(Input, sub, name)
		if err != nil {
			if !errors.Is(err, ErrInvalidName) {
				t.Fatalf("Resolve(%q, %q): unexpected error kind %v", sub, name, err)
			}
			return
		}
		if !filepath.IsLocal(loc.Name) || strings.ContainsAny(loc.Name, "\x00\\") {
			t.Fatalf("Resolve(%q, %q) = %q: not a local name", sub, name, loc.Name)
		}
		for _, elem := range strings.Split(loc.Name, "/") {
			if elem == "" || elem == "." || elem == ".." {
				t.Fatalf("Resolve(%q, %q) = %q: unclean", sub, name, loc.Name)
			}
		}
		// Opening it may fail (missing, too long), but never escapes.
		if _, err := root.Stat(loc.Name); IsOutside(err) {
			t.Fatalf("Stat(%q): %v", loc.Name, err)
		}
	})
}

// writeString is a WriteFile callback writing s.
func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	}
}
