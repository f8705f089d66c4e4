package resample

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"runtime"
	"testing"
)

// goldenCase is one case of testdata/golden.json, the output of ComfyUI's
// own common_upscale (see testdata/gen.py).
type goldenCase struct {
	Name          string
	Shape         [4]int // N, C, H, W
	Layout        string
	Method        Method
	Width, Height int
	Crop          bool
	Tol           float64
	Input, Want   []float32
}

func loadGolden(t *testing.T) []goldenCase {
	t.Helper()
	data, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct{ Cases []goldenCase }
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	return g.Cases
}

func TestScaleMatchesComfyUI(t *testing.T) {
	for _, c := range loadGolden(t) {
		t.Run(c.Name, func(t *testing.T) {
			s := Shape{N: c.Shape[0], C: c.Shape[1], H: c.Shape[2], W: c.Shape[3]}
			if c.Layout == "NCHW" {
				s.Layout = NCHW
			}
			got, err := Scale(c.Input, s, c.Width, c.Height, c.Method, c.Crop)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.Want) {
				t.Fatalf("got %d values, want %d", len(got), len(c.Want))
			}
			worst, at := 0.0, 0
			for i := range got {
				if d := math.Abs(float64(got[i]) - float64(c.Want[i])); d > worst || math.IsNaN(d) {
					worst, at = d, i
				}
			}
			if worst > c.Tol {
				t.Errorf("max |diff| %g at %d (got %v, want %v), tolerance %g", worst, at, got[at], c.Want[at], c.Tol)
			}
		})
	}
}

// The parallel split must not change any value.
func TestScaleSameOnOneCore(t *testing.T) {
	src := make([]float32, 2*3*61*37)
	for i := range src {
		src[i] = float32(i%251) / 250
	}
	s := Shape{N: 2, C: 3, H: 61, W: 37}
	for _, m := range []Method{NearestExact, Bilinear, Area, Bicubic, Lanczos, Bislerp} {
		many, err := Scale(src, s, 90, 150, m, false)
		if err != nil {
			t.Fatal(err)
		}
		prev := runtime.GOMAXPROCS(1)
		one, err := Scale(src, s, 90, 150, m, false)
		runtime.GOMAXPROCS(prev)
		if err != nil {
			t.Fatal(err)
		}
		for i := range one {
			if one[i] != many[i] {
				t.Fatalf("%s: value %d differs: %v on one core, %v on %d", m, i, one[i], many[i], prev)
			}
		}
	}
}

func TestScaleErrors(t *testing.T) {
	ok := make([]float32, 1*3*4*4)
	s := Shape{N: 1, C: 3, H: 4, W: 4}
	cases := []struct {
		name          string
		src           []float32
		shape         Shape
		width, height int
		method        Method
		crop          bool
		want          string
	}{
		{"zero width", ok, s, 0, 4, Bilinear, false,
			"Input and output sizes should be greater than 0, but got input (H: 4, W: 4) output (H: 4, W: 0)"},
		{"zero height lanczos", ok, s, 4, 0, Lanczos, false, "height and width must be > 0"},
		{"short data", ok[:5], s, 4, 4, Area, false, ""},
		{"unknown method", ok, s, 4, 4, "cubic", false, ""},
		{"crop to nothing", make([]float32, 3*100), Shape{N: 1, C: 3, H: 100, W: 1}, 100, 1, Area, true, ""},
		{"five channels lanczos", make([]float32, 5*4), Shape{N: 1, C: 5, H: 2, W: 2}, 3, 3, Lanczos, false,
			"Cannot handle this data type: (1, 1, 5), |u1"},
	}
	for _, c := range cases {
		_, err := Scale(c.src, c.shape, c.width, c.height, c.method, c.crop)
		if err == nil {
			t.Errorf("%s: no error", c.name)
		} else if c.want != "" && err.Error() != c.want {
			t.Errorf("%s: error %q, want %q", c.name, err, c.want)
		}
	}
}

func TestCenterCrop(t *testing.T) {
	cases := []struct{ w, h, width, height, x, y int }{
		{15, 6, 7, 7, 4, 0}, // (15 - 6)/2 = 4.5 rounds half to even
		{6, 15, 9, 5, 0, 6}, // 15 - 15·(0.4/1.8) = 11.67 → 5.83 → 6
		{512, 512, 512, 512, 0, 0},
		{1, 100, 100, 1, 0, 50}, // nothing left
	}
	for _, c := range cases {
		if x, y := CenterCrop(c.w, c.h, c.width, c.height); x != c.x || y != c.y {
			t.Errorf("CenterCrop(%d, %d, %d, %d) = %d, %d, want %d, %d", c.w, c.h, c.width, c.height, x, y, c.x, c.y)
		}
	}
}

func TestParallelCoversRange(t *testing.T) {
	for _, n := range []int{0, 1, 7, 1000} {
		seen := make([]int, n)
		Parallel(n, 1<<20, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				seen[i]++
			}
		})
		for i, k := range seen {
			if k != 1 {
				t.Fatalf("n=%d: item %d visited %d times", n, i, k)
			}
		}
	}
}

func benchImage(n, c, h, w int) ([]float32, Shape) {
	src := make([]float32, n*c*h*w)
	for i := range src {
		src[i] = float32((i*7919)%1000) / 1000
	}
	return src, Shape{N: n, C: c, H: h, W: w}
}

func BenchmarkScale1024To2048(b *testing.B) {
	src, s := benchImage(1, 3, 1024, 1024)
	for _, m := range []Method{Lanczos, Bicubic, Bilinear, Area} {
		for _, procs := range []int{1, runtime.NumCPU()} {
			b.Run(fmt.Sprintf("%s/procs=%d", m, procs), func(b *testing.B) {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
				for b.Loop() {
					if _, err := Scale(src, s, 2048, 2048, m, false); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// Scale takes sizes from user prompts: any shape, size and method must give
// a result of the right length or an error, never a panic.
func FuzzScale(f *testing.F) {
	f.Add(uint8(1), uint8(3), uint8(5), uint8(7), uint8(13), uint8(11), uint8(0), false, false)
	f.Add(uint8(2), uint8(4), uint8(9), uint8(6), uint8(4), uint8(14), uint8(4), true, true)
	f.Add(uint8(1), uint8(1), uint8(1), uint8(1), uint8(0), uint8(3), uint8(5), false, true)
	f.Add(uint8(1), uint8(5), uint8(2), uint8(2), uint8(3), uint8(3), uint8(4), false, false)
	methods := []Method{NearestExact, Bilinear, Area, Bicubic, Lanczos, Bislerp, "x"}
	f.Fuzz(func(t *testing.T, n, c, h, w, width, height, method uint8, crop, planar bool) {
		s := Shape{N: int(n % 4), C: int(c%6) + 1, H: int(h % 40), W: int(w % 40)}
		if planar {
			s.Layout = NCHW
		}
		src := make([]float32, s.Len())
		for i := range src {
			src[i] = float32(i%7)/3 - 0.5
		}
		m := methods[int(method)%len(methods)]
		out, err := Scale(src, s, int(width%50), int(height%50), m, crop)
		if err == nil && len(out) != s.N*s.C*int(width%50)*int(height%50) {
			t.Fatalf("%d values for %+v → %dx%d", len(out), s, width%50, height%50)
		}
	})
}
