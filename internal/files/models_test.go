package files

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDefaultModelFolders(t *testing.T) {
	t.Parallel()
	// GET /models of a vanilla ComfyUI v0.27 (spec §6.4).
	want := []string{"checkpoints", "configs", "loras", "vae", "text_encoders", "diffusion_models", "clip_vision",
		"style_models", "embeddings", "diffusers", "vae_approx", "controlnet", "gligen", "upscale_models",
		"latent_upscale_models", "custom_nodes", "hypernetworks", "photomaker", "classifiers", "model_patches",
		"audio_encoders", "background_removal", "frame_interpolation", "geometry_estimation", "optical_flow", "detection"}
	m := NewModels("/base")
	if got := m.Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %q\nwant %q", got, want)
	}
	for folder, dirs := range map[string][]string{
		"checkpoints":      {"/base/models/checkpoints"},
		"text_encoders":    {"/base/models/text_encoders", "/base/models/clip"},
		"clip":             {"/base/models/text_encoders", "/base/models/clip"},
		"diffusion_models": {"/base/models/unet", "/base/models/diffusion_models"},
		"unet":             {"/base/models/unet", "/base/models/diffusion_models"},
		"controlnet":       {"/base/models/controlnet", "/base/models/t2i_adapter"},
		"custom_nodes":     {"/base/custom_nodes"},
	} {
		if got, ok := m.Dirs(folder); !ok || !slices.Equal(got, dirs) {
			t.Errorf("Dirs(%s) = %q, %v; want %q", folder, got, ok, dirs)
		}
	}
	if m.Has("clip") || m.Has("unet") || !m.Has("text_encoders") {
		t.Error("Has must take the folder names only, not the legacy ones")
	}
	if _, ok := m.Dirs("nope"); ok {
		t.Error("Dirs(nope) ok")
	}
}

// TestAdd ports ComfyUI's tests of add_model_folder_path.
func TestAdd(t *testing.T) {
	t.Parallel()
	type add struct {
		dir       string
		isDefault bool
	}
	for _, c := range []struct {
		name string
		adds []add
		want []string
	}{
		{"append", []add{{"/default/path", true}, {"/test/path", false}}, []string{"/default/path", "/test/path"}},
		{"insert", []add{{"/test/path", false}, {"/default/path", true}}, []string{"/default/path", "/test/path"}},
		{"re-add existing as default", []add{{"/test/path", false}, {"/old_default/path", true}, {"/test/path", true}},
			[]string{"/test/path", "/old_default/path"}},
		{"re-add existing as non-default", []add{{"/test/path", false}, {"/default/path", true}, {"/test/path", false}},
			[]string{"/default/path", "/test/path"}},
	} {
		m := NewModels("/b")
		for _, a := range c.adds {
			m.Add("test_folder", a.dir, a.isDefault)
		}
		if got, _ := m.Dirs("test_folder"); !slices.Equal(got, c.want) {
			t.Errorf("%s: %q; want %q", c.name, got, c.want)
		}
	}
	m := NewModels("/b")
	m.Add("clip", "/x/clip", false)
	if got, _ := m.Dirs("text_encoders"); got[len(got)-1] != "/x/clip" {
		t.Errorf("Add(clip) did not map to text_encoders: %q", got)
	}
}

// touch creates files (and their folders) under dir.
func touch(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o666); err != nil {
			t.Fatal(err)
		}
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	models := filepath.Join(base, "models")
	touch(t, filepath.Join(models, "checkpoints"),
		"b.safetensors", "a.CKPT", "notes.txt", ".hidden.pt", "sub/z.sft", "sub/deeper/y.pth",
		".git/objects/x.pt", "sub/.git/x.pt", "Zeta.bin", "é.pt", "noext")
	touch(t, filepath.Join(models, "classifiers"), "plain", "x.pt", ".bashrc")
	touch(t, filepath.Join(models, "diffusers"), "model/unet.safetensors", "x.folder")
	touch(t, filepath.Join(base, "custom_nodes"), "pack/__init__.py", "pack/web/x.js")
	touch(t, filepath.Join(models, "unet"), "shared.safetensors", "u.safetensors")
	touch(t, filepath.Join(models, "diffusion_models"), "shared.safetensors", "d.safetensors")
	bad := filepath.Join(models, "checkpoints", "bad\xff.pt")
	if err := os.WriteFile(bad, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	m := NewModels(base)
	for folder, want := range map[string][]string{
		"checkpoints":      {".hidden.pt", "Zeta.bin", "a.CKPT", "b.safetensors", "sub/deeper/y.pth", "sub/z.sft", "é.pt"},
		"classifiers":      {".bashrc", "plain"},
		"diffusers":        nil,
		"custom_nodes":     {"pack/__init__.py", "pack/web/x.js"},
		"diffusion_models": {"d.safetensors", "shared.safetensors", "u.safetensors"},
		"unet":             {"d.safetensors", "shared.safetensors", "u.safetensors"},
		"loras":            nil, // the folder does not exist
	} {
		got, err := m.List(folder)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("List(%s) = %q, %v; want %q", folder, got, err, want)
		}
	}
	if _, err := m.List("nope"); !errors.Is(err, ErrUnknownFolder) {
		t.Errorf("List(nope) = %v; want ErrUnknownFolder", err)
	}
}

func TestListSymlinks(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	ckpt := filepath.Join(base, "models", "checkpoints")
	elsewhere := filepath.Join(base, "elsewhere")
	touch(t, elsewhere, "far.safetensors", "deep/far2.pt")
	touch(t, ckpt, "a.pt")
	for link, target := range map[string]string{
		"linked":            elsewhere, // a folder on another disk
		"file.pt":           filepath.Join(elsewhere, "far.safetensors"),
		"dead.pt":           filepath.Join(base, "none"), // a dangling link is still a file, as os.walk has it
		"loop":              ".",                         // back to itself
		"up":                "..",                        // to a parent
		".git":              elsewhere,                   // skipped by name
		"../elsewhere/back": ckpt,                        // from the linked folder back here
	} {
		if err := os.Symlink(target, filepath.Join(ckpt, link)); err != nil {
			t.Skipf("symlinks unavailable: %v", err)
		}
	}
	m := NewModels(base)
	got, err := m.List("checkpoints")
	want := []string{"a.pt", "dead.pt", "file.pt", "linked/deep/far2.pt", "linked/far.safetensors"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("List = %q, %v; want %q", got, err, want)
	}
}

func TestListCache(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	loras := filepath.Join(base, "models", "loras")
	sub := filepath.Join(loras, "sub")
	touch(t, loras, "a.pt", "sub/b.pt")
	m := NewModels(base)
	list := func() []string {
		t.Helper()
		got, err := m.List("loras")
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := list(); !slices.Equal(got, []string{"a.pt", "sub/b.pt"}) {
		t.Fatalf("first List = %q", got)
	}
	// A change hidden by restoring the folder's mtime is not seen: the
	// listing came from the cache.
	fi, err := os.Stat(sub)
	if err != nil {
		t.Fatal(err)
	}
	touch(t, loras, "sub/c.pt")
	if err := os.Chtimes(sub, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if got := list(); slices.Contains(got, "sub/c.pt") {
		t.Errorf("List = %q; want the cached listing", got)
	}
	// A subfolder whose mtime changed invalidates it.
	touch(t, loras, "sub/d.pt")
	if got := list(); !slices.Equal(got, []string{"a.pt", "sub/b.pt", "sub/c.pt", "sub/d.pt"}) {
		t.Errorf("List after a change = %q", got)
	}
	// So does a directory of the folder that appears.
	later := filepath.Join(base, "later")
	m.Add("loras", later, false)
	list()
	touch(t, later, "l.pt")
	if got := list(); !slices.Contains(got, "l.pt") {
		t.Errorf("List after a directory appeared = %q", got)
	}
	// Callers may modify what they get.
	got := list()
	got[0] = "changed"
	if list()[0] == "changed" {
		t.Error("List returned the cached slice")
	}
}

func TestFullPath(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	models := filepath.Join(base, "models")
	touch(t, models, "unet/u.safetensors", "diffusion_models/u.safetensors", "diffusion_models/sub/d.safetensors")
	if err := os.MkdirAll(filepath.Join(models, "diffusion_models", "dir.safetensors"), 0o777); err != nil {
		t.Fatal(err)
	}
	m := NewModels(base)
	for _, c := range []struct{ folder, name, want string }{
		{"diffusion_models", "u.safetensors", filepath.Join(models, "unet", "u.safetensors")},
		{"unet", "sub/d.safetensors", filepath.Join(models, "diffusion_models", "sub", "d.safetensors")},
	} {
		if got, err := m.FullPath(c.folder, c.name); err != nil || got != c.want {
			t.Errorf("FullPath(%s, %s) = %q, %v; want %q", c.folder, c.name, got, err, c.want)
		}
	}
	for _, c := range []struct {
		folder, name string
		want         error
	}{
		{"diffusion_models", "missing.safetensors", fs.ErrNotExist},
		{"diffusion_models", "dir.safetensors", fs.ErrNotExist},
		{"nope", "u.safetensors", ErrUnknownFolder},
		{"unet", "../unet/u.safetensors", ErrInvalidName},
	} {
		if _, err := m.FullPath(c.folder, c.name); !errors.Is(err, c.want) {
			t.Errorf("FullPath(%s, %s) = %v; want %v", c.folder, c.name, err, c.want)
		}
	}
}

func TestSplitExt(t *testing.T) {
	t.Parallel()
	// Expected values are Python's os.path.splitext.
	for _, c := range []struct{ in, stem, ext string }{
		{"cat.png", "cat", ".png"},
		{"a.tar.gz", "a.tar", ".gz"},
		{".bashrc", ".bashrc", ""},
		{"..x", "..x", ""},
		{"..x.y", "..x", ".y"},
		{"a.", "a", "."},
		{"noext", "noext", ""},
		{"sub.d/file", "sub.d/file", ""},
		{"sub/.hidden", "sub/.hidden", ""},
		{"sub/x.PNG", "sub/x", ".PNG"},
		{"", "", ""},
	} {
		stem, ext := SplitExt(c.in)
		if stem != c.stem || ext != c.ext {
			t.Errorf("SplitExt(%q) = %q, %q; want %q, %q", c.in, stem, ext, c.stem, c.ext)
		}
	}
}

func TestCommonPath(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ a, b, want string }{
		{"/srv/out", "/srv/out/x", "/srv/out"},
		{"/srv/out", "/srv/other", "/srv"},
		{"/srv/out", "/tmp", "/"},
		{"/srv/out", "/srv/outer", "/srv"},
	} {
		if got := commonPath(c.a, c.b); got != c.want {
			t.Errorf("commonPath(%q, %q) = %q; want %q", c.a, c.b, got, c.want)
		}
	}
	if got := strings.Count(commonPath("/a", "/a"), "/"); got != 1 {
		t.Errorf("commonPath(/a, /a) = %q", commonPath("/a", "/a"))
	}
}
