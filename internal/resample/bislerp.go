package resample

import "math"

// bislerp is comfy.utils.bislerp: a bilinear resize, along x and then along
// y, that blends the two source pixels of each output by spherical linear
// interpolation of their channel vectors, with their norms interpolated
// linearly. The sources and ratios are those of a bilinear resize of the
// index ramp, truncated to integers.
func bislerp(dst, src view) {
	nImg := src.n / src.group
	c := src.c * src.group
	w, h, outW, outH := src.w, src.h, dst.w, dst.h

	cx := bislerpCoords(w, outW)
	tmp := make([]float32, nImg*h*outW*c)
	Parallel(nImg*h, outW*c*8, func(lo, hi int) {
		b1, b2 := make([]float32, c), make([]float32, c)
		for r := lo; r < hi; r++ {
			i, y := r/h, r%h
			for o := range outW {
				src.loadPixel(b1, i, y, cx.first[o])
				src.loadPixel(b2, i, y, cx.second[o])
				slerp(tmp[(r*outW+o)*c:][:c], b1, b2, cx.ratio[o])
			}
		}
	})

	cy := bislerpCoords(h, outH)
	Parallel(nImg*outH, outW*c*8, func(lo, hi int) {
		out := make([]float32, c)
		for r := lo; r < hi; r++ {
			i, y := r/outH, r%outH
			row1 := tmp[(i*h+cy.first[y])*outW*c:]
			row2 := tmp[(i*h+cy.second[y])*outW*c:]
			for x := range outW {
				slerp(out, row1[x*c:x*c+c], row2[x*c:x*c+c], cy.ratio[y])
				dst.storePixel(out, i, y, x)
			}
		}
	})
}

// loadPixel copies the channels of pixel (x, y) of image i into out.
func (v view) loadPixel(out []float32, i, y, x int) {
	base := v.off + i*v.group*v.frame + y*v.row + x*v.c
	for j := range out {
		out[j] = v.pix[base+j*v.chStride]
	}
}

// storePixel sets the channels of pixel (x, y) of image i.
func (v view) storePixel(px []float32, i, y, x int) {
	base := v.off + i*v.group*v.frame + y*v.row + x*v.c
	for j, p := range px {
		v.pix[base+j*v.chStride] = p
	}
}

type slerpCoords struct {
	first, second []int
	ratio         []float32
}

// bislerpCoords is generate_bilinear_data: the ramp 0…in-1 and the ramp
// 1…in-1,in-1 resized bilinearly to out values.
func bislerpCoords(in, out int) slerpCoords {
	sc := slerpCoords{first: make([]int, out), second: make([]int, out), ratio: make([]float32, out)}
	t := taps{n: 1, index: make([]int, out), weight: make([]float32, out)}
	if in != out {
		t = bilinearTaps(in, out)
	} else {
		for o := range out {
			t.index[o], t.weight[o] = o, 1
		}
	}
	next := func(i int) float32 { return float32(min(i+1, in-1)) }
	for o := range out {
		var c1, c2 float32
		for k := range t.n {
			i, wt := t.index[o*t.n+k], t.weight[o*t.n+k]
			c1 += float32(float32(i) * wt)
			c2 += float32(next(i) * wt)
		}
		sc.first[o], sc.second[o] = int(c1), int(c2)
		sc.ratio[o] = c1 - float32(math.Floor(float64(c1)))
	}
	return sc
}

// slerp is bislerp's slerp for one pair of channel vectors.
func slerp(out, b1, b2 []float32, r float32) {
	n1, n2 := norm(b1), norm(b2)
	var dot float32
	for j := range b1 {
		dot += float32(unit(b1[j], n1) * unit(b2[j], n2))
	}
	switch {
	case dot > 1-1e-5:
		copy(out, b1)
	case dot < 1e-5-1:
		for j := range out {
			out[j] = float32(b1[j]*(1-r)) + float32(b2[j]*r)
		}
	default:
		omega := math.Acos(float64(dot))
		so := float32(math.Sin(omega))
		s1 := float32(math.Sin(float64((1-r)*float32(omega)))) / so
		s2 := float32(math.Sin(float64(r*float32(omega)))) / so
		scale := float32(n1*(1-r)) + float32(n2*r)
		for j := range out {
			out[j] = (float32(s1*unit(b1[j], n1)) + float32(s2*unit(b2[j], n2))) * scale
		}
	}
}

// unit is one coordinate of a vector divided by its norm, 0 for a zero vector.
func unit(v, norm float32) float32 {
	if norm == 0 {
		return 0
	}
	return v / norm
}

func norm(v []float32) float32 {
	var s float32
	for _, x := range v {
		s += float32(x * x)
	}
	return float32(math.Sqrt(float64(s)))
}
