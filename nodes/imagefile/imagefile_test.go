package imagefile

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/internal/imageio"
	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
	"github.com/gocomfy/gocomfy/tensor"
)

// testFolders opens a fresh set of server folders under a temporary
// directory; base is that directory.
func testFolders(t testing.TB) (f node.Folders, base string) {
	t.Helper()
	base = t.TempDir()
	ff, err := files.Open(files.Config{BaseDir: base})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ff.Close() })
	return node.Folders{Input: ff.Root(files.Input), Output: ff.Root(files.Output), Temp: ff.Root(files.Temp)}, base
}

// run runs class on values with the runtime rt.
func run(t testing.TB, class *node.Class, rt *node.Runtime, values map[string]any) (node.Result, error) {
	t.Helper()
	c := node.NewCall(rt, "7", 0, values)
	err := class.Run(context.Background(), c)
	return c.Result(), err
}

// fingerprint runs class's IS_CHANGED hook.
func fingerprint(t testing.TB, class *node.Class, rt *node.Runtime, values map[string]any) (any, error) {
	t.Helper()
	return class.Fingerprint()(context.Background(), node.NewCall(rt, "7", 0, values))
}

// validate runs class's VALIDATE_INPUTS hook.
func validate(t testing.TB, class *node.Class, rt *node.Runtime, values map[string]any) error {
	t.Helper()
	f, _ := class.Validator()
	return f(context.Background(), node.NewCall(rt, "7", 0, values))
}

// writePNG writes img as a PNG at name under dir.
func writePNG(t testing.TB, dir, name string, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// gradient is a 4×3 RGB batch of 2 with distinct values per pixel.
func gradient() *tensor.Image {
	img := tensor.NewImage(2, 3, 4, 3)
	for i := range img.Pix {
		img.Pix[i] = float32(i%256) / 255
	}
	return img
}

func uiImages(t testing.TB, res node.Result) []pyjson.Object {
	t.Helper()
	v, _ := res.UI.Get("images")
	list, _ := v.([]any)
	out := make([]pyjson.Object, len(list))
	for i, e := range list {
		out[i] = e.(pyjson.Object)
	}
	return out
}

func field(o pyjson.Object, key string) any {
	v, _ := o.Get(key)
	return v
}

func TestSaveImageWritesPromptAndWorkflow(t *testing.T) {
	folders, base := testFolders(t)
	prompt, err := node.ParsePrompt([]byte(`{"3":{"inputs":{"seed":5,"cfg":7.0,"text":"caf\u00e9 <b>","images":["4",0]},"class_type":"SaveImage"}}`))
	if err != nil {
		t.Fatal(err)
	}
	rt := &node.Runtime{Prompt: prompt, Folders: folders,
		ExtraPNGInfo: []byte(`{"workflow": {"nodes": [{"id": 3, "title": "Sav\u00e9"}], "version": 0.4}, "extra": [1,2]}`)}
	images := gradient()
	res, err := run(t, saveImage, rt, map[string]any{"images": images, "filename_prefix": "run/cat"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outputs[0] != images {
		t.Errorf("output 0 is not the images passed through")
	}
	ui := uiImages(t, res)
	if len(ui) != 2 {
		t.Fatalf("ui images = %v", ui)
	}
	for i, want := range []string{"cat_00001_.png", "cat_00002_.png"} {
		if got, err := pyjson.Marshal(ui[i]); err != nil || string(got) != `{"filename": "`+want+`", "subfolder": "run", "type": "output"}` {
			t.Errorf("ui[%d] = %s", i, got)
		}
	}
	data, err := os.ReadFile(filepath.Join(base, "output", "run", "cat_00001_.png"))
	if err != nil {
		t.Fatal(err)
	}
	text, err := imageio.ReadPNGText(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	want := []imageio.TextChunk{
		{Key: "prompt", Value: `{"3": {"inputs": {"seed": 5, "cfg": 7.0, "text": "caf\u00e9 <b>", "images": ["4", 0]}, "class_type": "SaveImage"}}`},
		{Key: "workflow", Value: `{"nodes": [{"id": 3, "title": "Sav\u00e9"}], "version": 0.4}`},
		{Key: "extra", Value: `[1, 2]`},
	}
	if len(text) != len(want) {
		t.Fatalf("text chunks = %q, want %q", text, want)
	}
	for i := range want {
		if text[i] != want[i] {
			t.Errorf("chunk %d = %q, want %q", i, text[i], want[i])
		}
	}
	// Pixels are SaveImage's truncated 8-bit values.
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	r, g, b, _ := img.At(1, 0).RGBA()
	if got := [3]uint32{r >> 8, g >> 8, b >> 8}; got != [3]uint32{3, 4, 5} {
		t.Errorf("pixel (1,0) = %v, want [3 4 5]", got)
	}
}

func TestSaveImageMetadataDisabled(t *testing.T) {
	folders, base := testFolders(t)
	prompt, _ := node.ParsePrompt([]byte(`{"1":{"inputs":{},"class_type":"SaveImage"}}`))
	rt := &node.Runtime{Prompt: prompt, Folders: folders, DisableMetadata: true, ExtraPNGInfo: []byte(`{"workflow":{}}`)}
	if _, err := run(t, saveImage, rt, map[string]any{"images": gradient(), "filename_prefix": "ComfyUI"}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(base, "output", "ComfyUI_00001_.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if text, err := imageio.ReadPNGText(f); err != nil || len(text) != 0 {
		t.Errorf("text = %q, %v; want none", text, err)
	}
}

func TestSaveImageCounterContinues(t *testing.T) {
	folders, base := testFolders(t)
	rt := &node.Runtime{Folders: folders}
	// A file from an earlier session, and one of another prefix.
	writePNG(t, filepath.Join(base, "output"), "ComfyUI_00041_.png", image.NewGray(image.Rect(0, 0, 1, 1)))
	writePNG(t, filepath.Join(base, "output"), "Other_00099_.png", image.NewGray(image.Rect(0, 0, 1, 1)))
	var names []string
	for range 2 {
		res, err := run(t, saveImage, rt, map[string]any{"images": gradient(), "filename_prefix": "ComfyUI"})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range uiImages(t, res) {
			names = append(names, field(o, "filename").(string))
		}
	}
	if got := strings.Join(names, " "); got != "ComfyUI_00042_.png ComfyUI_00043_.png ComfyUI_00044_.png ComfyUI_00045_.png" {
		t.Errorf("names = %s", got)
	}
}

// TestSaveImageExpandsPrefix sends a prefix with the frontend's
// replacements, as an API client would, and gets them expanded from the
// running prompt.
func TestSaveImageExpandsPrefix(t *testing.T) {
	folders, base := testFolders(t)
	prompt, err := node.ParsePrompt([]byte(`{
		"4": {"class_type": "CheckpointLoaderSimple", "_meta": {"title": "Model"}, "inputs": {"ckpt_name": "sd/v1.safetensors"}},
		"5": {"class_type": "EmptyLatentImage", "_meta": {"title": "Size"}, "inputs": {"width": 512, "height": 768}},
		"7": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "x"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	rt := &node.Runtime{Prompt: prompt, Folders: folders}
	before := time.Now().Year()
	res, err := run(t, saveImage, rt, map[string]any{"images": gradient(),
		"filename_prefix": "%date:yyyy%/%Model.ckpt_name%_%EmptyLatentImage.height%_%width%_%Nope.x%"})
	after := time.Now().Year()
	if err != nil {
		t.Fatal(err)
	}
	ui := uiImages(t, res)
	if len(ui) != 2 {
		t.Fatalf("ui = %v", ui)
	}
	// The checkpoint name's '/' becomes '_', %width% is the image's (4) as
	// a server token, and the unknown reference stays.
	sub, name := field(ui[0], "subfolder"), field(ui[0], "filename")
	if (sub != strconv.Itoa(before) && sub != strconv.Itoa(after)) || name != "sd_v1.safetensors_768_4_%Nope.x%_00001_.png" {
		t.Errorf("subfolder %q, filename %q", sub, name)
	}
	if _, err := os.Stat(filepath.Join(base, "output", sub.(string), name.(string))); err != nil {
		t.Error(err)
	}
}

func TestSaveImageRefusesPrefixOutsideOutput(t *testing.T) {
	folders, base := testFolders(t)
	_, err := run(t, saveImage, &node.Runtime{Folders: folders}, map[string]any{"images": gradient(), "filename_prefix": "../../evil"})
	if err == nil || node.ExceptionType(err) != "Exception" || !strings.Contains(err.Error(), "Saving image outside the output folder is not allowed") {
		t.Errorf("err = %v (%s)", err, node.ExceptionType(err))
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(base), "evil*")); len(m) != 0 {
		t.Errorf("wrote %v", m)
	}
}

func TestPreviewImageGoesToTemp(t *testing.T) {
	folders, base := testFolders(t)
	res, err := run(t, previewImage, &node.Runtime{Folders: folders}, map[string]any{"images": gradient()})
	if err != nil {
		t.Fatal(err)
	}
	ui := uiImages(t, res)
	if len(ui) != 2 {
		t.Fatalf("ui = %v", ui)
	}
	name := field(ui[0], "filename").(string)
	if !regexp.MustCompile(`^ComfyUI_temp_[a-z]{5}_00001_\.png$`).MatchString(name) || field(ui[0], "type") != "temp" ||
		field(ui[0], "subfolder") != "" {
		t.Errorf("ui[0] = %v", ui[0])
	}
	if _, err := os.Stat(filepath.Join(base, "temp", name)); err != nil {
		t.Error(err)
	}
	if m, _ := filepath.Glob(filepath.Join(base, "output", "*")); len(m) != 0 {
		t.Errorf("preview wrote to output: %v", m)
	}
}

// rgbaImage is a 3×2 image whose alpha differs per pixel.
func rgbaImage() *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	for y := range 2 {
		for x := range 3 {
			img.SetNRGBA(x, y, color.NRGBA{R: uint8(10 * x), G: uint8(20 * y), B: 200, A: uint8(51 * (x + 3*y))})
		}
	}
	return img
}

func TestLoadImageRGBAGivesInvertedAlphaMask(t *testing.T) {
	folders, base := testFolders(t)
	src := rgbaImage()
	writePNG(t, filepath.Join(base, "input"), "sub/a.png", src)
	res, err := run(t, loadImage, &node.Runtime{Folders: folders}, map[string]any{"image": "sub/a.png"})
	if err != nil {
		t.Fatal(err)
	}
	img, mask := res.Outputs[0].(*tensor.Image), res.Outputs[1].(*tensor.Mask)
	if got := img.Shape(); got[0] != 1 || got[1] != 2 || got[2] != 3 || got[3] != 3 {
		t.Fatalf("image shape %v", got)
	}
	if got := mask.Shape(); got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Fatalf("mask shape %v", got)
	}
	for y := range 2 {
		for x := range 3 {
			c := src.NRGBAAt(x, y)
			if got, want := mask.Pix[y*3+x], 1-float32(c.A)/255; got != want {
				t.Errorf("mask(%d,%d) = %v, want %v", x, y, got, want)
			}
			if got, want := img.Pix[(y*3+x)*3], float32(c.R)/255; got != want {
				t.Errorf("red(%d,%d) = %v, want %v", x, y, got, want)
			}
		}
	}
}

func TestLoadImageMaskChannels(t *testing.T) {
	folders, base := testFolders(t)
	src := rgbaImage()
	writePNG(t, filepath.Join(base, "output"), "m.png", src)
	for _, tc := range []struct {
		channel string
		want    func(c color.NRGBA) float32
	}{
		{"alpha", func(c color.NRGBA) float32 { return 1 - float32(c.A)/255 }},
		{"red", func(c color.NRGBA) float32 { return float32(c.R) / 255 }},
		{"green", func(c color.NRGBA) float32 { return float32(c.G) / 255 }},
		{"blue", func(c color.NRGBA) float32 { return float32(c.B) / 255 }},
	} {
		res, err := run(t, loadImageMask, &node.Runtime{Folders: folders}, map[string]any{"image": "m.png [output]", "channel": tc.channel})
		if err != nil {
			t.Fatal(err)
		}
		mask := res.Outputs[0].(*tensor.Mask)
		for i, got := range mask.Pix {
			if want := tc.want(src.NRGBAAt(i%3, i/3)); got != want {
				t.Errorf("%s: pixel %d = %v, want %v", tc.channel, i, got, want)
			}
		}
	}
}

func TestLoadImageOpaqueMaskIsPlaceholder(t *testing.T) {
	folders, base := testFolders(t)
	writePNG(t, filepath.Join(base, "input"), "g.png", image.NewGray(image.Rect(0, 0, 5, 5)))
	res, err := run(t, loadImage, &node.Runtime{Folders: folders}, map[string]any{"image": "g.png"})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Outputs[1].(*tensor.Mask).Shape(); got[0] != 1 || got[1] != 64 || got[2] != 64 {
		t.Errorf("mask shape %v, want [1 64 64]", got)
	}
}

func TestLoadImageFingerprintFollowsContent(t *testing.T) {
	folders, base := testFolders(t)
	rt := &node.Runtime{Folders: folders}
	in := map[string]any{"image": "a.png"}
	writePNG(t, filepath.Join(base, "input"), "a.png", rgbaImage())
	first, err := fingerprint(t, loadImage, rt, in)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := fingerprint(t, loadImage, rt, in); again != first {
		t.Errorf("fingerprint changed without a change: %v, %v", first, again)
	}
	if mask, _ := fingerprint(t, loadImageMask, rt, map[string]any{"image": "a.png", "channel": "red"}); mask != first {
		t.Errorf("LoadImageMask fingerprint %v differs from LoadImage's %v", mask, first)
	}
	changed := rgbaImage()
	changed.Pix[0]++
	writePNG(t, filepath.Join(base, "input"), "a.png", changed)
	second, err := fingerprint(t, loadImage, rt, in)
	if err != nil {
		t.Fatal(err)
	}
	if second == first || len(second.(string)) != 64 {
		t.Errorf("fingerprint %v after a change, was %v", second, first)
	}
}

func TestLoadImageValidator(t *testing.T) {
	folders, base := testFolders(t)
	writePNG(t, filepath.Join(base, "input"), "sub/x.png", rgbaImage())
	writePNG(t, filepath.Join(base, "output"), "o.png", rgbaImage())
	if err := os.Mkdir(filepath.Join(base, "input", "dir.png"), 0o755); err != nil {
		t.Fatal(err)
	}
	rt := &node.Runtime{Folders: folders}
	for _, tc := range []struct {
		value any
		err   string
	}{
		{"sub/x.png", ""},
		{"o.png [output]", ""},
		{"o.png", "Invalid image file: o.png"},
		{"missing.png", "Invalid image file: missing.png"},
		{"dir.png", "Invalid image file: dir.png"},
		{int64(5), "Invalid image file: 5"},
	} {
		for _, class := range []*node.Class{loadImage, loadImageMask, loadImageOutput} {
			err := validate(t, class, rt, map[string]any{"image": tc.value, "channel": "alpha"})
			if got := errText(err); got != tc.err {
				t.Errorf("%s(%v): %q, want %q", class.ID, tc.value, got, tc.err)
			}
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestLoadImageMissingFile(t *testing.T) {
	folders, _ := testFolders(t)
	_, err := run(t, loadImage, &node.Runtime{Folders: folders}, map[string]any{"image": "nope.png"})
	if node.ExceptionType(err) != "FileNotFoundError" || err.Error() != "[Errno 2] No such file or directory: 'nope.png'" {
		t.Errorf("err = %v (%s)", err, node.ExceptionType(err))
	}
}

// TestLoadImageRefusesTraversal sends the shared traversal corpus, and a
// symbolic link out of the input folder, to LoadImage's hooks and run.
// Images wait outside the folders where a traversal would land; every
// attempt must fail as ComfyUI's "Invalid file path"/"Invalid image file"
// rather than read them.
func TestLoadImageRefusesTraversal(t *testing.T) {
	folders, base := testFolders(t)
	outside := filepath.Dir(base)
	for _, dir := range []string{base, outside} {
		for _, name := range []string{"x", "x.png", "b", "etc/passwd"} {
			writePNG(t, dir, name, rgbaImage())
		}
	}
	if err := os.Symlink(outside, filepath.Join(base, "input", "link")); err != nil {
		t.Fatal(err)
	}
	corpus := append(files.TraversalCorpus(), "link/x.png", "link/x.png [input]")
	rt := &node.Runtime{Folders: folders}
	for _, name := range corpus {
		in := map[string]any{"image": name}
		if err := validate(t, loadImage, rt, in); err == nil || !strings.HasPrefix(err.Error(), "Invalid image file: ") {
			t.Errorf("validate %q: %v", name, err)
		}
		if _, err := fingerprint(t, loadImage, rt, in); node.ExceptionType(err) != "ValueError" {
			t.Errorf("fingerprint %q: %v", name, err)
		}
		_, err := run(t, loadImage, rt, in)
		if node.ExceptionType(err) != "ValueError" || !strings.HasPrefix(err.Error(), "Invalid file path: ") {
			t.Errorf("run %q: %v", name, err)
		}
	}
}

func TestPyRepr(t *testing.T) {
	for _, tc := range [][2]string{
		{"x.png", `'x.png'`},
		{"it's", `"it's"`},
		{`a'b"c`, `'a\'b"c'`},
		{"a\nb\x00\x7f", `'a\nb\x00\x7f'`},
		{"caf\u00e9 \u200b", `'café \u200b'`},
		{"\xff", `'\xff'`},
		{`\`, `'\\'`},
	} {
		if got := pyRepr(tc[0]); got != tc[1] {
			t.Errorf("pyRepr(%q) = %s, want %s", tc[0], got, tc[1])
		}
	}
}

func TestIsImageName(t *testing.T) {
	for name, want := range map[string]bool{
		"a.png": true, "A.JPG": true, "x.PnG": true, ".hidden.png": true, ".png": true, "d.webp": true,
		"f.svg": true, "y.avif": true, "c.txt": false, "noext": false, "png": false, "w.mp4": false,
		"a.png.gz": false, "a.": false,
	} {
		if got := isImageName(name); got != want {
			t.Errorf("isImageName(%q) = %v", name, got)
		}
	}
}
