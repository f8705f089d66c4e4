package imagefile

import (
	"encoding/json"
	"image"
	"image/draw"
	"image/png"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/tensor"
)

// copyDir copies the regular files and folders under src into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// readJSON decodes a golden file of testdata/dataset.
func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "dataset", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// checkImage compares an image with a golden one's shape and values ×255.
func checkImage(t *testing.T, what string, img *tensor.Image, shape, values []int) {
	t.Helper()
	if !slices.Equal(img.Shape(), shape) {
		t.Errorf("%s: shape %v, want %v", what, img.Shape(), shape)
		return
	}
	for j, v := range img.Pix {
		if g := int(math.Round(float64(v) * 255)); g != values[j] {
			t.Errorf("%s: value %d = %d, want %d", what, j, g, values[j])
			return
		}
	}
}

// TestLoadImageDataSetMatchesComfyUI loads testdata/dataset/in (gen.py's
// dataset_inputs, plus a folder named like an image, which git cannot
// keep empty) and compares with what ComfyUI's node returned for it.
func TestLoadImageDataSetMatchesComfyUI(t *testing.T) {
	folders, base := testFolders(t)
	copyDir(t, filepath.Join("testdata", "dataset", "in"), filepath.Join(base, "input", "set", "in"))
	if err := os.MkdirAll(filepath.Join(base, "input", "set", "in", "skip.png.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	var want []struct {
		File   string
		Shape  []int
		Values []int
	}
	readJSON(t, "load.json", &want)
	res, err := run(t, loadImageDataSetFromFolder, &node.Runtime{Folders: folders}, map[string]any{"folder": "set/in"})
	if err != nil {
		t.Fatal(err)
	}
	got := res.Outputs[0].([]any)
	if len(got) != len(want) {
		t.Fatalf("%d images, want %d", len(got), len(want))
	}
	for i, w := range want {
		checkImage(t, w.File, got[i].(*tensor.Image), w.Shape, w.Values)
	}
}

// TestLoadImageTextDataSetMatchesComfyUI loads testdata/dataset/text
// (gen.py's text_inputs: captions, a "2_" folder repeated) and compares
// with what ComfyUI's node returned for it.
func TestLoadImageTextDataSetMatchesComfyUI(t *testing.T) {
	folders, base := testFolders(t)
	copyDir(t, filepath.Join("testdata", "dataset", "text"), filepath.Join(base, "input", "text"))
	var want struct {
		Images []struct {
			Shape  []int
			Values []int
		}
		Texts []string
	}
	readJSON(t, "load_text.json", &want)
	res, err := run(t, loadImageTextDataSetFromFolder, &node.Runtime{Folders: folders}, map[string]any{"folder": "text"})
	if err != nil {
		t.Fatal(err)
	}
	images, texts := res.Outputs[0].([]any), res.Outputs[1].([]any)
	if len(images) != len(want.Images) || len(texts) != len(want.Texts) {
		t.Fatalf("%d images and %d texts, want %d and %d", len(images), len(texts), len(want.Images), len(want.Texts))
	}
	for i, w := range want.Images {
		checkImage(t, "image "+strconv.Itoa(i), images[i].(*tensor.Image), w.Shape, w.Values)
		if texts[i] != want.Texts[i] {
			t.Errorf("text %d = %q, want %q", i, texts[i], want.Texts[i])
		}
	}
}

// A kohya repeat count that would make a list beyond maxDatasetItems fails
// rather than take the memory.
func TestLoadImageTextDataSetRepeatLimit(t *testing.T) {
	folders, base := testFolders(t)
	writePNG(t, filepath.Join(base, "input"), "big/99999999999999999999_x/a.png", rgbaImage())
	writePNG(t, filepath.Join(base, "input"), "big/1048577_y/a.png", rgbaImage())
	_, err := run(t, loadImageTextDataSetFromFolder, &node.Runtime{Folders: folders}, map[string]any{"folder": "big"})
	if node.ExceptionType(err) != "ValueError" || !strings.Contains(err.Error(), "repeats of 1 images are more than") {
		t.Errorf("err = %v (%s)", err, node.ExceptionType(err))
	}
}

// The folder list is every folder under the input folder, sorted, without
// symbolic links.
func TestInputSubfolders(t *testing.T) {
	folders, base := testFolders(t)
	for _, d := range []string{"b/c/d", "a", ".hidden", "B"} {
		if err := os.MkdirAll(filepath.Join(base, "input", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writePNG(t, filepath.Join(base, "input"), "a/x.png", rgbaImage())
	if err := os.Symlink(filepath.Join(base, "input", "b"), filepath.Join(base, "input", "link")); err != nil {
		t.Fatal(err)
	}
	SetFolders(folders)
	t.Cleanup(func() { serverFolders.Store(nil) })
	want := []string{".hidden", "B", "a", "b", "b/c", "b/c/d"}
	if got := inputSubfolders(); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestLoadImageDataSetErrors(t *testing.T) {
	folders, base := testFolders(t)
	writePNG(t, filepath.Join(base, "input"), "empty/x.txt", rgbaImage())
	writePNG(t, filepath.Join(base, "input"), "bad/y.txt", rgbaImage())
	if err := os.WriteFile(filepath.Join(base, "input", "bad", "x.png"), []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	writePNG(t, filepath.Join(base, "input"), "file.png", rgbaImage())
	rt := &node.Runtime{Folders: folders}
	for _, tc := range []struct{ folder, typ, msg string }{
		{"empty", "ValueError", "No valid images found in input"},
		{"missing", "FileNotFoundError", "[Errno 2] No such file or directory: 'missing'"},
		{"file.png", "NotADirectoryError", "[Errno 20] Not a directory: 'file.png'"},
		{"bad", "UnidentifiedImageError", "cannot identify image file 'bad/x.png'"},
	} {
		_, err := run(t, loadImageDataSetFromFolder, rt, map[string]any{"folder": tc.folder})
		checkException(t, err, tc.typ, tc.msg)
	}
}

// TestLoadImageDataSetRefusesTraversal sends the traversal corpus, and
// symbolic links out of the input folder, as the folder of both loaders:
// each fails with ValueError and no image outside the input folder is read
// ("inner" holds a link to one).
func TestLoadImageDataSetRefusesTraversal(t *testing.T) {
	folders, base := testFolders(t)
	outside := filepath.Dir(base)
	writePNG(t, outside, "x/a.png", rgbaImage())
	writePNG(t, outside, "a.png", rgbaImage())
	writePNG(t, base, "a.png", rgbaImage())
	if err := os.Symlink(outside, filepath.Join(base, "input", "link")); err != nil {
		t.Fatal(err)
	}
	writePNG(t, filepath.Join(base, "input"), "inner/ok.png", rgbaImage())
	if err := os.Symlink(filepath.Join(outside, "a.png"), filepath.Join(base, "input", "inner", "out.png")); err != nil {
		t.Fatal(err)
	}
	rt := &node.Runtime{Folders: folders}
	for _, folder := range append(files.TraversalCorpus(), "link", "link/x", "inner") {
		if folder == "" {
			continue // the input folder itself, as os.path.join(input, "") is
		}
		for _, class := range []*node.Class{loadImageDataSetFromFolder, loadImageTextDataSetFromFolder} {
			_, err := run(t, class, rt, map[string]any{"folder": folder})
			if node.ExceptionType(err) != "ValueError" || !strings.HasPrefix(err.Error(), "Invalid file path: ") {
				t.Errorf("%s %q: %v (%s)", class.ID, folder, err, node.ExceptionType(err))
			}
		}
	}
}

// saveCases are gen.py's dataset_saves cases.
var datasetSaveCases = []struct {
	name, folder, prefix, mode string
	runs                       int
}{
	{"overwrite", "set", "image", "overwrite", 2},
	{"increment", "deep/set", "pic", "increment", 2},
	{"root", "", "x", "overwrite", 1},
}

// datasetImages are gen.py's images of dataset_saves.
func datasetImages() []any {
	return []any{pattern(1, 5, 6, 3, 1, 0), pattern(1, 4, 7, 4, 1.5, -0.25), pattern(1, 3, 5, 2, 1, 0)}
}

// saveValues are the values of SaveImageDataSetToFolder for one call
// (lists, as the node takes its inputs).
func saveValues(images []any, folder, prefix, mode string) map[string]any {
	return map[string]any{"images": images, "folder_name": []any{folder}, "filename_prefix": []any{prefix},
		"mode": []any{mode}}
}

// TestSaveImageTextDataSetMatchesComfyUI runs gen.py's text_dataset save
// cases: captions for the first images only, none, and the increment mode.
func TestSaveImageTextDataSetMatchesComfyUI(t *testing.T) {
	var want map[string][]struct {
		File   string
		Text   *string
		Mode   string
		Pixels []int
	}
	readJSON(t, "save_text.json", &want)
	folders, base := testFolders(t)
	out := filepath.Join(base, "output")
	rt := &node.Runtime{Folders: folders}
	for _, tc := range []struct {
		name, mode string
		texts      []any
	}{
		{"captions", "overwrite", []any{"first \u00e9", "second\n"}},
		{"no_texts", "overwrite", nil},
		{"increment", "increment", []any{"one", "two", "three"}},
	} {
		values := saveValues(datasetImages(), "t_"+tc.name, "im.png", tc.mode)
		if tc.texts != nil {
			values["texts"] = tc.texts
		}
		if _, err := run(t, saveImageTextDataSetToFolder, rt, values); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := listFiles(t, filepath.Join(out, "t_"+tc.name))
		var names []string
		for _, w := range want[tc.name] {
			names = append(names, strings.TrimPrefix(w.File, "t_"+tc.name+"/"))
		}
		if !slices.Equal(got, names) {
			t.Errorf("%s: files %q, want %q", tc.name, got, names)
			continue
		}
		for _, w := range want[tc.name] {
			file := filepath.Join(out, filepath.FromSlash(w.File))
			if w.Text != nil {
				if b, err := os.ReadFile(file); err != nil || string(b) != *w.Text {
					t.Errorf("%s: %q, %v; want %q", w.File, b, err, *w.Text)
				}
			} else if px := pillowPixels(t, file, w.Mode); !slices.Equal(px, w.Pixels) {
				t.Errorf("%s: pixels %v, want %v", w.File, px, w.Pixels)
			}
		}
	}
}

// TestSaveImageDataSetMatchesComfyUI runs gen.py's cases and compares the
// files written, by name and by pixel, with ComfyUI's.
func TestSaveImageDataSetMatchesComfyUI(t *testing.T) {
	var want map[string][]struct {
		File   string
		Pixels []int
		Mode   string
	}
	readJSON(t, "save.json", &want)
	folders, base := testFolders(t)
	out := filepath.Join(base, "output")
	rt := &node.Runtime{Folders: folders}
	for _, sc := range datasetSaveCases {
		before := listFiles(t, out)
		for range sc.runs {
			res, err := run(t, saveImageDataSetToFolder, rt, saveValues(datasetImages(), sc.folder, sc.prefix, sc.mode))
			if err != nil {
				t.Fatalf("%s: %v", sc.name, err)
			}
			if len(res.UI) != 0 {
				t.Errorf("%s: UI %v, want none", sc.name, res.UI)
			}
		}
		var got []string
		for _, f := range listFiles(t, out) {
			if !slices.Contains(before, f) {
				got = append(got, f)
			}
		}
		var names []string
		for _, w := range want[sc.name] {
			names = append(names, w.File)
		}
		if !slices.Equal(got, names) {
			t.Errorf("%s: files %q, want %q", sc.name, got, names)
			continue
		}
		for _, w := range want[sc.name] {
			if px := pillowPixels(t, filepath.Join(out, filepath.FromSlash(w.File)), w.Mode); !slices.Equal(px, w.Pixels) {
				t.Errorf("%s: pixels %v, want %v", w.File, px, w.Pixels)
			}
		}
	}
}

// listFiles lists the regular files under dir, slash-separated, sorted.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

// pillowPixels decodes a PNG and flattens its pixels in the channels of
// Pillow's mode: gocomfy writes Pillow's "LA" as RGBA with equal colours.
func pillowPixels(t *testing.T, file, mode string) []int {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	n := image.NewNRGBA(img.Bounds())
	draw.Draw(n, n.Rect, img, img.Bounds().Min, draw.Src)
	var px []int
	for i := 0; i < len(n.Pix); i += 4 {
		r, g, b, a := int(n.Pix[i]), int(n.Pix[i+1]), int(n.Pix[i+2]), int(n.Pix[i+3])
		switch mode {
		case "RGB":
			px = append(px, r, g, b)
		case "RGBA":
			px = append(px, r, g, b, a)
		case "LA":
			if r != g || g != b {
				t.Errorf("%s: grey pixel %d has colours %d %d %d", file, i/4, r, g, b)
			}
			px = append(px, r, a)
		default:
			t.Fatalf("mode %s", mode)
		}
	}
	return px
}

func TestSaveImageDataSetErrors(t *testing.T) {
	folders, _ := testFolders(t)
	rt := &node.Runtime{Folders: folders}
	for _, tc := range []struct {
		images      []any
		prefix, typ string
		msg         string
	}{
		{[]any{pattern(2, 5, 6, 3, 1, 0)}, "x", "TypeError", "Cannot handle this data type: (1, 1, 6, 3), |u1"},
		{[]any{pattern(1, 5, 6, 1, 1, 0)}, "x", "TypeError", "Cannot handle this data type: (1, 1, 1), |u1"},
		{datasetImages(), "missing/x", "FileNotFoundError",
			"[Errno 2] No such file or directory: 'set/missing/x_00000.png'"},
	} {
		_, err := run(t, saveImageDataSetToFolder, rt, saveValues(tc.images, "set", tc.prefix, "overwrite"))
		checkException(t, err, tc.typ, tc.msg)
	}
}

// A folder or prefix out of the output folder fails with
// get_save_image_path's message, naming the folder it would have written.
func TestSaveImageDataSetOutsideMessage(t *testing.T) {
	folders, base := testFolders(t)
	out := filepath.Join(base, "output")
	rt := &node.Runtime{Folders: folders}
	for _, tc := range []struct{ folder, prefix, mode, full string }{
		{"../../escape", "x", "overwrite", filepath.Join(filepath.Dir(base), "escape")},
		{"/abs/dir", "x", "overwrite", "/abs/dir"},
		{"set", "../../x", "overwrite", base},
		{"set", "../y/x", "increment", filepath.Join(out, "y")},
	} {
		_, err := run(t, saveImageDataSetToFolder, rt, saveValues(datasetImages(), tc.folder, tc.prefix, tc.mode))
		checkException(t, err, "Exception", "**** ERROR: Saving image outside the output folder is not allowed."+
			"\n full_output_folder: "+tc.full+"\n         output_dir: "+out)
	}
}

// An image whose first dimension looks like channels is saved as [C,H,W],
// as ComfyUI's heuristic reads it.
func TestSaveImageDataSetChannelsFirst(t *testing.T) {
	folders, base := testFolders(t)
	chw := pattern(1, 3, 6, 5, 1, 0) // 3 channels of 6×5
	if _, err := run(t, saveImageDataSetToFolder, &node.Runtime{Folders: folders},
		saveValues([]any{chw}, "set", "x", "overwrite")); err != nil {
		t.Fatal(err)
	}
	px := pillowPixels(t, filepath.Join(base, "output", "set", "x_00000.png"), "RGB")
	if len(px) != 6*5*3 {
		t.Fatalf("%d values", len(px))
	}
	for c := range 3 {
		for y := range 6 {
			for x := range 5 {
				want := int(math.Round(float64(chw.Pix[(c*6+y)*5+x]) * 255))
				if got := px[(y*5+x)*3+c]; got != want {
					t.Fatalf("(%d,%d,%d) = %d, want %d", x, y, c, got, want)
				}
			}
		}
	}
}

// TestSaveImageDataSetRefusesTraversal sends the traversal corpus as
// folder_name and as filename_prefix in both modes, and a folder that is a
// symbolic link out of the output folder: every save fails and nothing
// lands outside the output folder.
func TestSaveImageDataSetRefusesTraversal(t *testing.T) {
	folders, base := testFolders(t)
	outside := filepath.Dir(base)
	if err := os.Mkdir(filepath.Join(outside, "target"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "target"), filepath.Join(base, "output", "link")); err != nil {
		t.Fatal(err)
	}
	rt := &node.Runtime{Folders: folders}
	beforeOutside := listFiles(t, outside)
	// check runs a save that must fail; lenient allows names that are
	// no traversal once "_00000.png" is appended to them (".._00000.png").
	check := func(what string, values map[string]any, lenient bool) {
		t.Helper()
		_, err := run(t, saveImageDataSetToFolder, rt, values)
		if values["folder_name"].([]any)[0] != "set" {
			// The captions' saver shares the folder handling; its own
			// file names are checked the same way.
			values["texts"] = []any{"caption"}
			if _, terr := run(t, saveImageTextDataSetToFolder, rt, values); node.ExceptionType(terr) != node.ExceptionType(err) {
				t.Errorf("%s: text saver %v, image saver %v", what, terr, err)
			}
		}
		typ := node.ExceptionType(err)
		switch {
		case lenient && (err == nil || typ == "FileNotFoundError"):
		case typ == "ValueError" && strings.HasPrefix(err.Error(), "Invalid file path: "):
		case typ == "Exception" && strings.HasPrefix(err.Error(), "**** ERROR: Saving image outside the output folder"):
		default:
			t.Errorf("%s: %v (%s)", what, err, typ)
		}
	}
	for _, name := range append(files.TraversalCorpus(), "link", "link/x") {
		if name == "" {
			continue // the output folder itself, or an empty prefix: allowed, as in ComfyUI
		}
		check("folder "+name, saveValues(datasetImages(), name, "x", "overwrite"), false)
		for _, mode := range []string{"overwrite", "increment"} {
			if strings.HasPrefix(name, "link") {
				continue // a prefix "link/x" inside folder "set" is a missing subfolder
			}
			check(mode+" prefix "+name, saveValues(datasetImages(), "set", name, mode), mode == "overwrite")
		}
	}
	for _, f := range listFiles(t, outside) {
		if !slices.Contains(beforeOutside, f) && !strings.HasPrefix(f, filepath.ToSlash(filepath.Base(base))+"/output/") {
			t.Errorf("written outside the output folder: %s", f)
		}
	}
}
