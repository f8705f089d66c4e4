package comfyutil

import (
	"math"
	"slices"
	"testing"

	"github.com/gocomfy/gocomfy/tensor"
)

func near(a, b []float32, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > tol {
			return false
		}
	}
	return true
}

// Expected values are torch.nn.functional.interpolate's (align_corners=False,
// no antialias) worked out by hand from torch's kernels:
//   - bilinear: src = max((o+0.5)·in/out − 0.5, 0), lerp of floor(src) and
//     the next index (clamped at the edge);
//   - bicubic: src = (o+0.5)·in/out − 0.5, A = −0.75; for [0,1] → 4 the
//     weights of the taps give −0.10546875, 0.2265625, 0.7734375, 1.10546875
//     (torch prints tensor([-0.1055, 0.2266, 0.7734, 1.1055]));
//   - nearest-exact: floor((o+0.5)·in/out) in float32;
//   - area: the mean of [floor(o·in/out), ceil((o+1)·in/out)).
func TestUpscale(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		in           *tensor.Tensor
		w, h         int
		method, crop string
		wantShape    []int
		want         []float32
	}{
		{"bilinear 2x2→4x4", &tensor.Tensor{Shape: []int{1, 1, 2, 2}, Data: []float32{0, 1, 2, 3}}, 4, 4, Bilinear, "disabled",
			[]int{1, 1, 4, 4}, []float32{0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3}},
		// src = 0.5 and 2.5: no antialiasing, so only two samples count.
		{"bilinear 4→2", &tensor.Tensor{Shape: []int{1, 1, 1, 4}, Data: []float32{0, 1, 2, 3}}, 2, 1, Bilinear, "disabled",
			[]int{1, 1, 1, 2}, []float32{0.5, 2.5}},
		{"bicubic 2→4", &tensor.Tensor{Shape: []int{1, 1, 1, 2}, Data: []float32{0, 1}}, 4, 1, Bicubic, "disabled",
			[]int{1, 1, 1, 4}, []float32{-0.10546875, 0.2265625, 0.7734375, 1.10546875}},
		// floor(0.75)=0, floor(2.25)=2.
		{"nearest-exact 3→2", &tensor.Tensor{Shape: []int{1, 1, 1, 3}, Data: []float32{5, 6, 7}}, 2, 1, NearestExact, "disabled",
			[]int{1, 1, 1, 2}, []float32{5, 7}},
		// (o+0.5)·0.4 = 0.2, 0.6, 1.0, 1.4, 1.8 (1.0 in float32 too).
		{"nearest-exact 2→5", &tensor.Tensor{Shape: []int{1, 1, 1, 2}, Data: []float32{5, 6}}, 5, 1, NearestExact, "disabled",
			[]int{1, 1, 1, 5}, []float32{5, 5, 6, 6, 6}},
		// Bins [0,2) and [1,3).
		{"area 3→2", &tensor.Tensor{Shape: []int{1, 1, 1, 3}, Data: []float32{0, 1, 2}}, 2, 1, Area, "disabled",
			[]int{1, 1, 1, 2}, []float32{0.5, 1.5}},
		// 2x2 → 1x1 averages all four.
		{"area 2x2→1x1", &tensor.Tensor{Shape: []int{1, 1, 2, 2}, Data: []float32{0, 1, 2, 5}}, 1, 1, Area, "disabled",
			[]int{1, 1, 1, 1}, []float32{2}},
		// Aspect 4/2 > 1/1: x = round((4 − 4·(1/2))/2) = 1 column cut from
		// each side, then an identity resize.
		{"center crop", &tensor.Tensor{Shape: []int{1, 1, 2, 4}, Data: []float32{0, 1, 2, 3, 4, 5, 6, 7}}, 2, 2, Bilinear, "center",
			[]int{1, 1, 2, 2}, []float32{1, 2, 5, 6}},
		// Planes (channels, batch items, video frames) are resized alike.
		{"5-D planes", &tensor.Tensor{Shape: []int{2, 1, 2, 1, 1}, Data: []float32{1, 2, 3, 4}}, 2, 1, NearestExact, "disabled",
			[]int{2, 1, 2, 1, 2}, []float32{1, 1, 2, 2, 3, 3, 4, 4}},
		// Masks are rank 3.
		{"mask 1x1→2x2", &tensor.Tensor{Shape: []int{1, 1, 1}, Data: []float32{0.5}}, 2, 2, Bilinear, "disabled",
			[]int{1, 2, 2}, []float32{0.5, 0.5, 0.5, 0.5}},
		// bislerp of unit vectors (1,0) and (0,1) along W, 2 → 4: ratios
		// 0, .25, .75 and the edge; slerp at .25 is (cos π/8, sin π/8).
		{"bislerp", &tensor.Tensor{Shape: []int{1, 2, 1, 2}, Data: []float32{1, 0, 0, 1}}, 4, 1, Bislerp, "disabled",
			[]int{1, 2, 1, 4}, []float32{1, 0.9238795, 0.38268343, 0, 0, 0.38268343, 0.9238795, 1}},
		// A video latent [N,C,T,H,W] is bislerped frame by frame, each
		// frame's pixels being C-vectors: frame 0 goes (1,0)→(0,1), frame 1
		// (0,1)→(1,0).
		{"bislerp video", &tensor.Tensor{Shape: []int{1, 2, 2, 1, 2}, Data: []float32{1, 0, 0, 1, 0, 1, 1, 0}}, 4, 1, Bislerp, "disabled",
			[]int{1, 2, 2, 1, 4}, []float32{
				1, 0.9238795, 0.38268343, 0, 0, 0.38268343, 0.9238795, 1,
				0, 0.38268343, 0.9238795, 1, 1, 0.9238795, 0.38268343, 0}},
	}
	for _, tc := range cases {
		got, err := Upscale(tc.in, tc.w, tc.h, tc.method, tc.crop)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !slices.Equal(got.Shape, tc.wantShape) || !near(got.Data, tc.want, 1e-6) {
			t.Errorf("%s: got %v %v, want %v %v", tc.name, got.Shape, got.Data, tc.wantShape, tc.want)
		}
	}
}

func TestUpscaleErrors(t *testing.T) {
	t.Parallel()
	img := &tensor.Tensor{Shape: []int{1, 1, 2, 2}, Data: make([]float32, 4)}
	for _, tc := range []struct {
		name   string
		in     *tensor.Tensor
		w, h   int
		method string
	}{
		{"zero width", img, 0, 2, Bilinear},
		{"unknown method", img, 2, 2, "cubic"},
		{"bislerp without channels", &tensor.Tensor{Shape: []int{1, 2, 2}, Data: make([]float32, 4)}, 2, 2, Bislerp},
		{"rank 2", &tensor.Tensor{Shape: []int{2, 2}, Data: make([]float32, 4)}, 2, 2, Bilinear},
		{"too large", img, 1 << 20, 1 << 20, Bilinear},
	} {
		if _, err := Upscale(tc.in, tc.w, tc.h, tc.method, "disabled"); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// repeat_to_batch_size: the first n items, or the batch tiled and cut.
func TestRepeatToBatch(t *testing.T) {
	t.Parallel()
	in := &tensor.Tensor{Shape: []int{2, 1}, Data: []float32{1, 2}}
	for _, tc := range []struct {
		n    int
		want []float32
	}{{1, []float32{1}}, {2, []float32{1, 2}}, {5, []float32{1, 2, 1, 2, 1}}} {
		got := RepeatToBatch(in, tc.n)
		if got.Shape[0] != tc.n || !slices.Equal(got.Data, tc.want) {
			t.Errorf("n=%d: got %v", tc.n, got.Data)
		}
	}
}

// Python: "abcde"[1:3], [-2:], [3:1], [-9:2], [2:99], [-2:0].
func TestPySliceAndFloorDiv(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ start, stop, lo, hi int }{
		{1, 3, 1, 3}, {-2, 5, 3, 5}, {3, 1, 3, 3}, {-9, 2, 0, 2}, {2, 99, 2, 5}, {-2, 0, 3, 3},
	} {
		if lo, hi := PySlice(tc.start, tc.stop, 5); lo != tc.lo || hi != tc.hi {
			t.Errorf("[%d:%d] = %d,%d", tc.start, tc.stop, lo, hi)
		}
	}
	for _, tc := range []struct{ a, b, q int }{{7, 8, 0}, {-1, 8, -1}, {-8, 8, -1}, {-9, 8, -2}, {16, 8, 2}} {
		if q := FloorDiv(tc.a, tc.b); q != tc.q {
			t.Errorf("%d // %d = %d, want %d", tc.a, tc.b, q, tc.q)
		}
	}
}

func TestParallelCoversRange(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 7, 100000} {
		seen := make([]int, n)
		Parallel(n, 1, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				seen[i]++
			}
		})
		for i, s := range seen {
			if s != 1 {
				t.Fatalf("n=%d: index %d visited %d times", n, i, s)
			}
		}
	}
}

func BenchmarkUpscaleBilinear(b *testing.B) {
	in := tensor.New(1, 4, 128, 128)
	for i := range in.Data {
		in.Data[i] = float32(i % 7)
	}
	for b.Loop() {
		if _, err := Upscale(in, 192, 192, Bilinear, "disabled"); err != nil {
			b.Fatal(err)
		}
	}
}
