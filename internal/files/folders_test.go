package files

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolveDirs(t *testing.T) {
	t.Parallel()
	cwd := t.TempDir()
	user := filepath.Join(cwd, "myuser")
	if err := os.Mkdir(user, 0o777); err != nil {
		t.Fatal(err)
	}
	j := filepath.Join
	for _, c := range []struct {
		name string
		cfg  Config
		base string
		want map[Type]string
	}{
		{"defaults under the working directory", Config{}, cwd, map[Type]string{
			Input: j(cwd, "input"), Output: j(cwd, "output"), Temp: j(cwd, "temp"), User: j(cwd, "user")}},
		{"base directory", Config{BaseDir: "srv"}, j(cwd, "srv"), map[Type]string{
			Input: j(cwd, "srv", "input"), Output: j(cwd, "srv", "output"), Temp: j(cwd, "srv", "temp"), User: j(cwd, "srv", "user")}},
		{"own flags override the base", Config{BaseDir: "/b", InputDir: "in", OutputDir: "/o", UserDir: "myuser"}, "/b", map[Type]string{
			Input: j(cwd, "in"), Output: "/o", Temp: "/b/temp", User: user}},
		{"temp flag gets /temp appended", Config{BaseDir: "/b", TempDir: "/scratch/"}, "/b", map[Type]string{
			Input: "/b/input", Output: "/b/output", Temp: "/scratch/temp", User: "/b/user"}},
	} {
		base, dirs, err := resolveDirs(c.cfg, cwd)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if base != c.base {
			t.Errorf("%s: base = %q; want %q", c.name, base, c.base)
		}
		for typ, want := range c.want {
			if dirs[typ] != want {
				t.Errorf("%s: %s = %q; want %q", c.name, typ, dirs[typ], want)
			}
		}
	}
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"missing user directory", Config{UserDir: "nope"}, "'nope' is not a directory"},
		{"temp would hold output", Config{BaseDir: "/b", TempDir: "/x", OutputDir: "/x/temp/out"}, "temp folder /x/temp would hold /x/temp/out"},
		{"temp is input", Config{BaseDir: "/b", TempDir: "/x", InputDir: "/x/temp"}, "would hold /x/temp"},
	} {
		if _, _, err := resolveDirs(c.cfg, cwd); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v; want it to contain %q", c.name, err, c.want)
		}
	}
}

func TestOpenCreatesAndEmptiesTemp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := filepath.Join(dir, "base")
	keep := filepath.Join(dir, "keep")
	temp := filepath.Join(base, "temp")
	for _, d := range []string{keep, filepath.Join(temp, "sub")} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{filepath.Join(keep, "k.txt"), filepath.Join(temp, "old.png"), filepath.Join(temp, "sub", "x.png")} {
		if err := os.WriteFile(p, []byte("x"), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	// A link in temp is removed, not followed.
	if err := os.Symlink(keep, filepath.Join(temp, "link")); err != nil {
		t.Fatal(err)
	}
	f, err := Open(Config{BaseDir: base})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, typ := range folderTypes {
		if fi, err := os.Stat(f.Dir(typ)); err != nil || !fi.IsDir() {
			t.Errorf("%s folder not created: %v", typ, err)
		}
		if f.Root(typ) == nil {
			t.Errorf("%s root not open", typ)
		}
	}
	entries, err := os.ReadDir(temp)
	if err != nil || len(entries) != 0 {
		t.Errorf("temp after Open: %v, %v; want empty", entries, err)
	}
	if _, err := os.Stat(filepath.Join(keep, "k.txt")); err != nil {
		t.Errorf("file behind a temp link was removed: %v", err)
	}
	if f.Base() != base {
		t.Errorf("Base() = %q; want %q", f.Base(), base)
	}
	if err := WriteFile(f.Root(Temp), "preview.png", writeString("x")); err != nil {
		t.Fatal(err)
	}
	if err := f.EmptyTemp(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(temp); len(entries) != 0 {
		t.Errorf("temp after EmptyTemp: %v", entries)
	}
	if f.Root("models") != nil || f.Dir("models") != "" {
		t.Error("unknown type has a folder")
	}
}

func TestOpenModels(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	yaml := "a:\n    checkpoints: /extra/ckpt\n    mine: /extra/mine\n"
	if err := os.WriteFile(filepath.Join(base, "extra_model_paths.yaml"), []byte(yaml), 0o666); err != nil {
		t.Fatal(err)
	}
	second := filepath.Join(base, "second.yaml")
	if err := os.WriteFile(second, []byte("b:\n    is_default: true\n    loras: /extra/loras\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(base, "out")
	f, err := Open(Config{BaseDir: base, OutputDir: out, ExtraModelPaths: []string{second}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := f.Models
	check := func(folder string, want ...string) {
		t.Helper()
		got, _ := m.Dirs(folder)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("Dirs(%s) = %q; want %q", folder, got, want)
		}
	}
	models := filepath.Join(base, "models")
	check("checkpoints", filepath.Join(models, "checkpoints"), "/extra/ckpt", filepath.Join(out, "checkpoints"))
	check("loras", "/extra/loras", filepath.Join(models, "loras"), filepath.Join(out, "loras"))
	check("clip", filepath.Join(models, "text_encoders"), filepath.Join(models, "clip"), filepath.Join(out, "clip"))
	check("mine", "/extra/mine")
	names := m.Names()
	if names[len(names)-1] != "mine" {
		t.Errorf("a folder from the yaml is not last: %q", names)
	}

	_, err = Open(Config{BaseDir: base, ExtraModelPaths: []string{filepath.Join(base, "missing.yaml")}})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open with a missing config = %v; want not exist", err)
	}
}

func TestParseType(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"input", "output", "temp"} {
		if typ, err := ParseType(s); err != nil || string(typ) != s {
			t.Errorf("ParseType(%q) = %q, %v", s, typ, err)
		}
	}
	for _, s := range []string{"", "user", "Input", "models", "../input"} {
		if _, err := ParseType(s); !errors.Is(err, ErrUnknownType) {
			t.Errorf("ParseType(%q) = %v; want ErrUnknownType", s, err)
		}
	}
}
