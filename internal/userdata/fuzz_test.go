package userdata

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/internal/files/filestest"
)

// FuzzUserPaths feeds names to every operation of one user and checks
// that nothing outside that user's folder changes, that nothing panics and
// that what is written lands inside the folder.
func FuzzUserPaths(f *testing.F) {
	for _, name := range files.TraversalCorpus() {
		f.Add(name)
	}
	for _, name := range []string{"workflows/a.json", "a%2Fb.json", "./x", "link/x", "link", "abs/x", ".", "a/", "x/./y"} {
		f.Add(name)
	}
	e := newEnv(f, true, twoUsers)
	alice, bob := e.user(f, "alice_1"), e.user(f, "bob_1")
	if _, err := bob.Write("secret.json", []byte("bob's"), true); err != nil {
		f.Fatal(err)
	}
	if _, err := alice.Write("a.json", []byte("a"), true); err != nil {
		f.Fatal(err)
	}
	links := map[string]string{"link": "../bob_1", "abs": e.outside}
	for name, target := range links {
		symlink(f, target, e.path("alice_1", name))
	}
	guarded := []string{e.outside, e.path("bob_1"), filepath.Join(e.base, "input"), filepath.Join(e.base, "output")}
	before := map[string]string{}
	for _, dir := range guarded {
		maps.Copy(before, filestest.Snapshot(f, dir))
	}
	userDir := func() []string {
		entries, err := os.ReadDir(e.userDir)
		if err != nil {
			f.Fatal(err)
		}
		var names []string
		for _, en := range entries {
			names = append(names, en.Name())
		}
		return names
	}
	topBefore := userDir()
	check := func(t *testing.T, op, name string, err error) {
		// Other errors (a missing file, a name too long for the disk, a
		// folder in the way) are allowed; they say nothing about
		// containment, which the snapshots check.
		if err != nil && files.IsOutside(err) && !errors.Is(err, ErrPathRefused) {
			t.Fatalf("%s(%q): escape not reported as ErrPathRefused: %v", op, name, err)
		}
	}
	f.Fuzz(func(t *testing.T, name string) {
		if file, _, err := alice.Open(name); err == nil {
			file.Close()
		} else {
			check(t, "Open", name, err)
		}
		info, err := alice.Write(name, []byte("x"), true)
		check(t, "Write", name, err)
		if err == nil {
			if !filepath.IsLocal(filepath.FromSlash(info.Path)) {
				t.Fatalf("Write(%q) wrote %q", name, info.Path)
			}
			if got := readFile(t, e.path("alice_1", filepath.FromSlash(info.Path))); got != "x" {
				t.Fatalf("Write(%q): %q holds %q", name, info.Path, got)
			}
		}
		_, err = alice.List(name, true)
		check(t, "List", name, err)
		_, err = alice.Tree(name)
		check(t, "Tree", name, err)
		_, err = alice.Move(name, "moved.json", true)
		check(t, "Move", name, err)
		check(t, "Delete", "moved.json", alice.Delete("moved.json"))
		_, err = alice.Move("a.json", name, true)
		check(t, "Move to", name, err)
		// Restore what the operations may have moved or replaced.
		if _, err := alice.Write("a.json", []byte("a"), true); err != nil {
			t.Fatal(err)
		}
		for name, target := range links {
			p := e.path("alice_1", name)
			if fi, err := os.Lstat(p); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
				os.RemoveAll(p)
				symlink(t, target, p)
			}
		}
		after := map[string]string{}
		for _, dir := range guarded {
			maps.Copy(after, filestest.Snapshot(t, dir))
		}
		if !maps.Equal(before, after) {
			t.Fatalf("%q changed files outside alice's folder:\nbefore %v\nafter  %v", name, before, after)
		}
		if top := userDir(); !slices.Equal(top, topBefore) {
			t.Fatalf("%q changed the user folder: %q", name, top)
		}
	})
}
