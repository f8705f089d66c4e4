package latentnode_test

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/nodes/latentnode"
	"github.com/gocomfy/gocomfy/tensor"
)

func run(class *node.Class, in map[string]any) (*tensor.Latent, error) {
	c := node.NewCall(nil, "1", 0, in)
	if err := class.Run(context.Background(), c); err != nil {
		return nil, err
	}
	l, _ := c.Result().Outputs[0].(*tensor.Latent)
	return l, nil
}

func mustRun(t *testing.T, class *node.Class, in map[string]any) *tensor.Latent {
	t.Helper()
	l, err := run(class, in)
	if err != nil {
		t.Fatalf("%s: %v", class.ID, err)
	}
	return l
}

// lat makes a latent of the given shape holding data (zeros if none).
func lat(shape []int, data ...float32) *tensor.Latent {
	t := tensor.New(shape...)
	copy(t.Data, data)
	return &tensor.Latent{Samples: t}
}

func ramp(n int) []float32 {
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(i)
	}
	return d
}

func shape(s ...int) []int { return s }

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

func check(t *testing.T, name string, got *tensor.Latent, wantShape []int, want []float32) {
	t.Helper()
	if got == nil || !slices.Equal(got.Samples.Shape, wantShape) || (want != nil && !near(got.Samples.Data, want)) {
		if got == nil {
			t.Errorf("%s: no latent", name)
			return
		}
		t.Errorf("%s: got %v %v, want %v %v", name, got.Samples.Shape, got.Samples.Data, wantShape, want)
	}
}

// Expected values are worked out from nodes.py and nodes_latent.py.
func TestSamplesOps(t *testing.T) {
	t.Parallel()
	grid := lat(shape(1, 1, 2, 3), 0, 1, 2, 3, 4, 5) // [[0 1 2] [3 4 5]]
	cases := []struct {
		name      string
		class     *node.Class
		in        map[string]any
		wantShape []int
		want      []float32
	}{
		// zeros[batch, 4, height//8, width//8]: 75//8 = 9.
		{"EmptyLatentImage", latentnode.EmptyLatentImage, map[string]any{"width": int64(75), "height": int64(64), "batch_size": int64(2)},
			shape(2, 4, 8, 9), make([]float32, 2*4*8*9)},
		// width 0: h = 128, w = max(64, round(8·128/4)) = 256 → 32×16 latent.
		{"LatentUpscale keep ratio", latentnode.LatentUpscale, map[string]any{"samples": lat(shape(1, 1, 4, 8)),
			"upscale_method": "nearest-exact", "width": int64(0), "height": int64(128), "crop": "disabled"}, shape(1, 1, 16, 32), nil},
		// Both sides at least 64 px: a constant 1×1 latent becomes 8×8.
		{"LatentUpscale min 64", latentnode.LatentUpscale, map[string]any{"samples": lat(shape(1, 1, 1, 1), 3),
			"upscale_method": "bilinear", "width": int64(8), "height": int64(16), "crop": "center"}, shape(1, 1, 8, 8), slices.Repeat([]float32{3}, 64)},
		// round(2·1.25) = round(2.5) = 2 (half to even); round(2·1.5) = 3.
		{"LatentUpscaleBy half even", latentnode.LatentUpscaleBy, map[string]any{"samples": lat(shape(1, 1, 2, 2)),
			"upscale_method": "area", "scale_by": 1.25}, shape(1, 1, 2, 2), nil},
		{"LatentUpscaleBy 1.5", latentnode.LatentUpscaleBy, map[string]any{"samples": lat(shape(1, 1, 2, 2)),
			"upscale_method": "bislerp", "scale_by": 1.5}, shape(1, 1, 3, 3), nil},
		// blend = s1·f + s2·(1−f) = 1·0.25 + 3·0.75; a 1×1 samples2 is
		// resized (bicubic) to 1×2 first, which keeps a constant.
		{"LatentBlend", latentnode.LatentBlend, map[string]any{"samples1": lat(shape(1, 1, 1, 2), 1, 1), "samples2": lat(shape(1, 1, 1, 1), 3),
			"blend_factor": 0.25}, shape(1, 1, 1, 2), []float32{2.5, 2.5}},
		// torch.rot90(k, dims=[3, 2]) turns [[0 1 2] [3 4 5]] clockwise.
		{"LatentRotate 90", latentnode.LatentRotate, map[string]any{"samples": grid, "rotation": "90 degrees"}, shape(1, 1, 3, 2), []float32{3, 0, 4, 1, 5, 2}},
		{"LatentRotate 180", latentnode.LatentRotate, map[string]any{"samples": grid, "rotation": "180 degrees"}, shape(1, 1, 2, 3), []float32{5, 4, 3, 2, 1, 0}},
		{"LatentRotate 270", latentnode.LatentRotate, map[string]any{"samples": grid, "rotation": "270 degrees"}, shape(1, 1, 3, 2), []float32{2, 5, 1, 4, 0, 3}},
		{"LatentRotate none", latentnode.LatentRotate, map[string]any{"samples": grid, "rotation": "none"}, shape(1, 1, 2, 3), []float32{0, 1, 2, 3, 4, 5}},
		{"LatentFlip x", latentnode.LatentFlip, map[string]any{"samples": grid, "flip_method": "x-axis: vertically"}, shape(1, 1, 2, 3), []float32{3, 4, 5, 0, 1, 2}},
		{"LatentFlip y", latentnode.LatentFlip, map[string]any{"samples": grid, "flip_method": "y-axis: horizontally"}, shape(1, 1, 2, 3), []float32{2, 1, 0, 5, 4, 3}},
		// x = 32//8 = 4 ≤ 12−8; y = 24//8 = 3 > 10−8, so 2; 8×8 from (2, 4):
		// the first value is 2·12+4.
		{"LatentCrop", latentnode.LatentCrop, map[string]any{"samples": lat(shape(1, 1, 10, 12), ramp(120)...),
			"width": int64(64), "height": int64(64), "x": int64(32), "y": int64(24)}, shape(1, 1, 8, 8), nil},
		// Narrower than 8: x = 4−8 = −4, and [−4:4] is Python's [0:4].
		{"LatentCrop small", latentnode.LatentCrop, map[string]any{"samples": lat(shape(1, 1, 4, 4), ramp(16)...),
			"width": int64(64), "height": int64(64), "x": int64(0), "y": int64(0)}, shape(1, 1, 4, 4), ramp(16)},
		{"LatentAdd", latentnode.LatentAdd, map[string]any{"samples1": lat(shape(1, 2, 1, 1), 1, 2), "samples2": lat(shape(2, 2, 1, 1), 10, 20, 30, 40)},
			shape(1, 2, 1, 1), []float32{11, 22}},
		// samples2 2×2 → 1×1 (bilinear at source coordinate 0.5 on both
		// axes: the mean of all four, 4), repeated to the batch of 2.
		{"LatentSubtract resized", latentnode.LatentSubtract, map[string]any{"samples1": lat(shape(2, 1, 1, 1), 5, 6), "samples2": lat(shape(1, 1, 2, 2), 1, 3, 5, 7)},
			shape(2, 1, 1, 1), []float32{1, 2}},
		{"LatentMultiply", latentnode.LatentMultiply, map[string]any{"samples": lat(shape(1, 2, 1, 1), 1, -2), "multiplier": -1.5},
			shape(1, 2, 1, 1), []float32{-1.5, 3}},
		// Batch 1: (3,4) has norm 5, (0,2) norm 2. Directions (.6,.8) and
		// (0,1) lerp to (.3,.9), renormalised to (.31622777,.9486833), scaled
		// by 5·.5+2·.5 = 3.5.
		{"LatentInterpolate", latentnode.LatentInterpolate, map[string]any{"samples1": lat(shape(1, 2, 1, 1), 3, 4), "samples2": lat(shape(1, 2, 1, 1), 0, 2), "ratio": 0.5},
			shape(1, 2, 1, 1), []float32{1.1067972, 3.3203917}},
		// Batch 2 [quirk]: the [B,H,W] norms broadcast over channels, so
		// channel c of every item is divided by item c's norm (5 and 2):
		// item 0 → (.6, 2), item 1 → (0, 1); renormalised the same way
		// (norms 2.0880613 and 1) and scaled by 5 and 2.
		{"LatentInterpolate batch quirk", latentnode.LatentInterpolate, map[string]any{"samples1": lat(shape(2, 2, 1, 1), 3, 4, 0, 2), "samples2": lat(shape(2, 2, 1, 1), 3, 4, 0, 2), "ratio": 1.0},
			shape(2, 2, 1, 1), []float32{1.4367394, 4, 0, 2}},
		// Zero vectors: 0/0 is NaN, nan_to_num makes it 0.
		{"LatentInterpolate zero", latentnode.LatentInterpolate, map[string]any{"samples1": lat(shape(1, 2, 1, 1)), "samples2": lat(shape(1, 2, 1, 1)), "ratio": 0.5},
			shape(1, 2, 1, 1), []float32{0, 0}},
		{"LatentConcat x", latentnode.LatentConcat, map[string]any{"samples1": lat(shape(1, 1, 1, 2), 1, 2), "samples2": lat(shape(1, 1, 1, 1), 3), "dim": "x"},
			shape(1, 1, 1, 3), []float32{1, 2, 3}},
		{"LatentConcat -x", latentnode.LatentConcat, map[string]any{"samples1": lat(shape(1, 1, 1, 2), 1, 2), "samples2": lat(shape(1, 1, 1, 1), 3), "dim": "-x"},
			shape(1, 1, 1, 3), []float32{3, 1, 2}},
		// "t" is dimension −3: the channels of a 4-D latent.
		{"LatentConcat t", latentnode.LatentConcat, map[string]any{"samples1": lat(shape(1, 1, 1, 1), 1), "samples2": lat(shape(1, 1, 1, 1), 2), "dim": "t"},
			shape(1, 2, 1, 1), []float32{1, 2}},
		// index −2: the last two; index 3 with amount 9: min(5−3, 9) = 2;
		// index 9 is clamped to 4.
		{"LatentCut negative", latentnode.LatentCut, map[string]any{"samples": lat(shape(1, 1, 1, 5), ramp(5)...), "dim": "x", "index": int64(-2), "amount": int64(5)},
			shape(1, 1, 1, 2), []float32{3, 4}},
		{"LatentCut clamp", latentnode.LatentCut, map[string]any{"samples": lat(shape(1, 1, 1, 5), ramp(5)...), "dim": "x", "index": int64(9), "amount": int64(1)},
			shape(1, 1, 1, 1), []float32{4}},
		// 5 columns in slices of 2: the fifth is dropped; slices go to the batch.
		{"LatentCutToBatch", latentnode.LatentCutToBatch, map[string]any{"samples": lat(shape(1, 1, 2, 5), ramp(10)...), "dim": "x", "slice_size": int64(2)},
			shape(2, 1, 2, 2), []float32{0, 1, 5, 6, 2, 3, 7, 8}},
		// "t" of a 4-D latent is dimension 1 < 2: unchanged.
		{"LatentCutToBatch t", latentnode.LatentCutToBatch, map[string]any{"samples": grid, "dim": "t", "slice_size": int64(1)},
			shape(1, 1, 2, 3), []float32{0, 1, 2, 3, 4, 5}},
	}
	for _, tc := range cases {
		check(t, tc.name, mustRun(t, tc.class, tc.in), tc.wantShape, tc.want)
	}
	crop := mustRun(t, latentnode.LatentCrop, map[string]any{"samples": lat(shape(1, 1, 10, 12), ramp(120)...),
		"width": int64(64), "height": int64(64), "x": int64(32), "y": int64(24)})
	if crop.Samples.Data[0] != 28 {
		t.Errorf("LatentCrop origin: %v", crop.Samples.Data[0])
	}
	same := lat(shape(1, 1, 1, 1), 7)
	if got := mustRun(t, latentnode.LatentUpscale, map[string]any{"samples": same, "upscale_method": "bilinear",
		"width": int64(0), "height": int64(0), "crop": "disabled"}); got != same {
		t.Errorf("LatentUpscale 0×0 should return its input")
	}
	if _, err := run(latentnode.LatentConcat, map[string]any{"samples1": lat(shape(1, 1, 1, 2)), "samples2": lat(shape(1, 1, 1, 1)), "dim": "y"}); err == nil {
		t.Errorf("LatentConcat of different widths along y: no error")
	}
}

func TestBatchOps(t *testing.T) {
	t.Parallel()
	four := lat(shape(4, 1, 1, 1), 0, 1, 2, 3)
	withMask := func(l *tensor.Latent, m ...float32) *tensor.Latent {
		c := *l
		c.NoiseMask = &tensor.Tensor{Shape: []int{len(m), 1, 1, 1}, Data: m}
		return &c
	}
	withIndex := func(l *tensor.Latent, bi ...int) *tensor.Latent {
		c := *l
		c.BatchIndex = bi
		return &c
	}

	// batch_index −1 → 3; length min(4−3, 3) = 1; batch_index becomes [3].
	got := mustRun(t, latentnode.LatentFromBatch, map[string]any{"samples": four, "batch_index": int64(-1), "length": int64(3)})
	check(t, "LatentFromBatch last", got, shape(1, 1, 1, 1), []float32{3})
	if !slices.Equal(got.BatchIndex, []int{3}) {
		t.Errorf("LatentFromBatch batch_index %v", got.BatchIndex)
	}
	// Masks of batch 2 < 4 are repeated to [m0 m1 m0 m1] before [1:3].
	got = mustRun(t, latentnode.LatentFromBatch, map[string]any{"samples": withIndex(withMask(four, 10, 11), 20, 21, 22, 23), "batch_index": int64(1), "length": int64(2)})
	check(t, "LatentFromBatch middle", got, shape(2, 1, 1, 1), []float32{1, 2})
	if !slices.Equal(got.NoiseMask.Data, []float32{11, 10}) || !slices.Equal(got.BatchIndex, []int{21, 22}) {
		t.Errorf("LatentFromBatch mask %v index %v", got.NoiseMask.Data, got.BatchIndex)
	}
	// A mask of batch 1 is kept as is.
	got = mustRun(t, latentnode.LatentFromBatch, map[string]any{"samples": withMask(four, 9), "batch_index": int64(2), "length": int64(1)})
	if !slices.Equal(got.NoiseMask.Data, []float32{9}) {
		t.Errorf("LatentFromBatch single mask %v", got.NoiseMask.Data)
	}

	// Tiled 3 times; batch_index [5 7] spans 3, so copies add 3 and 6.
	two := lat(shape(2, 1, 1, 1), 1, 2)
	got = mustRun(t, latentnode.RepeatLatentBatch, map[string]any{"samples": withIndex(withMask(two, 8), 5, 7), "amount": int64(3)})
	check(t, "RepeatLatentBatch", got, shape(6, 1, 1, 1), []float32{1, 2, 1, 2, 1, 2})
	if !slices.Equal(got.BatchIndex, []int{5, 7, 8, 10, 11, 13}) || got.NoiseMask.Shape[0] != 1 {
		t.Errorf("RepeatLatentBatch index %v mask %v", got.BatchIndex, got.NoiseMask.Shape)
	}
	got = mustRun(t, latentnode.RepeatLatentBatch, map[string]any{"samples": withMask(two, 8, 9), "amount": int64(2)})
	if !slices.Equal(got.NoiseMask.Data, []float32{8, 9, 8, 9}) || got.BatchIndex != nil {
		t.Errorf("RepeatLatentBatch mask %v index %v", got.NoiseMask.Data, got.BatchIndex)
	}

	// Batch indices default to 0…B−1 on each side.
	got = mustRun(t, latentnode.LatentBatch, map[string]any{"samples1": lat(shape(1, 1, 1, 1), 1), "samples2": lat(shape(2, 1, 1, 1), 2, 3)})
	check(t, "LatentBatch", got, shape(3, 1, 1, 1), []float32{1, 2, 3})
	if !slices.Equal(got.BatchIndex, []int{0, 0, 1}) {
		t.Errorf("LatentBatch index %v", got.BatchIndex)
	}

	for _, tc := range []struct {
		in       *tensor.Latent
		behavior string
		want     []int
	}{
		{lat(shape(3, 1, 1, 1)), "fixed", []int{0, 0, 0}},
		{withIndex(lat(shape(3, 1, 1, 1)), 4, 5, 6), "fixed", []int{4, 4, 4}},
		{withIndex(lat(shape(3, 1, 1, 1)), 4, 5, 6), "random", nil},
	} {
		got := mustRun(t, latentnode.LatentBatchSeedBehavior, map[string]any{"samples": tc.in, "seed_behavior": tc.behavior})
		if !slices.Equal(got.BatchIndex, tc.want) {
			t.Errorf("LatentBatchSeedBehavior %s: %v", tc.behavior, got.BatchIndex)
		}
	}

	got = mustRun(t, latentnode.SetLatentNoiseMask, map[string]any{"samples": two, "mask": &tensor.Mask{B: 2, H: 3, W: 4, Pix: make([]float32, 24)}})
	if !slices.Equal(got.NoiseMask.Shape, []int{2, 1, 3, 4}) {
		t.Errorf("SetLatentNoiseMask shape %v", got.NoiseMask.Shape)
	}
}

func TestLatentComposite(t *testing.T) {
	t.Parallel()
	ones := lat(shape(1, 1, 2, 2), 1, 1, 1, 1)
	cases := []struct {
		name          string
		to            *tensor.Latent
		x, y, feather int64
		want          []float32
	}{
		// (8, 8) px is latent (1, 1); the 2×2 source is cut to 2×2 at most.
		{"paste", lat(shape(1, 1, 3, 3)), 8, 8, 0, []float32{0, 0, 0, 0, 1, 1, 0, 1, 1}},
		// feather 16 → 2 on a 4×4 destination from (1, 1): every side but
		// none at the border ramps, t=0 multiplies rows/cols 0 and 1 by ½
		// (top, bottom, left, right), t=1 by 1 (the bottom and right ramps
		// wrap to index 0, Python slicing): every weight is ¼.
		{"feather", lat(shape(1, 1, 4, 4)), 8, 8, 16, []float32{0, 0, 0, 0, 0, 0.25, 0.25, 0, 0, 0.25, 0.25, 0, 0, 0, 0, 0}},
		// x = 32 → 4 is past a 3-wide destination: samples_from[..., :−1]
		// is 1 column, which broadcasts into the empty region (torch
		// accepts it): nothing changes.
		{"outside", lat(shape(1, 1, 3, 3)), 32, 0, 0, make([]float32, 9)},
	}
	for _, tc := range cases {
		got := mustRun(t, latentnode.LatentComposite, map[string]any{"samples_to": tc.to, "samples_from": ones,
			"x": tc.x, "y": tc.y, "feather": tc.feather})
		check(t, tc.name, got, tc.to.Samples.Shape, tc.want)
	}
}

func TestReplaceVideoLatentFrames(t *testing.T) {
	t.Parallel()
	dest := lat(shape(1, 1, 4, 1, 1))
	src := lat(shape(1, 1, 2, 1, 1), 1, 1)
	// index −2 → 2: frames 2 and 3.
	got := mustRun(t, latentnode.ReplaceVideoLatentFrames, map[string]any{"destination": dest, "source": src, "index": int64(-2)})
	check(t, "replace", got, shape(1, 1, 4, 1, 1), []float32{0, 0, 1, 1})
	// 3 + 2 frames do not fit in 4: unchanged (ComfyUI logs a warning).
	if got := mustRun(t, latentnode.ReplaceVideoLatentFrames, map[string]any{"destination": dest, "source": src, "index": int64(3)}); got != dest {
		t.Errorf("overflowing source should leave the destination")
	}
	if got := mustRun(t, latentnode.ReplaceVideoLatentFrames, map[string]any{"destination": dest, "index": int64(0)}); got != dest {
		t.Errorf("no source should leave the destination")
	}
}

func TestMissingLatentIsAnError(t *testing.T) {
	t.Parallel()
	if _, err := run(latentnode.LatentFlip, map[string]any{"flip_method": "x-axis: vertically"}); err == nil {
		t.Error("no error without samples")
	}
}
