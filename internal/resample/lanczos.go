package resample

import (
	"fmt"
	"math"
)

const (
	precisionBits  = 32 - 8 - 2
	lanczosSupport = 3.0
)

// lanczos is ComfyUI's "lanczos": each image converted to 8 bits with
// clip(255·x, 0, 255) truncated, resized with Pillow's
// Image.resize(size, LANCZOS) and divided by 255. The resize is Pillow's
// algorithm (libImaging/Resample.c and Convert.c, checked against Pillow
// 9.4), integer for integer:
//
//   - 1, 2, 3 or 4 channels are the modes L, LA, RGB and RGBA; LA and RGBA
//     are premultiplied by alpha before resizing and divided again after;
//   - a horizontal pass, then a vertical pass, each skipped when that size
//     does not change; an image whose size does not change is only
//     quantized (Pillow returns a copy before premultiplying);
//   - per pass, fixed-point coefficients with 22 fraction bits, rounded
//     accumulation and clipping to 0..255, so the intermediate image is
//     8-bit too.
//
// Single-channel images come back as [N,1,H,W] planes; ComfyUI's own
// lanczos() returns them as [N,H,W], which its image nodes then mis-permute
// ([quirk], not mirrored).
func lanczos(dst, src view) error {
	nImg := src.n / src.group
	c := src.c * src.group
	if c > 4 {
		return fmt.Errorf("Cannot handle this data type: (1, 1, %d), |u1", c)
	}
	w, h, outW, outH := src.w, src.h, dst.w, dst.h
	alpha := (c == 2 || c == 4) && (w != outW || h != outH)

	img := make([]uint8, nImg*h*w*c)
	Parallel(nImg*h, w*c, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := img[r*w*c : (r+1)*w*c]
			gather(row, src, r/h, r%h)
			if alpha {
				premultiply(row, c)
			}
		}
	})

	var ky coeffs
	if outH != h {
		ky = pilCoeffs(h, outH)
	}
	if outW != w {
		kx := pilCoeffs(w, outW)
		first, rows := 0, h
		if outH != h {
			// Only the rows the vertical pass reads are resampled.
			first = ky.bounds[0]
			rows = ky.bounds[2*outH-2] + ky.bounds[2*outH-1] - first
			for o := range outH {
				ky.bounds[2*o] -= first
			}
		}
		next := make([]uint8, nImg*rows*outW*c)
		Parallel(nImg*rows, outW*c*kx.ksize, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				in := img[((r/rows)*h+first+r%rows)*w*c:][:w*c]
				kx.resampleRow(next[r*outW*c:(r+1)*outW*c], in, c)
			}
		})
		img, h = next, rows
	}
	if outH != src.h {
		stride := outW * c
		next := make([]uint8, nImg*outH*stride)
		Parallel(nImg*outH, stride*ky.ksize, func(lo, hi int) {
			acc := make([]int32, stride)
			for r := lo; r < hi; r++ {
				i := r / outH
				ky.resampleColumns(next[r*stride:(r+1)*stride], img[i*h*stride:(i+1)*h*stride], acc, r%outH)
			}
		})
		img = next
	}

	Parallel(nImg*outH, outW*c, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := img[r*outW*c : (r+1)*outW*c]
			if alpha {
				unpremultiply(row, c)
			}
			scatter(dst, row, r/outH, r%outH)
		}
	})
	return nil
}

// gather converts row y of image i to 8 bits, channels interleaved.
func gather(out []uint8, v view, i, y int) {
	c := v.c * v.group
	base := v.off + i*v.group*v.frame + y*v.row
	for x := range v.w {
		for ch := range c {
			out[x*c+ch] = toUint8(v.pix[base+x*v.c+ch*v.chStride])
		}
	}
}

// scatter writes an 8-bit row back as float32 values of image i, row y.
func scatter(v view, row []uint8, i, y int) {
	c := v.c * v.group
	base := v.off + i*v.group*v.frame + y*v.row
	for x := range v.w {
		for ch := range c {
			v.pix[base+x*v.c+ch*v.chStride] = fromUint8[row[x*c+ch]]
		}
	}
}

// fromUint8 is numpy's uint8 → float32 / 255.0.
var fromUint8 = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return t
}()

// toUint8 is numpy's clip(255.*x, 0, 255).astype(uint8) on float32 (NaN
// becomes 0).
func toUint8(x float32) uint8 {
	v := 255 * x
	switch {
	case v >= 255:
		return 255
	case v > 0:
		return uint8(v)
	}
	return 0
}

// muldiv255 is Pillow's MULDIV255: a·b/255 rounded, in integers.
func muldiv255(a, b uint8) uint8 {
	t := uint32(a)*uint32(b) + 128
	return uint8(((t >> 8) + t) >> 8)
}

// premultiply is Pillow's RGBA→RGBa (and LA→La) conversion.
func premultiply(row []uint8, c int) {
	for i := 0; i < len(row); i += c {
		a := row[i+c-1]
		for ch := range c - 1 {
			row[i+ch] = muldiv255(row[i+ch], a)
		}
	}
}

// unpremultiply is Pillow's RGBa→RGBA (and La→LA) conversion: truncating
// division, colors kept where alpha is 0 or 255.
func unpremultiply(row []uint8, c int) {
	for i := 0; i < len(row); i += c {
		a := uint32(row[i+c-1])
		if a == 0 || a == 255 {
			continue
		}
		for ch := range c - 1 {
			row[i+ch] = uint8(min(255*uint32(row[i+ch])/a, 255))
		}
	}
}

// coeffs are Pillow's precomputed filter coefficients for one axis: output
// position o reads bounds[2o+1] inputs from bounds[2o] on, with weights
// k[o·ksize:].
type coeffs struct {
	ksize  int
	bounds []int
	k      []int32
}

// pilCoeffs is Pillow's precompute_coeffs followed by
// normalize_coeffs_8bpc, for the LANCZOS filter and the box (0, in).
func pilCoeffs(in, out int) coeffs {
	scale := float64(float32(in)) / float64(out)
	filterscale := max(scale, 1)
	support := lanczosSupport * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	cf := coeffs{ksize: ksize, bounds: make([]int, 2*out), k: make([]int32, out*ksize)}
	w := make([]float64, ksize)
	for o := range out {
		center := (float64(o) + 0.5) * scale
		ss := 1 / filterscale
		xmin := max(int(center-support+0.5), 0)
		xmax := min(int(center+support+0.5), in) - xmin
		var sum float64
		for x := range xmax {
			w[x] = lanczosFilter((float64(x+xmin) - center + 0.5) * ss)
			sum += w[x]
		}
		for x := range xmax {
			if sum != 0 {
				w[x] /= sum
			}
			cf.k[o*ksize+x] = fixed(w[x])
		}
		cf.bounds[2*o], cf.bounds[2*o+1] = xmin, xmax
	}
	return cf
}

func fixed(w float64) int32 {
	if w < 0 {
		return int32(-0.5 + w*(1<<precisionBits))
	}
	return int32(0.5 + w*(1<<precisionBits))
}

func lanczosFilter(x float64) float64 {
	if -lanczosSupport <= x && x < lanczosSupport {
		return sinc(x) * sinc(x/lanczosSupport)
	}
	return 0
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	x *= math.Pi
	return math.Sin(x) / x
}

// clip8 turns an accumulator into a byte, as Pillow's clip8 lookup does.
func clip8(v int32) uint8 {
	return uint8(min(max(v>>precisionBits, 0), 255))
}

// resampleRow resamples one row of pixels of c channels along x.
func (cf coeffs) resampleRow(out, in []uint8, c int) {
	for o := range len(out) / c {
		xmin, n := cf.bounds[2*o], cf.bounds[2*o+1]
		k := cf.k[o*cf.ksize : o*cf.ksize+n]
		for ch := range c {
			acc := int32(1 << (precisionBits - 1))
			for x, kx := range k {
				acc += int32(in[(xmin+x)*c+ch]) * kx
			}
			out[o*c+ch] = clip8(acc)
		}
	}
}

// resampleColumns computes row y of a vertical pass over img, whose rows
// are len(out) bytes long; acc is scratch space of the same length. Integer
// sums do not depend on their order, so the taps are applied row by row.
func (cf coeffs) resampleColumns(out, img []uint8, acc []int32, y int) {
	stride := len(out)
	ymin, n := cf.bounds[2*y], cf.bounds[2*y+1]
	for i := range acc {
		acc[i] = 1 << (precisionBits - 1)
	}
	for j, ky := range cf.k[y*cf.ksize : y*cf.ksize+n] {
		for i, v := range img[(ymin+j)*stride : (ymin+j+1)*stride] {
			acc[i] += int32(v) * ky
		}
	}
	for i, a := range acc {
		out[i] = clip8(a)
	}
}
