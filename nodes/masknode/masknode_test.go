package masknode_test

import (
	"context"
	"math"
	"testing"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/nodes/masknode"
	"github.com/gocomfy/gocomfy/tensor"
)

// run executes one call of class with the given input values.
func run(class *node.Class, in map[string]any) ([]any, error) {
	c := node.NewCall(nil, "1", 0, in)
	err := class.Run(context.Background(), c)
	return c.Result().Outputs, err
}

func mustRun(t *testing.T, class *node.Class, in map[string]any) []any {
	t.Helper()
	out, err := run(class, in)
	if err != nil {
		t.Fatalf("%s: %v", class.ID, err)
	}
	return out
}

func mask(b, h, w int, pix ...float32) *tensor.Mask {
	return &tensor.Mask{B: b, H: h, W: w, Pix: pix}
}

func image(b, h, w, c int, pix ...float32) *tensor.Image {
	return &tensor.Image{B: b, H: h, W: w, C: c, Pix: pix}
}

func near(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-6 {
			return false
		}
	}
	return true
}

func checkMask(t *testing.T, name string, got any, want *tensor.Mask) {
	t.Helper()
	m, ok := got.(*tensor.Mask)
	if !ok || m.B != want.B || m.H != want.H || m.W != want.W || !near(m.Pix, want.Pix) {
		t.Errorf("%s: got %+v, want %+v", name, got, want)
	}
}

func checkImage(t *testing.T, name string, got any, want *tensor.Image) {
	t.Helper()
	m, ok := got.(*tensor.Image)
	if !ok || m.B != want.B || m.H != want.H || m.W != want.W || m.C != want.C || !near(m.Pix, want.Pix) {
		t.Errorf("%s: got %+v, want %+v", name, got, want)
	}
}

// Expected values follow the Python of comfy_extras/nodes_mask.py, worked
// by hand on masks small enough to list.
func TestMaskNodes(t *testing.T) {
	t.Parallel()
	grid := mask(1, 3, 3, 0, 1, 2, 3, 4, 5, 6, 7, 8)
	cases := []struct {
		name  string
		class *node.Class
		in    map[string]any
		want  *tensor.Mask
	}{
		// torch.full((1, h, w), value).
		{"SolidMask", masknode.SolidMask, map[string]any{"value": 0.5, "width": int64(3), "height": int64(2)},
			mask(1, 2, 3, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5)},
		{"InvertMask", masknode.InvertMask, map[string]any{"mask": mask(1, 1, 3, 0, 0.25, 1)}, mask(1, 1, 3, 1, 0.75, 0)},
		// mask > 0.5 is strict.
		{"ThresholdMask", masknode.ThresholdMask, map[string]any{"mask": mask(1, 1, 3, 0.4, 0.5, 0.6), "value": 0.5},
			mask(1, 1, 3, 0, 0, 1)},
		// float32(0.1) > float32(0.1) is false; compared in float64 it would be true.
		{"ThresholdMask float32", masknode.ThresholdMask, map[string]any{"mask": mask(1, 1, 1, 0.1), "value": 0.1},
			mask(1, 1, 1, 0)},
		// mask[:, 1:2, 1:6] of a 3×3 grid is row 1, columns 1..2.
		{"CropMask clipped", masknode.CropMask, map[string]any{"mask": grid, "x": int64(1), "y": int64(1), "width": int64(5), "height": int64(1)},
			mask(1, 1, 2, 4, 5)},
		{"CropMask outside", masknode.CropMask, map[string]any{"mask": grid, "x": int64(5), "y": int64(0), "width": int64(2), "height": int64(2)},
			mask(1, 2, 0)},
		// left=2: columns ·1/2, ·2/2; right=4 (the width): from the right
		// ·1/4, ·2/4, ·3/4, ·4/4. Column 0: 0.5·1, 1: 1·0.75, 2: 0.5, 3: 0.25.
		{"FeatherMask", masknode.FeatherMask, map[string]any{"mask": mask(1, 1, 4, 1, 1, 1, 1),
			"left": int64(2), "top": int64(1), "right": int64(4), "bottom": int64(0)}, mask(1, 1, 4, 0.5, 0.75, 0.5, 0.25)},
		// Amounts are clamped to the size: bottom=9 on 2 rows is 2, so the
		// last row is ·1/2 and the first ·2/2, in every mask of the batch.
		{"FeatherMask clamped", masknode.FeatherMask, map[string]any{"mask": mask(2, 2, 1, 1, 1, 1, 1),
			"left": int64(0), "top": int64(0), "right": int64(0), "bottom": int64(9)}, mask(2, 2, 1, 1, 0.5, 1, 0.5)},
	}
	for _, tc := range cases {
		checkMask(t, tc.name, mustRun(t, tc.class, tc.in)[0], tc.want)
	}
}

func TestMaskComposite(t *testing.T) {
	t.Parallel()
	ones := mask(1, 2, 3, 1, 1, 1, 1, 1, 1)
	cases := []struct {
		name string
		dst  *tensor.Mask
		src  *tensor.Mask
		x, y int64
		op   string
		want *tensor.Mask
	}{
		// Source [0.5 0.25] lands on row 1, columns 1..2.
		{"multiply", ones, mask(1, 1, 2, 0.5, 0.25), 1, 1, "multiply", mask(1, 2, 3, 1, 1, 1, 1, 0.5, 0.25)},
		// 0.75+0.5 clamps to 1; 0.25−0.5 clamps to 0.
		{"add", mask(1, 1, 1, 0.75), mask(1, 1, 1, 0.5), 0, 0, "add", mask(1, 1, 1, 1)},
		{"subtract", mask(1, 1, 1, 0.25), mask(1, 1, 1, 0.5), 0, 0, "subtract", mask(1, 1, 1, 0)},
		// round(0.5) = 0 (half to even), round(0.6) = 1.
		{"and", mask(1, 1, 2, 0.5, 0.6), mask(1, 1, 2, 1, 1), 0, 0, "and", mask(1, 1, 2, 0, 1)},
		{"or", mask(1, 1, 2, 0.5, 0.6), mask(1, 1, 2, 0, 0), 0, 0, "or", mask(1, 1, 2, 0, 1)},
		{"xor", mask(1, 1, 2, 0.5, 0.6), mask(1, 1, 2, 1, 1), 0, 0, "xor", mask(1, 1, 2, 1, 0)},
		// A source batch of 1 applies to every destination mask.
		{"broadcast", mask(2, 1, 1, 0.5, 1), mask(1, 1, 1, 0.5), 0, 0, "multiply", mask(2, 1, 1, 0.25, 0.5)},
		// A 1-pixel-wide visible source broadcasts over the region's width
		// (source[:, :1, :-1] of a 1×2 source is 1×1).
		{"source column broadcast", mask(1, 1, 3, 1, 1, 1), mask(1, 1, 2, 0.5, 0.25), 2, 0, "multiply", mask(1, 1, 3, 1, 1, 0.5)},
	}
	for _, tc := range cases {
		out := mustRun(t, masknode.MaskComposite, map[string]any{"destination": tc.dst, "source": tc.src, "x": tc.x, "y": tc.y, "operation": tc.op})
		checkMask(t, tc.name, out[0], tc.want)
	}
	// torch refuses: a destination batch of 1 cannot take a result of 2;
	// at x=3 on a 2-wide destination, source[:, :, :-1] of a 5-wide source
	// (4 columns) meets an empty region. (A source entirely outside whose
	// visible slice is empty too is fine, as in ComfyUI.)
	for _, bad := range []map[string]any{
		{"destination": mask(1, 1, 1, 1), "source": mask(2, 1, 1, 1, 1), "x": int64(0), "y": int64(0), "operation": "add"},
		{"destination": mask(1, 1, 2, 1, 1), "source": mask(1, 1, 5, 1, 1, 1, 1, 1), "x": int64(3), "y": int64(0), "operation": "add"},
	} {
		if _, err := run(masknode.MaskComposite, bad); err == nil {
			t.Errorf("MaskComposite %v: no error", bad)
		}
	}
}

func TestGrowMask(t *testing.T) {
	t.Parallel()
	dot := mask(1, 3, 3, 0, 0, 0, 0, 1, 0, 0, 0, 0)
	plus := mask(1, 3, 3, 0, 1, 0, 1, 1, 1, 0, 1, 0)
	full := mask(1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1)
	diamond := mask(1, 5, 5,
		0, 0, 1, 0, 0,
		0, 1, 1, 1, 0,
		1, 1, 1, 1, 1,
		0, 1, 1, 1, 0,
		0, 0, 1, 0, 0)
	dot5 := mask(1, 5, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	cases := []struct {
		name    string
		in      *tensor.Mask
		expand  int64
		tapered bool
		want    *tensor.Mask
	}{
		{"dilate plus", dot, 1, true, plus},
		{"dilate square", dot, 1, false, full},
		// Two plus dilations make an L1 ball of radius 2.
		{"dilate twice", dot5, 2, true, diamond},
		// Erosion keeps a pixel whose four neighbours are all set.
		{"erode plus", plus, -1, true, dot},
		// Outside pixels are not zero (reflect border): a full mask stays full.
		{"erode full", full, -5, false, full},
		{"1x1", mask(1, 1, 1, 0.5), 3, true, mask(1, 1, 1, 0.5)},
		{"zero", plus, 0, true, plus},
		// Grey dilation takes the maximum of the footprint.
		{"grey", mask(2, 1, 3, 0.2, 0.7, 0.1, 0, 0, 0.3), 1, true, mask(2, 1, 3, 0.7, 0.7, 0.7, 0, 0.3, 0.3)},
	}
	for _, tc := range cases {
		out := mustRun(t, masknode.GrowMask, map[string]any{"mask": tc.in, "expand": tc.expand, "tapered_corners": tc.tapered})
		checkMask(t, tc.name, out[0], tc.want)
	}
}

func TestImageMaskConversions(t *testing.T) {
	t.Parallel()
	rgba := image(1, 1, 2, 4, 0.1, 0.2, 0.3, 0.25, 0.5, 0.6, 0.7, 1)
	checkMask(t, "ImageToMask green", mustRun(t, masknode.ImageToMask, map[string]any{"image": rgba, "channel": "green"})[0],
		mask(1, 1, 2, 0.2, 0.6))
	if _, err := run(masknode.ImageToMask, map[string]any{"image": image(1, 1, 1, 3, 0, 0, 0), "channel": "alpha"}); node.ExceptionType(err) != "IndexError" {
		t.Errorf("alpha of an RGB image: %v", err)
	}
	checkImage(t, "MaskToImage", mustRun(t, masknode.MaskToImage, map[string]any{"mask": mask(1, 1, 2, 0.25, 1)})[0],
		image(1, 1, 2, 3, 0.25, 0.25, 0.25, 1, 1, 1))
	// round(clamp(x)·255): (1,0,0) → 0xFF0000; 0.5·255 = 127.5 rounds to
	// 128 (half to even), so grey 0.5 is 0x808080; 1.2 clamps to 255.
	img := image(1, 1, 3, 3, 1, 0, 0, 0.5, 0.5, 0.5, 1.2, -1, 0)
	checkMask(t, "ImageColorToMask red", mustRun(t, masknode.ImageColorToMask, map[string]any{"image": img, "color": int64(0xFF0000)})[0],
		mask(1, 1, 3, 1, 0, 1))
	checkMask(t, "ImageColorToMask grey", mustRun(t, masknode.ImageColorToMask, map[string]any{"image": img, "color": int64(0x808080)})[0],
		mask(1, 1, 3, 0, 1, 0))
}

func TestAlphaSplitJoin(t *testing.T) {
	t.Parallel()
	// Split: RGB and 1 − A; an RGB image has mask 1 − 1 = 0.
	out := mustRun(t, masknode.SplitImageWithAlpha, map[string]any{"image": image(1, 1, 1, 4, 0.1, 0.2, 0.3, 0.25)})
	checkImage(t, "split rgb", out[0], image(1, 1, 1, 3, 0.1, 0.2, 0.3))
	checkMask(t, "split mask", out[1], mask(1, 1, 1, 0.75))
	out = mustRun(t, masknode.SplitImageWithAlpha, map[string]any{"image": image(1, 1, 1, 3, 0.1, 0.2, 0.3)})
	checkMask(t, "split no alpha", out[1], mask(1, 1, 1, 0))

	// Join: alpha = 1 − mask resized (bilinear) to the image; both are
	// repeated to the larger batch. A 1×1 mask resized to 1×2 is constant.
	out = mustRun(t, masknode.JoinImageWithAlpha, map[string]any{"image": image(2, 1, 2, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12), "alpha": mask(1, 1, 1, 0.25)})
	checkImage(t, "join", out[0], image(2, 1, 2, 4, 1, 2, 3, 0.75, 4, 5, 6, 0.75, 7, 8, 9, 0.75, 10, 11, 12, 0.75))
	out = mustRun(t, masknode.JoinImageWithAlpha, map[string]any{"image": image(1, 1, 1, 4, 1, 2, 3, 4), "alpha": mask(2, 1, 1, 0, 1)})
	checkImage(t, "join mask batch", out[0], image(2, 1, 1, 4, 1, 2, 3, 1, 1, 2, 3, 0))
}

func TestCompositeMasked(t *testing.T) {
	t.Parallel()
	dst := image(1, 2, 2, 3, make([]float32, 12)...)
	src := image(1, 1, 1, 3, 1, 1, 1)
	in := func(x int64, m *tensor.Mask, resize bool) map[string]any {
		v := map[string]any{"destination": dst, "source": src, "x": x, "y": int64(0), "resize_source": resize}
		if m != nil {
			v["mask"] = m
		}
		return v
	}
	px := func(vals ...float32) *tensor.Image {
		var pix []float32
		for _, v := range vals {
			pix = append(pix, v, v, v)
		}
		return image(1, 2, 2, 3, pix...)
	}
	// The 1×1 source lands on pixel (row 0, column 1).
	checkImage(t, "paste", mustRun(t, masknode.ImageCompositeMasked, in(1, nil, false))[0], px(0, 1, 0, 0))
	// mask·src + (1−mask)·dst with the mask resized to the source.
	checkImage(t, "mask", mustRun(t, masknode.ImageCompositeMasked, in(1, mask(1, 2, 2, 0.25, 0.25, 0.25, 0.25), false))[0], px(0, 0.25, 0, 0))
	// x is clamped to the destination width: nothing is visible.
	checkImage(t, "outside", mustRun(t, masknode.ImageCompositeMasked, in(9, nil, false))[0], px(0, 0, 0, 0))
	// resize_source stretches the source over the destination.
	checkImage(t, "resize", mustRun(t, masknode.ImageCompositeMasked, in(0, nil, true))[0], px(1, 1, 1, 1))
	// image_alpha_fix: an RGB source on an RGBA destination gets alpha 1.
	out := mustRun(t, masknode.ImageCompositeMasked, map[string]any{"destination": image(1, 1, 1, 4, 0, 0, 0, 0),
		"source": image(1, 1, 1, 3, 0.5, 0.5, 0.5), "x": int64(0), "y": int64(0), "resize_source": false})
	checkImage(t, "alpha fix", out[0], image(1, 1, 1, 4, 0.5, 0.5, 0.5, 1))

	// Latents: x and y are pixels, //8. x=8 is latent column 1, x=7 column 0;
	// a source batch of 1 is repeated to the destination's 2.
	lat := func(b, c, h, w int, v float32) *tensor.Latent {
		t := tensor.New(b, c, h, w)
		for i := range t.Data {
			t.Data[i] = v
		}
		return &tensor.Latent{Samples: t}
	}
	for _, tc := range []struct {
		x    int64
		want []float32
	}{{8, []float32{0, 1, 0, 0}}, {7, []float32{1, 0, 0, 0}}} {
		out := mustRun(t, masknode.LatentCompositeMasked, map[string]any{"destination": lat(2, 2, 2, 2, 0), "source": lat(1, 2, 1, 1, 1),
			"x": tc.x, "y": int64(0), "resize_source": false})
		got := out[0].(*tensor.Latent).Samples
		for plane := range 4 {
			if !near(got.Data[plane*4:plane*4+4], tc.want) {
				t.Errorf("LatentCompositeMasked x=%d plane %d: %v", tc.x, plane, got.Data[plane*4:plane*4+4])
			}
		}
	}
}

// Porter-Duff on one pixel: source colour 0.8 with mask 0 (alpha 1),
// destination colour 0.2 with mask 0.5 (alpha 0.5). Premultiplied: s=0.8,
// d=0.1. SRC_OVER: α = 1 + 0·0.5 = 1, c = 0.8 + 0·0.1 = 0.8. DST_OVER:
// α = 0.5 + 0.5·1 = 1, c = 0.1 + 0.5·0.8 = 0.5. XOR: α = 0.5·1 + 0·0.5 =
// 0.5, c = 0.5·0.8 = 0.4, un-premultiplied 0.8. DST: 0.1/0.5 = 0.2.
// CLEAR: α = 0, colour 0. Masks out are 1 − α.
func TestPorterDuff(t *testing.T) {
	t.Parallel()
	cases := []struct {
		mode     string
		c, alpha float32
	}{{"SRC_OVER", 0.8, 1}, {"DST_OVER", 0.5, 1}, {"XOR", 0.8, 0.5}, {"DST", 0.2, 0.5}, {"CLEAR", 0, 0}, {"ADD", 0.9, 1}}
	for _, tc := range cases {
		out := mustRun(t, masknode.PorterDuffImageComposite, map[string]any{
			"source": image(1, 1, 1, 3, 0.8, 0.8, 0.8), "source_alpha": mask(1, 1, 1, 0),
			"destination": image(1, 1, 1, 3, 0.2, 0.2, 0.2), "destination_alpha": mask(1, 1, 1, 0.5), "mode": tc.mode})
		checkImage(t, tc.mode, out[0], image(1, 1, 1, 3, tc.c, tc.c, tc.c))
		checkMask(t, tc.mode+" mask", out[1], mask(1, 1, 1, 1-tc.alpha))
	}
	// The batch is the smallest of the four; a 1×1 destination alpha is
	// resized (bicubic) to the 1×2 destination, which keeps it constant.
	out := mustRun(t, masknode.PorterDuffImageComposite, map[string]any{
		"source": image(2, 1, 2, 3, make([]float32, 12)...), "source_alpha": mask(2, 1, 2, 1, 1, 1, 1),
		"destination": image(1, 1, 2, 3, 0.2, 0.2, 0.2, 0.4, 0.4, 0.4), "destination_alpha": mask(1, 1, 1, 0), "mode": "DST"})
	checkImage(t, "resize", out[0], image(1, 1, 2, 3, 0.2, 0.2, 0.2, 0.4, 0.4, 0.4))
	checkMask(t, "resize mask", out[1], mask(1, 1, 2, 0, 0))
}
