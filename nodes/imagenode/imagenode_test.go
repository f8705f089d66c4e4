package imagenode

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/node/nodetest"
	"github.com/gocomfy/gocomfy/nodes/masknode"
	"github.com/gocomfy/gocomfy/pyjson"
	"github.com/gocomfy/gocomfy/tensor"
)

// registry holds this pack and masknode, whose compositing classes
// (ImageCompositeMasked, Porter-Duff, alpha split and join) are checked here
// against the same ComfyUI-generated goldens as the image classes.
func registry(t testing.TB) *node.Registry {
	t.Helper()
	r := node.NewRegistry()
	Register(r)
	masknode.Register(r)
	return r
}

// Every class renders ComfyUI's own /object_info entry, byte for byte
// (testdata/object_info, written by testdata/gen.py).
func TestObjectInfoMatchesComfyUI(t *testing.T) {
	files, err := filepath.Glob("testdata/object_info/*.json")
	if err != nil {
		t.Fatal(err)
	}
	r := registry(t)
	for _, file := range files {
		id := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(id, func(t *testing.T) {
			class, ok := r.Lookup(id)
			if !ok {
				t.Fatalf("no class %s", id)
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got, err := pyjson.Marshal(class.ObjectInfo())
			if err != nil {
				t.Fatal(err)
			}
			text := strings.TrimSuffix(string(want), "\n")
			if string(got) != text {
				t.Errorf("got\n%s\nwant\n%s", got, text)
			}
		})
	}
	own := node.NewRegistry()
	Register(own)
	for class := range own.All() {
		if _, err := os.Stat(filepath.Join("testdata/object_info", class.ID+".json")); err != nil {
			t.Errorf("%s has no object_info golden", class.ID)
		}
	}
}

// taggedTensor is how gen.py writes IMAGE and MASK values and lists, and
// large images: inputs as the shape of gen.py's Pattern, outputs as a digest.
type taggedTensor struct {
	Image, Mask *struct {
		Shape []int
		Data  []float32
	}
	List    []json.RawMessage
	Pattern *struct{ Shape []int }
	Digest  *imageDigest
}

// imageDigest stands for a large IMAGE output: its shape and the SHA-256 of
// its float32 values, little-endian.
type imageDigest struct {
	Shape  []int
	SHA256 string
}

func digestOf(img *tensor.Image) imageDigest {
	h := sha256.New()
	var b [4]byte
	for _, v := range img.Pix {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
		h.Write(b[:])
	}
	return imageDigest{img.Shape(), hex.EncodeToString(h.Sum(nil))}
}

// patternImage is gen.py's Pattern: bytes of a diagonal ramp per channel plus
// 64 levels of multiplicative-hash noise, divided by 255.
func patternImage(b, h, w, c int) *tensor.Image {
	img := tensor.NewImage(b, h, w, c)
	for i := range img.Pix {
		x, y, ch := uint32(i/c%w), uint32(i/(c*w)%h), uint32(i%c)
		noise := (uint32(i) + 1) * 2654435761 >> 26
		img.Pix[i] = float32(uint8(7*x+3*y+85*ch+noise)) / 255
	}
	return img
}

// isTagged reports whether raw is a value gen.py tags (else plain JSON).
func isTagged(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	if !bytes.HasPrefix(raw, []byte("{")) || json.Unmarshal(raw, &m) != nil || len(m) != 1 {
		return false
	}
	for k := range m {
		return slices.Contains([]string{"IMAGE", "MASK", "LIST", "IMAGE_PATTERN", "IMAGE_SHA256"}, k)
	}
	return false
}

func (tt *taggedTensor) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	for k, v := range m {
		var err error
		switch k {
		case "IMAGE":
			err = json.Unmarshal(v, &tt.Image)
		case "MASK":
			err = json.Unmarshal(v, &tt.Mask)
		case "LIST":
			err = json.Unmarshal(v, &tt.List)
		case "IMAGE_PATTERN":
			err = json.Unmarshal(v, &tt.Pattern)
		case "IMAGE_SHA256":
			err = json.Unmarshal(v, &tt.Digest)
		default:
			return fmt.Errorf("unknown tag %q", k)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// decode turns a golden value into what the executor would pass for an
// input of type typ.
func decode(raw json.RawMessage, typ string) (any, error) {
	if isTagged(raw) {
		var tt taggedTensor
		if err := json.Unmarshal(raw, &tt); err != nil {
			return nil, err
		}
		switch {
		case tt.Image != nil:
			s := tt.Image.Shape
			return &tensor.Image{B: s[0], H: s[1], W: s[2], C: s[3], Pix: tt.Image.Data}, nil
		case tt.Mask != nil:
			s := tt.Mask.Shape
			return &tensor.Mask{B: s[0], H: s[1], W: s[2], Pix: tt.Mask.Data}, nil
		case tt.Pattern != nil:
			s := tt.Pattern.Shape
			return patternImage(s[0], s[1], s[2], s[3]), nil
		case tt.Digest != nil:
			return *tt.Digest, nil
		}
		list := make([]any, len(tt.List))
		for i, item := range tt.List {
			v, err := decode(item, typ)
			if err != nil {
				return nil, err
			}
			list[i] = v
		}
		return list, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if n, ok := v.(json.Number); ok && typ == "FLOAT" {
		return n.Float64()
	}
	return node.Literal(v), nil
}

func TestNodesMatchComfyUI(t *testing.T) {
	nodetest.Goldens(t, registry(t), "testdata/golden", func(t *testing.T, class *node.Class, c nodetest.GoldenCase) {
		values := map[string]any{}
		pn := &node.PromptNode{}
		for name, raw := range c.Inputs {
			// A dynamic combo's key (a string) selects its inputs.
			var key string
			_ = json.Unmarshal(raw, &key) // other values leave it empty
			pn.Inputs = append(pn.Inputs, node.Input{Name: name, Value: key})
		}
		defs := class.Finalize(pn) // dotted names of dynamic inputs
		for name, raw := range c.Inputs {
			def, ok := node.FindInput(defs, name)
			if !ok {
				t.Fatalf("no input %s", name)
			}
			v, err := decode(raw, def.Type)
			if err != nil {
				t.Fatal(err)
			}
			values[name] = v
		}
		temp, err := os.OpenRoot(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer temp.Close()
		before := snapshot(values)
		call := node.NewCall(&node.Runtime{Folders: node.Folders{Temp: temp}}, "1", 0, values)
		err = class.Run(context.Background(), call)
		if !slices.Equal(before, snapshot(values)) {
			t.Error("the node changed its inputs")
		}
		if c.Error != "" {
			if err == nil {
				t.Fatalf("no error; ComfyUI raises %s", c.Error)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		got := call.Result().Outputs
		if len(got) != len(c.Outputs) {
			t.Fatalf("%d outputs, want %d", len(got), len(c.Outputs))
		}
		for i, raw := range c.Outputs {
			want, err := decode(raw, class.Outputs()[i].Type)
			if err != nil {
				t.Fatal(err)
			}
			if err := compare(got[i], want, c.Tol); err != nil {
				t.Errorf("output %d: %v", i, err)
			}
		}
		if err := checkUI(temp, call.Result().UI, c.UI); err != nil {
			t.Errorf("ui: %v", err)
		}
	})
}

// snapshot copies every value of the tensors among values.
func snapshot(values map[string]any) []float32 {
	var all []float32
	var add func(v any)
	add = func(v any) {
		switch v := v.(type) {
		case *tensor.Image:
			all = append(all, v.Pix...)
		case *tensor.Mask:
			all = append(all, v.Pix...)
		case []any:
			for _, x := range v {
				add(x)
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(values)) {
		add(values[k])
	}
	return all
}

// compare checks a node output against a golden one: shapes equal, values
// within tol (NaN matching NaN).
func compare(got, want any, tol float64) error {
	switch w := want.(type) {
	case *tensor.Image:
		g, ok := got.(*tensor.Image)
		if !ok {
			return fmt.Errorf("got %T, want an IMAGE", got)
		}
		if g.B != w.B || g.H != w.H || g.W != w.W || g.C != w.C {
			return fmt.Errorf("shape %v, want %v", g.Shape(), w.Shape())
		}
		return compareValues(g.Pix, w.Pix, tol)
	case *tensor.Mask:
		g, ok := got.(*tensor.Mask)
		if !ok {
			return fmt.Errorf("got %T, want a MASK", got)
		}
		if g.B != w.B || g.H != w.H || g.W != w.W {
			return fmt.Errorf("shape %v, want %v", g.Shape(), w.Shape())
		}
		return compareValues(g.Pix, w.Pix, tol)
	case imageDigest:
		g, ok := got.(*tensor.Image)
		if !ok {
			return fmt.Errorf("got %T, want an IMAGE", got)
		}
		if d := digestOf(g); !slices.Equal(d.Shape, w.Shape) || d.SHA256 != w.SHA256 {
			return fmt.Errorf("got shape %v sha256 %s, want %v %s", d.Shape, d.SHA256, w.Shape, w.SHA256)
		}
		return nil
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("got %v, want a list of %d", got, len(w))
		}
		for i := range w {
			if err := compare(g[i], w[i], tol); err != nil {
				return fmt.Errorf("item %d: %v", i, err)
			}
		}
		return nil
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("got %v (%T), want %v (%T)", got, got, want, want)
	}
	return nil
}

func compareValues(got, want []float32, tol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d values, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) && math.IsNaN(w) {
			continue
		}
		if d := math.Abs(g - w); !(d <= tol) {
			return fmt.Errorf("value %d: got %v, want %v (|diff| %g > %g)", i, got[i], want[i], d, tol)
		}
	}
	return nil
}

// A link from an output of another type reaches a node as a value it cannot
// use: every class must answer with an error, not a panic.
func TestWrongInputTypesFail(t *testing.T) {
	for class := range registry(t).All() {
		values := map[string]any{}
		sockets := 0
		for _, d := range class.Finalize(nil) { // with the autogrow entries
			switch d.Type {
			case "INT":
				values[d.Name] = int64(1)
			case "FLOAT":
				values[d.Name] = 1.0
			case "BOOLEAN":
				values[d.Name] = true
			case "COMBO":
				values[d.Name] = d.Choices()[0]
			default:
				values[d.Name] = "not a tensor"
				sockets++
			}
		}
		if sockets == 0 {
			continue
		}
		if class.InputIsList {
			for k, v := range values {
				values[k] = []any{v}
			}
		}
		if err := class.Run(context.Background(), node.NewCall(nil, "1", 0, values)); err == nil {
			t.Errorf("%s: no error", class.ID)
		}
	}
}

// Results do not depend on how many cores share the work.
func TestSameResultOnOneCore(t *testing.T) {
	img := testImage(2, 67, 45, 3)
	mask := &tensor.Mask{B: 1, H: 30, W: 20, Pix: testImage(1, 30, 20, 1).Pix}
	r := registry(t)
	cases := []struct {
		class  string
		values map[string]any
	}{
		{"ImageBlur", map[string]any{"image": img, "blur_radius": int64(5), "sigma": 2.0}},
		{"ImageSharpen", map[string]any{"image": img, "sharpen_radius": int64(3), "sigma": 1.0, "alpha": 0.5}},
		{"ImageCompositeMasked", map[string]any{"destination": img, "source": testImage(1, 40, 30, 3), "x": int64(7),
			"y": int64(9), "resize_source": false, "mask": mask}},
		{"Morphology", map[string]any{"image": img, "operation": "gradient", "kernel_size": int64(5)}},
		{"ImageAddNoise", map[string]any{"image": img, "seed": int64(3), "strength": 0.5}},
		{"ImageBlend", map[string]any{"image1": img, "image2": testImage(1, 20, 30, 3), "blend_factor": 0.4, "blend_mode": "soft_light"}},
		{"ImageQuantize", map[string]any{"image": img, "colors": int64(16), "dither": "floyd-steinberg"}},
		{"Canny", map[string]any{"image": img, "low_threshold": 0.05, "high_threshold": 0.2}},
		{"ColorTransfer", map[string]any{"image_target": img, "image_ref": testImage(1, 20, 30, 3), "method": "mkl_lab",
			"source_stats": "per_frame", "strength": 0.7}},
		{"ColorTransfer", map[string]any{"image_target": img, "image_ref": testImage(2, 20, 30, 3), "method": "histogram",
			"source_stats": "uniform", "strength": 1.0}},
	}
	for _, c := range cases {
		class, _ := r.Lookup(c.class)
		run := func() *tensor.Image {
			call := node.NewCall(nil, "1", 0, c.values)
			if err := class.Run(context.Background(), call); err != nil {
				t.Fatal(err)
			}
			return call.Result().Outputs[0].(*tensor.Image)
		}
		many := run()
		prev := runtime.GOMAXPROCS(1)
		one := run()
		runtime.GOMAXPROCS(prev)
		if !slices.Equal(one.Pix, many.Pix) {
			t.Errorf("%s: results differ between 1 and %d cores", c.class, prev)
		}
	}
}

func TestTileGrid(t *testing.T) {
	got, err := tileGrid(9, 7, 4, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Strides of round(max(1, 3)) = 3; the last tiles end at the border.
	want := [][4]int{{0, 0, 4, 4}, {3, 0, 7, 4}, {5, 0, 9, 4}, {0, 3, 4, 7}, {3, 3, 7, 7}, {5, 3, 9, 7}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, err := tileGrid(10, 10, 0, 4, 0); err == nil {
		t.Error("a zero tile width must fail (ComfyUI loops forever)")
	}
}

func testImage(b, h, w, c int) *tensor.Image {
	img := tensor.NewImage(b, h, w, c)
	for i := range img.Pix {
		img.Pix[i] = float32((i*7919)%1000) / 1000
	}
	return img
}

func benchNode(b *testing.B, id string, values map[string]any) {
	class, _ := registry(b).Lookup(id)
	for _, procs := range []int{1, runtime.NumCPU()} {
		b.Run(fmt.Sprintf("procs=%d", procs), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			for b.Loop() {
				if err := class.Run(context.Background(), node.NewCall(nil, "1", 0, values)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkImageScaleLanczos1024To2048(b *testing.B) {
	benchNode(b, "ImageScale", map[string]any{"image": testImage(1, 1024, 1024, 3), "upscale_method": "lanczos",
		"width": int64(2048), "height": int64(2048), "crop": "disabled"})
}

func BenchmarkImageScaleBicubic1024To2048(b *testing.B) {
	benchNode(b, "ImageScale", map[string]any{"image": testImage(1, 1024, 1024, 3), "upscale_method": "bicubic",
		"width": int64(2048), "height": int64(2048), "crop": "disabled"})
}

func BenchmarkImageBlurRadius10At1024(b *testing.B) {
	benchNode(b, "ImageBlur", map[string]any{"image": testImage(1, 1024, 1024, 3), "blur_radius": int64(10), "sigma": 1.0})
}

func BenchmarkCanny1024(b *testing.B) {
	benchNode(b, "Canny", map[string]any{"image": testImage(1, 1024, 1024, 3), "low_threshold": 0.4, "high_threshold": 0.8})
}

func BenchmarkColorTransferMKL1024(b *testing.B) {
	benchNode(b, "ColorTransfer", map[string]any{"image_target": testImage(1, 1024, 1024, 3),
		"image_ref": testImage(1, 512, 512, 3), "method": "mkl_lab", "source_stats": "per_frame", "strength": 1.0})
}

func BenchmarkImageCompositeMasked2048(b *testing.B) {
	m := testImage(1, 2048, 2048, 1)
	benchNode(b, "ImageCompositeMasked", map[string]any{"destination": testImage(1, 2048, 2048, 3),
		"source": testImage(1, 2048, 2048, 3), "x": int64(0), "y": int64(0), "resize_source": false,
		"mask": &tensor.Mask{B: 1, H: 2048, W: 2048, Pix: m.Pix}})
}
