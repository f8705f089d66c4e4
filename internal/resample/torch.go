package resample

import "math"

// The torch methods are computed in float32 in torch's order of operations.
// Products are converted to float32 explicitly before they are summed: the Go
// spec lets a compiler fuse x*y+z into one rounding otherwise.

// torchScale is torch's area_pixel_compute_scale without align_corners: the
// ratio in/out rounded to float32.
func torchScale(in, out int) float32 { return float32(in) / float32(out) }

// sourceIndex is torch's area_pixel_compute_source_index: the source
// coordinate of the center of output pixel o, evaluated in double (the
// expression mixes a float scale with dst_index + 0.5) and stored as float.
func sourceIndex(scale float32, o int) float32 {
	return float32(float64(scale)*(float64(o)+0.5) - 0.5)
}

// nearestIndex is torch's nearest_neighbor_exact_compute_source_index.
func nearestIndex(scale float32, o, in int) int {
	return min(int(math.Floor(float64((float32(o)+0.5)*scale))), in-1)
}

func nearest(dst, src view) {
	xs := make([]int, dst.w)
	scale := torchScale(src.w, dst.w)
	for o := range xs {
		xs[o] = nearestIndex(scale, o, src.w) * src.c
	}
	scaleY := torchScale(src.h, dst.h)
	c := src.c
	Parallel(dst.n*dst.h, dst.w*c, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			f, y := r/dst.h, r%dst.h
			in := src.rowAt(f, nearestIndex(scaleY, y, src.h))
			out := dst.rowAt(f, y)
			for o, x := range xs {
				copy(out[o*c:o*c+c], in[x:x+c])
			}
		}
	})
}

// taps holds, for each output position along one axis, the source positions
// and weights that make it: out[o] = Σ_k weight[o·n+k] · in[index[o·n+k]].
type taps struct {
	n      int
	index  []int
	weight []float32
}

type tapsFunc func(in, out int) taps

// bilinearTaps follows torch's compute_source_index_and_lambda.
func bilinearTaps(in, out int) taps {
	t := taps{n: 2, index: make([]int, 2*out), weight: make([]float32, 2*out)}
	scale := torchScale(in, out)
	for o := range out {
		r := max(sourceIndex(scale, o), 0)
		i0 := min(int(math.Floor(float64(r))), in-1)
		l1 := min(max(r-float32(i0), 0), 1)
		i1 := i0
		if i0 < in-1 {
			i1++
		}
		t.index[2*o], t.index[2*o+1] = i0, i1
		t.weight[2*o], t.weight[2*o+1] = 1-l1, l1
	}
	return t
}

// bicubicTaps follows torch's HelperInterpCubic: Keys' cubic convolution
// with A = -0.75 over four taps clamped to the border.
func bicubicTaps(in, out int) taps {
	t := taps{n: 4, index: make([]int, 4*out), weight: make([]float32, 4*out)}
	scale := torchScale(in, out)
	for o := range out {
		r := sourceIndex(scale, o)
		i := min(int(math.Floor(float64(r))), in-1)
		w := cubicWeights(min(max(r-float32(i), 0), 1))
		for k := range 4 {
			t.index[4*o+k] = min(max(i-1+k, 0), in-1)
			t.weight[4*o+k] = w[k]
		}
	}
	return t
}

// cubicWeights is torch's get_cubic_upsample_coefficients in float32.
func cubicWeights(t float32) [4]float32 {
	const a float32 = -0.75
	near := func(x float32) float32 { return float32(float32(float32(float32((a+2)*x)-(a+3))*x)*x) + 1 }
	far := func(x float32) float32 { return float32(float32(float32(float32(float32(a*x)-5*a)*x)+8*a)*x) - 4*a }
	x2 := 1 - t
	return [4]float32{far(t + 1), near(t), near(x2), far(x2 + 1)}
}

// separable resizes along x, then along y, as torch's generic interpolation
// does: each output is Σ_j wy_j·(Σ_i wx_i·x), the inner sums being shared
// between the outputs of a row. An axis whose size does not change is left
// alone, which is what its identity weights would give.
func separable(dst, src view, tf tapsFunc) {
	cur := src
	if src.w != dst.w {
		next := dst
		if src.h != dst.h {
			next = dense(src.n, src.h, dst.w, src.c)
		}
		horizontal(next, cur, tf(src.w, dst.w))
		cur = next
	}
	switch {
	case src.h != dst.h:
		vertical(dst, cur, tf(src.h, dst.h))
	case src.w == dst.w:
		copyView(dst, src)
	}
}

func horizontal(dst, src view, t taps) {
	c := src.c
	Parallel(src.n*src.h, dst.w*c*t.n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			f, y := r/src.h, r%src.h
			in, out := src.rowAt(f, y), dst.rowAt(f, y)
			for o := range dst.w {
				idx, wt := t.index[o*t.n:o*t.n+t.n], t.weight[o*t.n:o*t.n+t.n]
				for ch := range c {
					acc := in[idx[0]*c+ch] * wt[0]
					for k := 1; k < t.n; k++ {
						acc += float32(in[idx[k]*c+ch] * wt[k])
					}
					out[o*c+ch] = acc
				}
			}
		}
	})
}

func vertical(dst, src view, t taps) {
	Parallel(dst.n*dst.h, dst.w*dst.c*t.n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			f, y := r/dst.h, r%dst.h
			out := dst.rowAt(f, y)
			in, w := src.rowAt(f, t.index[y*t.n]), t.weight[y*t.n]
			for i, v := range in {
				out[i] = v * w
			}
			for k := 1; k < t.n; k++ {
				in, w := src.rowAt(f, t.index[y*t.n+k]), t.weight[y*t.n+k]
				for i, v := range in {
					out[i] += float32(v * w)
				}
			}
		}
	})
}

func copyView(dst, src view) {
	Parallel(dst.n*dst.h, dst.w*dst.c, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			copy(dst.rowAt(r/dst.h, r%dst.h), src.rowAt(r/dst.h, r%dst.h))
		}
	})
}

// area is adaptive_avg_pool2d: output pixel o covers input pixels
// [⌊o·in/out⌋, ⌈(o+1)·in/out⌉) on each axis; their float32 sum, row by row,
// is divided by the bin height and then by its width.
func area(dst, src view) {
	x0, x1 := areaBins(src.w, dst.w)
	y0, y1 := areaBins(src.h, dst.h)
	c := src.c
	Parallel(dst.n*dst.h, dst.w*c*max(1, src.w*src.h/(dst.w*dst.h)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			f, y := r/dst.h, r%dst.h
			out := dst.rowAt(f, y)
			kh := float32(y1[y] - y0[y])
			for o := range dst.w {
				kw := float32(x1[o] - x0[o])
				for ch := range c {
					var sum float32
					for iy := y0[y]; iy < y1[y]; iy++ {
						in := src.rowAt(f, iy)
						for ix := x0[o]; ix < x1[o]; ix++ {
							sum += in[ix*c+ch]
						}
					}
					out[o*c+ch] = sum / kh / kw
				}
			}
		}
	})
}

func areaBins(in, out int) (start, end []int) {
	start, end = make([]int, out), make([]int, out)
	for o := range out {
		start[o] = o * in / out
		end[o] = ((o+1)*in + out - 1) / out
	}
	return start, end
}
