package imagenode

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/tensor"
)

var colorTransfer = node.New(node.Info{ID: "ColorTransfer", DisplayName: "Transfer Color", Category: "image/filters",
	Description: "Match the colors of one image to another using various algorithms.",
	Module:      modPostProcessing, Format: node.V3,
	SearchAliases: []string{"color match", "color grading", "color correction", "match colors", "color transform",
		"mkl", "reinhard", "histogram"}},
	func(s *node.Schema) node.RunFunc {
		target := node.Socket(s, node.Image, "image_target").Tooltip("Image(s) to apply the color transform to.")
		ref := node.Socket(s, node.Image, "image_ref").Tooltip("Reference image(s) to match colors to.")
		method := s.Combo("method", "reinhard_lab", "mkl_lab", "histogram")
		stats := s.DynamicCombo("source_stats",
			node.Choice("per_frame", func(*node.Schema) {}),
			node.Choice("uniform", func(*node.Schema) {}),
			node.Choice("target_frame", func(t *node.Schema) {
				t.Int("target_index").Default(0).Min(0).Max(10000).
					Tooltip("Frame index used as the source baseline for computing the transform to image_ref")
			}),
		).Tooltip("per_frame: each frame matched to image_ref individually. uniform: pool stats across all source frames as baseline, match to image_ref. target_frame: use one chosen frame as the baseline for the transform to image_ref, applied uniformly to all frames (preserves relative differences)")
		strength := s.Float("strength").Default(1).Min(0).Max(10).Step(0.01)
		out := node.Output(s, node.Image, "image")
		return func(ctx context.Context, c *node.Call) error {
			img, err := getImage(c, target.In)
			if err != nil {
				return err
			}
			r, err := getImage(c, ref.In)
			if err != nil {
				return err
			}
			mode, opts := stats.Get(c)
			ti := 0
			if v, ok := opts["target_index"].(int64); ok {
				ti = int(v)
			}
			f := float32(strength.Get(c))
			if f == 0 {
				out.Set(c, img)
				return nil
			}
			ct := colorJob{img: img, ref: r, mode: mode, target: min(ti, img.B-1), strength: f}
			var res *tensor.Image
			if method.Get(c) == "histogram" {
				res, err = ct.histogram()
			} else {
				res, err = ct.lab(method.Get(c) == "reinhard_lab")
			}
			if err != nil {
				return err
			}
			out.Set(c, res)
			return nil
		}
	})

// colorJob is one ColorTransfer run. ComfyUI's arithmetic is float32 torch;
// here the per-pixel steps repeat it in float32 and kornia's order, while
// means, variances and covariances are summed in float64 (torch's reductions
// sum in blocks, so both are within rounding of the exact sum) and the 3×3
// symmetric eigenproblems of mkl_lab are solved by Jacobi rotations in
// float64 rather than LAPACK's float32 ssyevd. Outputs can therefore differ
// from ComfyUI's by up to a few 1e-6 (reinhard) or 1e-5 (mkl).
type colorJob struct {
	img, ref *tensor.Image
	mode     string // per_frame, uniform or target_frame
	target   int    // the target_frame index, clamped to the batch
	strength float32
}

// lerp is torch.lerp for float32, as its vectorized CPU kernel computes it:
// with fused multiply-adds.
func lerp(a, b, w float32) float32 {
	d := b - a
	if w < 0.5 && w > -0.5 {
		return float32(math.FMA(float64(w), float64(d), float64(a)))
	}
	return float32(math.FMA(float64(w-1), float64(d), float64(b)))
}

// histogram is the histogram method: each channel's 256-bin CDF mapped onto
// the reference's by searchsorted.
// A reference with another number of channels is an error here; in ComfyUI
// it fails (more channels) or gives NaN rows (fewer).
func (j colorJob) histogram() (*tensor.Image, error) {
	img, ref := j.img, j.ref
	if ref.C != img.C {
		return nil, fmt.Errorf("image_ref has %d channels, image_target %d", ref.C, img.C)
	}
	res, err := newImage(img.B, img.H, img.W, img.C)
	if err != nil {
		return nil, err
	}
	var uniform []float32
	if j.mode != "per_frame" {
		src := img
		if j.mode == "target_frame" {
			src = frameOf(img, j.target)
		}
		uniform = histogramLUT(pooledCDF(src), pooledCDF(ref), img.C)
	}
	n := img.H * img.W * img.C
	for b := range img.B {
		lut := uniform
		if lut == nil {
			lut = histogramLUT(pooledCDF(frameOf(img, b)), pooledCDF(frameOf(ref, min(b, ref.B-1))), img.C)
		}
		src, dst := img.Pix[b*n:][:n], res.Pix[b*n:][:n]
		forEach(n, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				v := src[i]
				m := lut[(i%img.C)*256+bin256(v)]
				if j.strength != 1 {
					m = lerp(v, m, j.strength)
				}
				dst[i] = clamp01(m)
			}
		})
	}
	return res, nil
}

// frameOf is image i of a batch, sharing its pixels.
func frameOf(img *tensor.Image, i int) *tensor.Image {
	n := img.H * img.W * img.C
	return &tensor.Image{B: 1, H: img.H, W: img.W, C: img.C, Pix: img.Pix[i*n:][:n]}
}

// bin256 is (v*255).long().clamp(0, 255); NaN goes to bin 0.
func bin256(v float32) int {
	x := v * 255
	switch {
	case !(x > 0):
		return 0
	case x >= 255:
		return 255
	}
	return int(x)
}

// pooledCDF is the per-channel cumulative histogram of all frames of img,
// divided by its total, as float32 ([channel*256+bin]).
func pooledCDF(img *tensor.Image) []float32 {
	c := img.C
	counts := make([]float32, c*256)
	for i, v := range img.Pix {
		counts[(i%c)*256+bin256(v)]++
	}
	for ch := range c {
		row := counts[ch*256:][:256]
		for k := 1; k < 256; k++ {
			row[k] += row[k-1]
		}
		total := row[255]
		for k := range row {
			row[k] /= total
		}
	}
	return counts
}

// histogramLUT is searchsorted(ref, src) (leftmost index whose reference CDF
// is not below the source's), capped at 255, over 255.
func histogramLUT(src, ref []float32, c int) []float32 {
	lut := make([]float32, c*256)
	for ch := range c {
		r := ref[ch*256:][:256]
		for k, v := range src[ch*256:][:256] {
			i, _ := slices.BinarySearchFunc(r, v, func(e, t float32) int {
				if e < t {
					return -1
				}
				return 1
			})
			lut[ch*256+k] = float32(min(i, 255)) / 255
		}
	}
	return lut
}

// labStats are the statistics of Lab pixels: the mean of each channel and
// either its standard deviation (reinhard) or the 3×3 covariance (mkl).
type labStats struct {
	mean [3]float32
	sd   [3]float32
	cov  [3][3]float32
}

// lab is the reinhard_lab and mkl_lab methods: an affine map in kornia's
// CIE Lab from the target's statistics to the reference's.
func (j colorJob) lab(reinhard bool) (*tensor.Image, error) {
	img, ref := j.img, j.ref
	for _, x := range []*tensor.Image{img, ref} {
		if x.C != 3 {
			return nil, node.Raise("ValueError", "Input size must have a shape of (*, 3, H, W). Got torch.Size([1, %d, %d, %d])", x.C, x.H, x.W)
		}
	}
	res, err := newImage(img.B, img.H, img.W, 3)
	if err != nil {
		return nil, err
	}
	labT, labR := toLab(img), toLab(ref)
	const eps = 1e-6
	var refStats labStats
	if ref.B == 1 || j.mode != "per_frame" {
		refStats = poolStats(labR, ref.B, eps)
	}
	n := img.H * img.W
	var apply func(b int, src [3]float32) [3]float32
	switch j.mode {
	case "uniform", "target_frame":
		var s labStats
		if j.mode == "target_frame" {
			s = frameStats(labT[j.target*n*3:][:n*3], eps)
		} else {
			s = poolStats(labT, img.B, eps)
		}
		if reinhard {
			var scale, offset [3]float32
			for k := range 3 {
				scale[k] = refStats.sd[k] / s.sd[k]
				offset[k] = refStats.mean[k] - float32(scale[k]*s.mean[k])
			}
			apply = func(_ int, src [3]float32) (dst [3]float32) {
				for k := range 3 {
					dst[k] = float32(src[k]*scale[k]) + offset[k]
				}
				return dst
			}
		} else {
			t := mklMatrix(s.cov, refStats.cov, eps)
			offset := refStats.mean
			for k := range 3 {
				offset[k] -= dot3(t[k], s.mean)
			}
			apply = func(_ int, src [3]float32) (dst [3]float32) {
				for k := range 3 {
					dst[k] = dot3(t[k], src) + offset[k]
				}
				return dst
			}
		}
	default: // per_frame
		frames := make([]func(src [3]float32) [3]float32, img.B)
		for b := range img.B {
			s := frameStats(labT[b*n*3:][:n*3], eps)
			r := refStats
			if ref.B != 1 {
				m := ref.H * ref.W * 3
				r = frameStats(labR[min(b, ref.B-1)*m:][:m], eps)
			}
			if reinhard {
				frames[b] = func(src [3]float32) (dst [3]float32) {
					for k := range 3 {
						dst[k] = float32((src[k]-s.mean[k])*(r.sd[k]/s.sd[k])) + r.mean[k]
					}
					return dst
				}
			} else {
				t := mklMatrix(s.cov, r.cov, eps)
				frames[b] = func(src [3]float32) (dst [3]float32) {
					c := [3]float32{src[0] - s.mean[0], src[1] - s.mean[1], src[2] - s.mean[2]}
					for k := range 3 {
						dst[k] = dot3(t[k], c) + r.mean[k]
					}
					return dst
				}
			}
		}
		apply = func(b int, src [3]float32) [3]float32 { return frames[b](src) }
	}
	forRows(img.B, img.H, img.W*60, func(b, y int) {
		row := (b*img.H + y) * img.W * 3
		for x := range img.W {
			i := row + x*3
			src := [3]float32(labT[i:][:3])
			lab := apply(b, src)
			if j.strength != 1 {
				for k := range 3 {
					lab[k] = lerp(src[k], lab[k], j.strength)
				}
			}
			rgb := labToRGB(lab)
			for k := range 3 {
				res.Pix[i+k] = clamp01(rgb[k])
			}
		}
	})
	return res, nil
}

// dot3 is one row of a float32 3×3 matrix product, summed as torch's
// small matmuls do, left to right.
func dot3(a, b [3]float32) float32 {
	return float32(float32(a[0]*b[0])+float32(a[1]*b[1])) + float32(a[2]*b[2])
}

// toLab is kornia.color.rgb_to_lab of every pixel (HWC order kept).
func toLab(img *tensor.Image) []float32 {
	out := make([]float32, len(img.Pix))
	forEach(len(img.Pix)/3, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			lab := rgbToLab([3]float32(img.Pix[p*3:][:3]))
			copy(out[p*3:], lab[:])
		}
	})
	return out
}

// powf is torch.pow of a float32 tensor by a Python float (cast to float32).
func powf(x float32, e float64) float32 {
	return float32(math.Pow(float64(x), float64(float32(e))))
}

// rgbToLab is kornia's rgb_to_lab: sRGB to linear, to XYZ (D65), to Lab.
func rgbToLab(rgb [3]float32) [3]float32 {
	var lin [3]float32
	for k, v := range rgb {
		if v > 0.04045 {
			lin[k] = powf((v+0.055)/1.055, 2.4)
		} else {
			lin[k] = v / 12.92
		}
	}
	r, g, b := lin[0], lin[1], lin[2]
	xyz := [3]float32{
		float32(float32(0.412453*r)+float32(0.357580*g)) + float32(0.180423*b),
		float32(float32(0.212671*r)+float32(0.715160*g)) + float32(0.072169*b),
		float32(float32(0.019334*r)+float32(0.119193*g)) + float32(0.950227*b),
	}
	white := [3]float32{0.95047, 1, 1.08883}
	var f [3]float32
	for k := range xyz {
		v := xyz[k] / white[k]
		if v > 0.008856 {
			f[k] = powf(v, 1/3.0)
		} else {
			f[k] = float32(7.787*v) + float32(4.0/29.0)
		}
	}
	return [3]float32{float32(116*f[1]) - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])}
}

// labToRGB is kornia's lab_to_rgb (with its clipping to [0, 1]).
func labToRGB(lab [3]float32) [3]float32 {
	fy := (lab[0] + 16) / 116
	fx := lab[1]/500 + fy
	fz := max(fy-lab[2]/200, 0)
	white := [3]float32{0.95047, 1, 1.08883}
	var xyz [3]float32
	for k, v := range [3]float32{fx, fy, fz} {
		if v > 0.2068966 {
			xyz[k] = float32(v*v) * v // torch's pow by the scalar 3
		} else {
			xyz[k] = (v - float32(4.0/29.0)) / 7.787
		}
		xyz[k] *= white[k]
	}
	m := [3][3]float32{
		{3.2404813432005266, -1.5371515162713185, -0.4985363261688878},
		{-0.9692549499965682, 1.8759900014898907, 0.0415559265582928},
		{0.0556466391351772, -0.2040413383665112, 1.0573110696453443},
	}
	var rgb [3]float32
	for k := range 3 {
		v := dot3(m[k], xyz)
		if v > 0.0031308 {
			v = float32(1.055*powf(max(v, 0.0031308), 1/2.4)) - 0.055
		} else {
			v *= 12.92
		}
		rgb[k] = clamp01(v)
	}
	return rgb
}

// frameStats is ColorTransfer._frame_stats of one frame of Lab pixels.
func frameStats(lab []float32, eps float64) labStats {
	mean, m2 := moments(lab)
	var s labStats
	for k := range 3 {
		s.mean[k] = float32(mean[k])
		s.sd[k] = float32(math.Max(math.Sqrt(m2[k][k]), eps))
		for l := range 3 {
			s.cov[k][l] = float32(m2[k][l])
		}
	}
	return s
}

// poolStats is ColorTransfer._pool_stats: the mean of the frames' means,
// and the mean over frames of their second moments about it.
func poolStats(lab []float32, frames int, eps float64) labStats {
	n := len(lab) / frames
	var mean [3]float64
	for f := range frames {
		m, _ := moments(lab[f*n:][:n])
		for k := range 3 {
			mean[k] += m[k]
		}
	}
	for k := range mean {
		mean[k] /= float64(frames)
	}
	var acc [3][3]float64
	for f := range frames {
		m2 := momentsAbout(lab[f*n:][:n], mean)
		for k := range 3 {
			for l := range 3 {
				acc[k][l] += m2[k][l]
			}
		}
	}
	var s labStats
	for k := range 3 {
		s.mean[k] = float32(mean[k])
		s.sd[k] = float32(math.Max(math.Sqrt(acc[k][k]/float64(frames)), eps))
		for l := range 3 {
			s.cov[k][l] = float32(acc[k][l] / float64(frames))
		}
	}
	return s
}

// moments returns the channel means of Lab pixels and the second moments
// about them (the biased covariance).
func moments(lab []float32) (mean [3]float64, m2 [3][3]float64) {
	n := len(lab) / 3
	for p := range n {
		for k := range 3 {
			mean[k] += float64(lab[p*3+k])
		}
	}
	for k := range mean {
		mean[k] /= float64(n)
	}
	return mean, momentsAbout(lab, mean)
}

func momentsAbout(lab []float32, mean [3]float64) (m2 [3][3]float64) {
	n := len(lab) / 3
	for p := range n {
		var c [3]float64
		for k := range 3 {
			c[k] = float64(lab[p*3+k]) - mean[k]
		}
		for k := range 3 {
			for l := range 3 {
				m2[k][l] += c[k] * c[l]
			}
		}
	}
	for k := range 3 {
		for l := range 3 {
			m2[k][l] /= float64(n)
		}
	}
	return m2
}

// mklMatrix is ColorTransfer._mkl_matrix, the Monge-Kantorovich linear map
// Cs^-½ (Cs^½ Cr Cs^½)^½ Cs^-½ with the source's eigenvalues' roots clamped
// to eps, computed in float64.
func mklMatrix(cs, cr [3][3]float32, eps float64) [3][3]float32 {
	valS, vecS := eigSym(to64(cs))
	var sqrtS [3]float64
	for k, v := range valS {
		sqrtS[k] = math.Max(math.Sqrt(math.Max(v, 0)), eps)
	}
	var scaled, inv [3][3]float64
	for r := range 3 {
		for k := range 3 {
			scaled[r][k] = vecS[r][k] * sqrtS[k]
			inv[r][k] = vecS[r][k] / sqrtS[k]
		}
	}
	mid := mul3(mul3(transpose3(scaled), to64(cr)), scaled)
	valM, vecM := eigSym(mid)
	var half [3][3]float64
	for r := range 3 {
		for k := range 3 {
			half[r][k] = vecM[r][k] * math.Sqrt(math.Max(valM[k], 0))
		}
	}
	half = mul3(half, transpose3(vecM))
	t := mul3(mul3(inv, half), transpose3(inv))
	var out [3][3]float32
	for r := range 3 {
		for k := range 3 {
			out[r][k] = float32(t[r][k])
		}
	}
	return out
}

func to64(m [3][3]float32) (o [3][3]float64) {
	for r := range 3 {
		for k := range 3 {
			o[r][k] = float64(m[r][k])
		}
	}
	return o
}

func mul3(a, b [3][3]float64) (o [3][3]float64) {
	for r := range 3 {
		for k := range 3 {
			for i := range 3 {
				o[r][k] += a[r][i] * b[i][k]
			}
		}
	}
	return o
}

func transpose3(a [3][3]float64) (o [3][3]float64) {
	for r := range 3 {
		for k := range 3 {
			o[k][r] = a[r][k]
		}
	}
	return o
}

// eigSym returns the eigenvalues of the symmetric matrix a and its
// eigenvectors as columns, by cyclic Jacobi rotations. The order and signs
// of the eigenvectors do not matter to mklMatrix.
func eigSym(a [3][3]float64) (vals [3]float64, vecs [3][3]float64) {
	vecs = [3][3]float64{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}
	for range 64 {
		off := a[0][1]*a[0][1] + a[0][2]*a[0][2] + a[1][2]*a[1][2]
		if off == 0 || math.IsNaN(off) {
			break
		}
		for p := range 2 {
			for q := p + 1; q < 3; q++ {
				if a[p][q] == 0 {
					continue
				}
				theta := (a[q][q] - a[p][p]) / (2 * a[p][q])
				t := math.Copysign(1, theta) / (math.Abs(theta) + math.Sqrt(theta*theta+1))
				c := 1 / math.Sqrt(t*t+1)
				s := t * c
				for k := range 3 {
					akp, akq := a[k][p], a[k][q]
					a[k][p], a[k][q] = c*akp-s*akq, s*akp+c*akq
				}
				for k := range 3 {
					apk, aqk := a[p][k], a[q][k]
					a[p][k], a[q][k] = c*apk-s*aqk, s*apk+c*aqk
				}
				for k := range 3 {
					vkp, vkq := vecs[k][p], vecs[k][q]
					vecs[k][p], vecs[k][q] = c*vkp-s*vkq, s*vkp+c*vkq
				}
			}
		}
	}
	return [3]float64{a[0][0], a[1][1], a[2][2]}, vecs
}
