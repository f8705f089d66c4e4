package userdata

import (
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/internal/files/filestest"
)

const twoUsers = `{"alice_1": "alice", "bob_1": "bob"}`

func TestWriteOpenDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, twoUsers)
	alice := e.user(t, "alice_1")
	before := time.Now().Add(-time.Second).UnixMilli()
	info, err := alice.Write("workflows//a b.json", []byte(`{"x": 1}`), false)
	if err != nil {
		t.Fatal(err)
	}
	if info.Path != "workflows/a b.json" || info.Size != 8 || info.Modified < before || info.Created < before {
		t.Errorf("Write info = %+v", info)
	}
	if got := readFile(t, e.path("alice_1", "workflows", "a b.json")); got != `{"x": 1}` {
		t.Errorf("file holds %q", got)
	}
	if _, err := alice.Write("workflows/a b.json", []byte("new"), false); !errors.Is(err, ErrExists) {
		t.Errorf("Write without overwrite onto an existing file = %v; want ErrExists", err)
	}
	if _, err := alice.Write("workflows/a b.json", []byte("new"), true); err != nil {
		t.Errorf("Write with overwrite: %v", err)
	}
	f, fi, err := alice.Open("workflows/a b.json")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(f)
	f.Close()
	if string(data) != "new" || fi.Size() != 3 {
		t.Errorf("Open read %q (size %d); want new", data, fi.Size())
	}
	if _, _, err := alice.Open("workflows"); !errors.Is(err, ErrNotFile) {
		t.Errorf("Open(folder) = %v; want ErrNotFile", err)
	}
	for _, name := range []string{"missing.json", "workflows/a b.json/x", "nope/x.json"} {
		if _, _, err := alice.Open(name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(%q) = %v; want fs.ErrNotExist", name, err)
		}
		if err := alice.Delete(name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Delete(%q) = %v; want fs.ErrNotExist", name, err)
		}
	}
	if err := alice.Delete("workflows"); !errors.Is(err, ErrNotFile) {
		t.Errorf("Delete(folder) = %v; want ErrNotFile", err)
	}
	if err := alice.Delete("workflows/a b.json"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.path("alice_1", "workflows", "a b.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("file still there after Delete: %v", err)
	}
	// No temporary files are left behind.
	if names, _ := os.ReadDir(e.path("alice_1", "workflows")); len(names) != 0 {
		t.Errorf("workflows/ holds %v", names)
	}
}

func TestWriteErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, "")
	u := e.user(t, "")
	if _, err := u.Write("a.json", []byte("x"), true); err != nil {
		t.Fatal(err)
	}
	mkdir(t, e.path("default", "dir"))
	for _, name := range []string{"a.json/b.json", "dir"} {
		_, err := u.Write(name, []byte("x"), true)
		if err == nil || errors.Is(err, ErrPathRefused) || errors.Is(err, ErrExists) {
			t.Errorf("Write(%q) = %v; want a file system error", name, err)
		}
	}
	if _, err := u.Write("dir", []byte("x"), false); !errors.Is(err, ErrExists) {
		t.Errorf("Write(folder, no overwrite) = %v; want ErrExists", err)
	}
}

func TestMove(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, "")
	u := e.user(t, "")
	for _, name := range []string{"a.json", "b.json"} {
		if _, err := u.Write(name, []byte(name), true); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := u.Move("a.json", "b.json", false); !errors.Is(err, ErrExists) {
		t.Errorf("Move onto an existing file without overwrite = %v; want ErrExists", err)
	}
	if _, err := u.Move("missing.json", "c.json", true); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Move(missing) = %v; want fs.ErrNotExist", err)
	}
	// The missing source is reported before a refused destination, as in
	// ComfyUI.
	if _, err := u.Move("missing.json", "../c.json", true); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Move(missing, ../c.json) = %v; want fs.ErrNotExist", err)
	}
	if _, err := u.Move("a.json", "../c.json", true); !errors.Is(err, ErrPathRefused) {
		t.Errorf("Move(a.json, ../c.json) = %v; want ErrPathRefused", err)
	}
	info, err := u.Move("a.json", "sub/dir/c.json", false)
	if err != nil {
		t.Fatal(err)
	}
	if info.Path != "sub/dir/c.json" || info.Size != 6 {
		t.Errorf("Move info = %+v", info)
	}
	if _, err := u.Move("sub/dir/c.json", "b.json", true); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, e.path("default", "b.json")); got != "a.json" {
		t.Errorf("b.json holds %q after an overwriting move", got)
	}
	if _, err := os.Stat(e.path("default", "a.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a.json still there: %v", err)
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, "")
	u := e.user(t, "")
	if _, err := u.List("workflows", true); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List before the user folder exists = %v; want fs.ErrNotExist", err)
	}
	for _, name := range []string{"workflows/b.json", "workflows/a.json", "workflows/.hidden.json",
		"workflows/sub/c.json", "workflows/sub/deeper/d.json", "workflows/.git/e.json", "workflows/z/f.json", "top.json"} {
		writeFile(t, e.path("default", filepath.FromSlash(name)), "x")
	}
	symlink(t, "a.json", e.path("default", "workflows", "link.json"))
	symlink(t, "sub", e.path("default", "workflows", "linkdir")) // listed by nothing, never entered
	symlink(t, "../../../../outside/secret.txt", e.path("default", "workflows", "out.json"))
	paths := func(infos []FileInfo) []string {
		var out []string
		for _, fi := range infos {
			out = append(out, fi.Path)
		}
		return out
	}
	for _, tc := range []struct {
		dir     string
		recurse bool
		want    []string
	}{
		{"workflows", false, []string{"a.json", "b.json", "link.json"}},
		{"workflows/", true, []string{"a.json", "b.json", "link.json", "sub/c.json", "sub/deeper/d.json", "z/f.json"}},
		{"workflows/sub", true, []string{"c.json", "deeper/d.json"}},
		{".", false, []string{"top.json"}},
		{"./", false, []string{"top.json"}},
		{"top.json", true, nil}, // a file lists nothing, as glob does
	} {
		infos, err := u.List(tc.dir, tc.recurse)
		if err != nil {
			t.Errorf("List(%q, %v): %v", tc.dir, tc.recurse, err)
			continue
		}
		if got := paths(infos); !slices.Equal(got, tc.want) {
			t.Errorf("List(%q, %v) = %q; want %q", tc.dir, tc.recurse, got, tc.want)
		}
	}
	if _, err := u.List("nope", true); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List(missing) = %v; want fs.ErrNotExist", err)
	}
}

func TestTree(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, "")
	u := e.user(t, "")
	if got, err := u.Tree(""); err != nil || len(got) != 0 || got == nil {
		t.Errorf("Tree before the user folder exists = %#v, %v; want []", got, err)
	}
	if _, err := u.Tree("x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Tree(x) before the user folder exists = %v; want fs.ErrNotExist", err)
	}
	for _, name := range []string{"my dir/file.txt", "my dir/B.json", "my dir/a/z.json", "my dir/.h", "x.json"} {
		writeFile(t, e.path("default", filepath.FromSlash(name)), "12345")
	}
	symlink(t, "a", e.path("default", "my dir", "Link"))
	symlink(t, "../../../../outside", e.path("default", "my dir", "out"))
	got, err := u.Tree("my dir")
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		name, path, typ string
		meta            bool
	}
	var rows []row
	for _, en := range got {
		if (en.Size == nil) != (en.Modified == nil) || en.Size != nil && *en.Size != 5 {
			t.Errorf("entry %+v: bad size or time", en)
		}
		rows = append(rows, row{en.Name, en.Path, en.Type, en.Size != nil})
	}
	want := []row{
		{"a", "my dir/a", "directory", false},
		{"Link", "my dir/Link", "directory", false},
		{".h", "my dir/.h", "file", true},
		{"B.json", "my dir/B.json", "file", true},
		{"file.txt", "my dir/file.txt", "file", true},
		{"out", "my dir/out", "file", false}, // leads out: listed, never read
		{"z.json", "my dir/a/z.json", "file", true},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("Tree(my dir) =\n%v\nwant\n%v", rows, want)
	}
	if _, err := u.Tree("x.json"); !errors.Is(err, ErrNotDir) {
		t.Errorf("Tree(file) = %v; want ErrNotDir", err)
	}
	if _, err := u.Tree("nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Tree(missing) = %v; want fs.ErrNotExist", err)
	}
	if _, err := u.Tree("my dir/out"); !errors.Is(err, ErrPathRefused) {
		t.Errorf("Tree(link out) = %v; want ErrPathRefused", err)
	}
	all, err := u.Tree(".")
	if err != nil || len(all) != len(want)+2 {
		t.Errorf("Tree(.) = %v, %v; want %d entries", all, err, len(want)+2)
	}
}

// TestIsolation checks that one user never sees or touches another's
// files, by name or through links.
func TestIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, twoUsers)
	alice, bob := e.user(t, "alice_1"), e.user(t, "bob_1")
	if _, err := bob.Write("workflows/secret.json", []byte("bob's"), true); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Write("workflows/mine.json", []byte("alice's"), true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := alice.Open("workflows/secret.json"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("alice opened bob's file: %v", err)
	}
	infos, err := alice.List("workflows", true)
	if err != nil || len(infos) != 1 || infos[0].Path != "mine.json" {
		t.Errorf("alice's listing = %+v, %v", infos, err)
	}
	symlink(t, "../bob_1", e.path("alice_1", "bob"))
	symlink(t, e.path("bob_1"), e.path("alice_1", "abs"))
	for _, name := range []string{"bob/workflows/secret.json", "abs/workflows/secret.json"} {
		if _, _, err := alice.Open(name); !errors.Is(err, ErrPathRefused) {
			t.Errorf("Open(%q) = %v; want ErrPathRefused", name, err)
		}
	}
	before := filestest.Snapshot(t, e.path("bob_1"))
	for _, name := range []string{"bob/workflows/secret.json", "abs/workflows/secret.json", "bob/new.json"} {
		if _, err := alice.Write(name, []byte("x"), true); !errors.Is(err, ErrPathRefused) {
			t.Errorf("Write(%q) = %v; want ErrPathRefused", name, err)
		}
		if err := alice.Delete(name); !errors.Is(err, ErrPathRefused) {
			t.Errorf("Delete(%q) = %v; want ErrPathRefused", name, err)
		}
		if _, err := alice.Move("workflows/mine.json", name, true); !errors.Is(err, ErrPathRefused) {
			t.Errorf("Move(mine.json, %q) = %v; want ErrPathRefused", name, err)
		}
		if _, err := alice.Move(name, "stolen.json", true); !errors.Is(err, ErrPathRefused) {
			t.Errorf("Move(%q, stolen.json) = %v; want ErrPathRefused", name, err)
		}
	}
	for _, dir := range []string{"bob", "abs/workflows"} {
		if _, err := alice.List(dir, true); !errors.Is(err, ErrPathRefused) {
			t.Errorf("List(%q) = %v; want ErrPathRefused", dir, err)
		}
		if _, err := alice.Tree(dir); !errors.Is(err, ErrPathRefused) {
			t.Errorf("Tree(%q) = %v; want ErrPathRefused", dir, err)
		}
	}
	if after := filestest.Snapshot(t, e.path("bob_1")); !maps.Equal(before, after) {
		t.Errorf("bob's files changed:\n%v\n%v", before, after)
	}
	// A user folder that is itself a link out of the user folder is refused.
	multi := newEnv(t, true, `{"carol_1": "carol"}`)
	symlink(t, multi.outside, multi.path("carol_1"))
	carol := multi.user(t, "carol_1")
	if _, _, err := carol.Open("secret.txt"); !errors.Is(err, ErrPathRefused) {
		t.Errorf("Open through a linked user folder = %v; want ErrPathRefused", err)
	}
	if _, err := carol.Write("x.json", nil, true); !errors.Is(err, ErrPathRefused) {
		t.Errorf("Write through a linked user folder = %v; want ErrPathRefused", err)
	}
}

// TestTraversalCorpus runs the shared corpus of internal/files against
// every operation: each is refused, and nothing changes on disk.
func TestTraversalCorpus(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, twoUsers)
	alice := e.user(t, "alice_1")
	if _, err := alice.Write("a.json", []byte("a"), true); err != nil {
		t.Fatal(err)
	}
	before := filestest.Snapshot(t, e.dir)
	corpus := files.TraversalCorpus()
	if len(corpus) < 50 {
		t.Fatalf("corpus has %d cases", len(corpus))
	}
	for _, name := range corpus {
		refused := func(op string, err error) {
			t.Helper()
			if !errors.Is(err, ErrPathRefused) {
				t.Errorf("%s(%q) = %v; want ErrPathRefused", op, name, err)
			}
		}
		_, _, err := alice.Open(name)
		refused("Open", err)
		_, err = alice.Write(name, []byte("x"), true)
		refused("Write", err)
		refused("Delete", alice.Delete(name))
		_, err = alice.Move(name, "b.json", true)
		refused("Move from", err)
		_, err = alice.Move("a.json", name, true)
		refused("Move to", err)
		_, err = alice.List(name, true)
		refused("List", err)
		_, err = alice.Tree(name)
		refused("Tree", err)
	}
	if after := filestest.Snapshot(t, e.dir); !maps.Equal(before, after) {
		t.Errorf("files changed:\nbefore %v\nafter  %v", before, after)
	}
}

// TestConcurrentNoOverwrite checks that of concurrent writes without
// overwrite, exactly one creates the file.
func TestConcurrentNoOverwrite(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, "")
	u := e.user(t, "")
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = u.Write("new.json", []byte{byte('0' + i)}, false)
		})
	}
	wg.Wait()
	created := 0
	for _, err := range errs {
		switch {
		case err == nil:
			created++
		case !errors.Is(err, ErrExists):
			t.Errorf("unexpected error %v", err)
		}
	}
	if created != 1 {
		t.Errorf("%d writers created the file; want 1", created)
	}
}
