package files

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"slices"
	"testing"
	"time"
)

func TestOnWrite(t *testing.T) {
	f, err := Open(Config{BaseDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	f.OnWrite(Output, func(name string) { got = append(got, name) })
	write := func(typ Type, name string) {
		t.Helper()
		if err := WriteFile(f.Root(typ), name, func(w io.Writer) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	write(Output, "a//b/./c.png")
	write(Input, "not-hooked.png")
	if err := WriteFile(f.Root(Output), "failed.png", func(io.Writer) error { return io.ErrShortWrite }); err == nil {
		t.Fatal("a failed write succeeded")
	}
	up := Upload{Subfolder: "up", Name: "x.png", Content: new(emptyReaderAt)}
	if _, err := up.Store(f.Root(Output), nil); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a/b/c.png", "up/x.png"}; !slices.Equal(got, want) {
		t.Errorf("hook got %q, want %q (clean names, completed writes, output only)", got, want)
	}

	// A second Folders has its own roots and hooks.
	other, err := Open(Config{BaseDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	WriteFile(other.Root(Output), "other.png", func(io.Writer) error { return nil })

	f.OnWrite(Output, nil)
	write(Output, "after-removal.png")
	f.Close()
	if len(got) != 2 {
		t.Errorf("hook called after removal or for another Folders: %q", got)
	}
}

type emptyReaderAt struct{}

func (emptyReaderAt) ReadAt([]byte, int64) (int, error) { return 0, io.EOF }

func TestOnMiss(t *testing.T) {
	f, err := Open(Config{BaseDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := t.Context()
	root := f.Root(Input)
	if _, err := OpenOrFetch(ctx, root, "a.png"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("no hook: %v, want not exist", err)
	}
	var asked []string
	f.OnMiss(Input, func(ctx context.Context, name string) error {
		asked = append(asked, name)
		if name == "elsewhere/a.png" {
			return WriteFile(root, name, func(w io.Writer) error { _, err := io.WriteString(w, "fetched"); return err })
		}
		return fs.ErrNotExist
	})
	for _, c := range []struct {
		name, want string
		err        error
	}{
		{"elsewhere//a.png", "fetched", nil},
		{"elsewhere/a.png", "fetched", nil}, // now local: not asked again
		{"b.png", "", fs.ErrNotExist},
	} {
		fh, err := OpenOrFetch(ctx, root, c.name)
		if !errors.Is(err, c.err) {
			t.Errorf("%s: %v, want %v", c.name, err, c.err)
		}
		if err == nil {
			got, _ := io.ReadAll(fh)
			fh.Close()
			if string(got) != c.want {
				t.Errorf("%s: %q, want %q", c.name, got, c.want)
			}
		}
	}
	if want := []string{"elsewhere/a.png", "b.png"}; !slices.Equal(asked, want) {
		t.Errorf("hook asked for %q, want %q (clean names, misses only)", asked, want)
	}
	if err := Fetch(ctx, root, "../x.png"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Fetch of a bad name: %v", err)
	}
	if err := Fetch(ctx, f.Root(Output), "x.png"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Fetch in a folder without a hook: %v", err)
	}
	f.OnMiss(Input, nil)
	if err := Fetch(ctx, root, "b.png"); !errors.Is(err, fs.ErrNotExist) || len(asked) != 2 {
		t.Errorf("after removal: %v, hook asked %q", err, asked)
	}
}

func TestOnList(t *testing.T) {
	f, err := Open(Config{BaseDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var asked []string
	f.OnList(Output, func(ctx context.Context, dir, prefix string) []string {
		asked = append(asked, dir+"|"+prefix)
		return []string{"x_00007_.png", "x_zz.png", "y_00100_.png"}
	})
	for _, c := range []struct {
		prefix string
		want   int
	}{{"x", 8}, {"sub/x", 8}, {"y", 101}, {"z", 1}} {
		sp, err := SaveImagePath(f.Root(Output), c.prefix, 1, 1, time.Now())
		if err != nil || sp.Counter != c.want {
			t.Errorf("%s: counter %d, %v; want %d", c.prefix, sp.Counter, err, c.want)
		}
	}
	if want := []string{"|x_", "sub|x_", "|y_", "|z_"}; !slices.Equal(asked, want) {
		t.Errorf("hook asked %q, want %q", asked, want)
	}
	f.OnList(Output, nil)
	if sp, _ := SaveImagePath(f.Root(Output), "x", 1, 1, time.Now()); sp.Counter != 1 || len(asked) != 4 {
		t.Errorf("after removal: counter %d, hook asked %q", sp.Counter, asked)
	}
}
