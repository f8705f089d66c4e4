package preview

import (
	"context"
	"image/color"
	"image/png"
	"os"
	"regexp"
	"testing"

	"github.com/gocomfy/gocomfy/internal/imageio"
	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
	"github.com/gocomfy/gocomfy/tensor"
)

func newCall(t *testing.T) (*node.Call, *os.Root) {
	t.Helper()
	root, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	// A prompt to embed, which previews must not write.
	p, err := node.ParsePrompt([]byte(`{"1": {"class_type": "X", "inputs": {}}}`))
	if err != nil {
		t.Fatal(err)
	}
	rt := &node.Runtime{Prompt: p, Folders: node.Folders{Temp: root}}
	return node.NewCall(rt, "1", 0, nil), root
}

// entryName returns the file an entry names, checking its other fields.
func entryName(t *testing.T, e any) string {
	t.Helper()
	obj, ok := e.(pyjson.Object)
	sub, _ := obj.Get("subfolder")
	typ, _ := obj.Get("type")
	name, _ := obj.Get("filename")
	if !ok || sub != "" || typ != "temp" {
		t.Fatalf("entry %v", e)
	}
	return name.(string)
}

func TestImage(t *testing.T) {
	c, root := newCall(t)
	img := &tensor.Image{B: 2, H: 1, W: 2, C: 3, Pix: []float32{0, 0.5, 1, -1, 2, 0.999, 0.2, 0.4, 0.6, 0.8, 1, 0}}
	if err := Image(context.Background(), c, img); err != nil {
		t.Fatal(err)
	}
	ui := c.Result().UI
	if animated, _ := ui.Get("animated"); len(animated.([]any)) != 1 || animated.([]any)[0] != false {
		t.Errorf("animated %v, want [false]", animated)
	}
	images, _ := ui.Get("images")
	entries := images.([]any)
	if len(entries) != 2 {
		t.Fatalf("%d entries, want 2", len(entries))
	}
	// clip(255·x, 0, 255) truncated, as SaveImage converts.
	want := [][]uint8{{0, 127, 255, 0, 255, 254}, {51, 102, 153, 204, 255, 0}}
	var prefix string
	for b, e := range entries {
		name := entryName(t, e)
		m := regexp.MustCompile(`^(ComfyUI_temp_[a-z]{5})_0000(\d)_\.png$`).FindStringSubmatch(name)
		if m == nil || m[2] != string(rune('1'+b)) || (prefix != "" && m[1] != prefix) {
			t.Fatalf("name %q", name)
		}
		prefix = m[1]
		f, err := root.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		text, err := imageio.ReadPNGText(f)
		if err != nil || len(text) != 0 {
			t.Errorf("%s: text chunks %v %v, want none", name, text, err)
		}
		f.Seek(0, 0)
		dec, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		for x := range 2 {
			got := color.NRGBAModel.Convert(dec.At(x, 0)).(color.NRGBA)
			if w := want[b][3*x:]; got != (color.NRGBA{w[0], w[1], w[2], 255}) {
				t.Errorf("%s pixel %d: %v, want %v", name, x, got, w[:3])
			}
		}
	}
}

func TestMaskIsGrey(t *testing.T) {
	c, root := newCall(t)
	if err := Mask(context.Background(), c, &tensor.Mask{B: 1, H: 1, W: 2, Pix: []float32{0.25, 1}}); err != nil {
		t.Fatal(err)
	}
	images, _ := c.Result().UI.Get("images")
	f, err := root.Open(entryName(t, images.([]any)[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	for x, v := range []uint8{63, 255} {
		if got := color.NRGBAModel.Convert(dec.At(x, 0)); got != (color.NRGBA{v, v, v, 255}) {
			t.Errorf("pixel %d: %v, want grey %d", x, got, v)
		}
	}
}

func TestSave(t *testing.T) {
	c, _ := newCall(t)
	img := &tensor.Image{B: 1, H: 1, W: 1, C: 3, Pix: []float32{1, 1, 1}}
	for i := range 2 {
		entries, err := Save(context.Background(), c, img, "comfy.compare.a")
		if err != nil {
			t.Fatal(err)
		}
		// Each save draws new letters, so each starts at counter 1.
		if name := entryName(t, entries[0]); !regexp.MustCompile(`^comfy\.compare\.a_temp_[a-z]{5}_00001_\.png$`).MatchString(name) {
			t.Errorf("save %d: name %q", i, name)
		}
	}
	errs := []struct {
		name string
		call *node.Call
		img  *tensor.Image
	}{
		{"empty batch", c, &tensor.Image{H: 1, W: 1, C: 3}},
		{"two channels", c, &tensor.Image{B: 1, H: 1, W: 1, C: 2, Pix: []float32{0, 0}}},
		{"no temp folder", node.NewCall(nil, "1", 0, nil), img},
	}
	for _, e := range errs {
		if _, err := Save(context.Background(), e.call, e.img, "x"); err == nil {
			t.Errorf("%s: no error", e.name)
		}
	}
}
