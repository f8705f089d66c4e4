package files

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testNow is the injected clock of the save tests.
var testNow = time.Date(2026, 7, 3, 4, 5, 6, 0, time.UTC)

func TestSaveImagePath(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		existing []string
		prefix   string
		w, h     int
		want     SavePath
		first    string // Name(0, ".png")
	}{
		{"empty folder", nil, "ComfyUI", 0, 0,
			SavePath{"", "ComfyUI", 1, "ComfyUI"}, "ComfyUI_00001_.png"},
		{"continues after the highest", []string{"ComfyUI_00001_.png", "ComfyUI_00007_.png", "ComfyUI_00003_.webp",
			"ComfyUI_abc_.png", "ComfyUIx_00099_.png", "Other_00200_.png", "ComfyUI_00050"}, "ComfyUI", 0, 0,
			SavePath{"", "ComfyUI", 51, "ComfyUI"}, "ComfyUI_00051_.png"},
		{"only unnumbered matches", []string{"ComfyUI_x.png"}, "ComfyUI", 0, 0,
			SavePath{"", "ComfyUI", 1, "ComfyUI"}, "ComfyUI_00001_.png"},
		{"negative numbers as Python", []string{"ComfyUI_-5_.png"}, "ComfyUI", 0, 0,
			SavePath{"", "ComfyUI", -4, "ComfyUI"}, "ComfyUI_-0004_.png"},
		{"subfolder and size", []string{"run/512x768_00002_.png"}, "run/%width%x%height%", 512, 768,
			SavePath{"run", "512x768", 3, "run/512x768"}, "512x768_00003_.png"},
		{"time tokens", nil, "%year%-%month%-%day%/%hour%%minute%%second%", 0, 0,
			SavePath{"2026-07-03", "040506", 1, "2026-07-03/040506"}, "040506_00001_.png"},
		{"frontend tokens stay literal", nil, "%date:yyyy-MM-dd%/%KSampler.seed%", 0, 0,
			SavePath{"%date:yyyy-MM-dd%", "%KSampler.seed%", 1, "%date:yyyy-MM-dd%/%KSampler.seed%"}, "%KSampler.seed%_00001_.png"},
		{"cleaned", nil, "a//b/../c", 0, 0,
			SavePath{"a", "c", 1, "a//b/../c"}, "c_00001_.png"},
		{"backslash separates", nil, `sub\img`, 0, 0,
			SavePath{"sub", "img", 1, `sub\img`}, "img_00001_.png"},
		{"trailing slash", []string{"x_00004_.png"}, "x/", 0, 0,
			SavePath{"", "x", 5, "x/"}, "x_00005_.png"},
		{"empty prefix is Python's '.'", nil, "", 0, 0,
			SavePath{"", ".", 1, ""}, "._00001_.png"},
		{"batch number", nil, "img_%batch_num%", 0, 0,
			SavePath{"", "img_%batch_num%", 1, "img_%batch_num%"}, "img_0_00001_.png"},
	} {
		_, root := tempRoot(t)
		for _, n := range c.existing {
			if err := WriteFile(root, n, writeString("x")); err != nil {
				t.Fatal(err)
			}
		}
		got, err := SaveImagePath(root, c.prefix, c.w, c.h, testNow)
		if err != nil || got != c.want {
			t.Errorf("%s: SaveImagePath(%q) = %+v, %v; want %+v", c.name, c.prefix, got, err, c.want)
		}
		if name := got.Name(0, ".png"); name != c.first {
			t.Errorf("%s: Name(0) = %q; want %q", c.name, name, c.first)
		}
		if fi, err := root.Stat(path.Join(".", got.Subfolder)); err != nil || !fi.IsDir() {
			t.Errorf("%s: subfolder %q not created: %v", c.name, got.Subfolder, err)
		}
	}
}

func TestSavePathName(t *testing.T) {
	t.Parallel()
	p := SavePath{Filename: "img_%batch_num%", Counter: 5}
	for batch, want := range []string{"img_0_00005_.png", "img_1_00006_.png", "img_2_00007_.png"} {
		if got := p.Name(batch, ".png"); got != want {
			t.Errorf("Name(%d) = %q; want %q", batch, got, want)
		}
	}
	if got := (SavePath{Filename: "v", Counter: 123456}).Name(0, ".webp"); got != "v_123456_.webp" {
		t.Errorf("Name past five digits = %q", got)
	}
}

func TestSaveImagePathOutside(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	out := filepath.Join(parent, "output")
	if err := os.Mkdir(out, 0o777); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(out)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, c := range []struct{ prefix, full, common string }{
		{"../x", parent, parent},
		{"a/../../../x", filepath.Dir(parent), filepath.Dir(parent)},
		{"/etc/x", "/etc", "/"},
		{`..\x`, parent, parent},
		{"%year%/../../x", parent, parent},
	} {
		_, err := SaveImagePath(root, c.prefix, 0, 0, testNow)
		want := "**** ERROR: Saving image outside the output folder is not allowed." +
			"\n full_output_folder: " + c.full +
			"\n         output_dir: " + out +
			"\n         commonpath: " + c.common
		if err == nil || err.Error() != want || !errors.Is(err, ErrOutside) || !IsOutside(err) {
			t.Errorf("SaveImagePath(%q) = %v\nwant %q", c.prefix, err, want)
		}
	}
	if _, err := SaveImagePath(root, "a\x00b", 0, 0, testNow); !errors.Is(err, ErrInvalidName) {
		t.Errorf("NUL in prefix: %v; want ErrInvalidName", err)
	}
	if err := WriteFile(root, "file", writeString("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := SaveImagePath(root, "file/x", 0, 0, testNow); err == nil {
		t.Error("a prefix under a file succeeded")
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 1 {
		t.Errorf("the parent of the output folder changed: %v", entries)
	}
}

func FuzzSavePrefix(f *testing.F) {
	for _, s := range []string{"ComfyUI", "run/%width%x%height%", "../x", `a\..\..\b`, "/abs", "", "%year%/%batch_num%", "a/./b/"} {
		f.Add(s)
	}
	for _, s := range TraversalCorpus() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, prefix string) {
		sub, name, err := splitPrefix("/srv/output", substitute(prefix, 512, 512, testNow))
		if err != nil {
			if !errors.Is(err, ErrOutside) && !errors.Is(err, ErrInvalidName) {
				t.Fatalf("splitPrefix(%q): unexpected error kind %v", prefix, err)
			}
			return
		}
		if sub != "" && !filepath.IsLocal(sub) || strings.Contains(name, "/") || name == "" {
			t.Fatalf("splitPrefix(%q) = %q, %q", prefix, sub, name)
		}
	})
}
