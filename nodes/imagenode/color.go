package imagenode

import (
	"context"
	"fmt"
	"math"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/tensor"
)

var morphology = node.New(node.Info{ID: "Morphology", DisplayName: "Apply Morphology", Category: "image/filters",
	Module: modMorphology, Format: node.V3, SearchAliases: []string{"erode", "dilate"}},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		operation := s.Combo("operation", "erode", "dilate", "open", "close", "gradient", "bottom_hat", "top_hat")
		kernel := s.Int("kernel_size").Default(3).Min(3).Max(999).Step(1)
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			img, err := getImage(c, image.In)
			if err != nil {
				return err
			}
			k := int(kernel.Get(c))
			if k < 1 {
				return fmt.Errorf("kernel_size must be positive, got %d", k)
			}
			erode := func(x *tensor.Image) *tensor.Image { return extremeFilter(x, k, false) }
			dilate := func(x *tensor.Image) *tensor.Image { return extremeFilter(x, k, true) }
			var res *tensor.Image
			switch op := operation.Get(c); op {
			case "erode":
				res = erode(img)
			case "dilate":
				res = dilate(img)
			case "open":
				res = dilate(erode(img))
			case "close":
				res = erode(dilate(img))
			case "gradient":
				res = subtract(dilate(img), erode(img))
			case "top_hat":
				res = subtract(img, dilate(erode(img)))
			case "bottom_hat":
				res = subtract(erode(dilate(img)), img)
			default:
				return node.Raise("ValueError", "Invalid operation %s for morphology. Must be one of 'erode', 'dilate', 'open', 'close', 'gradient', 'tophat', 'bottomhat'", op)
			}
			out.Set(c, res)
			return nil
		}
	})

// subtract returns a - b.
func subtract(a, b *tensor.Image) *tensor.Image {
	out := tensor.NewImage(a.B, a.H, a.W, a.C)
	forEach(len(a.Pix), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out.Pix[i] = a.Pix[i] - b.Pix[i]
		}
	})
	return out
}

// extremeFilter is kornia's erosion (minimum) or dilation (maximum) with a
// flat k×k kernel, per channel: the window of pixel (x, y) spans
// [x-k/2, x-k/2+k-1] on each axis, and pixels outside the image do not count
// (kornia's "geodesic" border pads with ∓10⁴, which agrees for values of
// magnitude below 10⁴). The window is separable, and each 1-D pass takes
// constant time per pixel (van Herk / Gil–Werman).
func extremeFilter(img *tensor.Image, k int, isMax bool) *tensor.Image {
	c := img.C
	tmp := tensor.NewImage(img.B, img.H, img.W, c)
	forRows(img.B, img.H, img.W*c*3, func(b, y int) {
		f := newLineFilter(img.W, k, isMax)
		base := (b*img.H + y) * img.W * c
		for ch := range c {
			f.apply(tmp.Pix[base+ch:], img.Pix[base+ch:], c)
		}
	})
	out := tensor.NewImage(img.B, img.H, img.W, c)
	forRows(img.B, img.W, img.H*c*3, func(b, x int) {
		f := newLineFilter(img.H, k, isMax)
		base := (b*img.H*img.W + x) * c
		for ch := range c {
			f.apply(out.Pix[base+ch:], tmp.Pix[base+ch:], img.W*c)
		}
	})
	return out
}

// lineFilter computes sliding minima or maxima over lines of n values.
type lineFilter struct {
	n, k, origin int
	isMax        bool
	pad, g, h    []float32 // the padded line, block prefix and suffix extremes
}

func newLineFilter(n, k int, isMax bool) *lineFilter {
	m := n + k - 1
	return &lineFilter{n: n, k: k, origin: k / 2, isMax: isMax,
		pad: make([]float32, m), g: make([]float32, m), h: make([]float32, m)}
}

func (f *lineFilter) pick(a, b float32) float32 {
	if f.isMax {
		return max(a, b)
	}
	return min(a, b)
}

// apply filters the n values in[0], in[stride], … into out likewise.
func (f *lineFilter) apply(out, in []float32, stride int) {
	none := float32(math.Inf(1))
	if f.isMax {
		none = float32(math.Inf(-1))
	}
	for i := range f.pad {
		f.pad[i] = none
		if p := i - f.origin; p >= 0 && p < f.n {
			f.pad[i] = in[p*stride]
		}
	}
	m := len(f.pad)
	for i := range m {
		if i%f.k == 0 {
			f.g[i] = f.pad[i]
		} else {
			f.g[i] = f.pick(f.g[i-1], f.pad[i])
		}
	}
	for i := m - 1; i >= 0; i-- {
		if i == m-1 || (i+1)%f.k == 0 {
			f.h[i] = f.pad[i]
		} else {
			f.h[i] = f.pick(f.h[i+1], f.pad[i])
		}
	}
	for i := range f.n {
		out[i*stride] = f.pick(f.h[i], f.g[i+f.k-1])
	}
}

var imageRGBToYUV = node.New(node.Info{ID: "ImageRGBToYUV", DisplayName: "Image RGB to YUV", Category: "image/color",
	Module: modMorphology, Format: node.V3, SearchAliases: []string{"color space conversion"}},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		outY := node.Output(s, node.Image, "Y")
		outU := node.Output(s, node.Image, "U")
		outV := node.Output(s, node.Image, "V")
		return func(ctx context.Context, c *node.Call) error {
			img, err := getImage(c, image.In)
			if err != nil {
				return err
			}
			if img.C != 3 {
				return node.Raise("ValueError", "Input size must have a shape of (*, 3, H, W). Got torch.Size([%d, %d, %d, %d])",
					img.B, img.C, img.H, img.W)
			}
			// kornia's rgb_to_ycbcr; each output repeats one component in
			// all three channels.
			planes := [3]*tensor.Image{}
			for i := range planes {
				planes[i] = tensor.NewImage(img.B, img.H, img.W, 3)
			}
			forEach(img.B*img.H*img.W, func(lo, hi int) {
				for p := lo; p < hi; p++ {
					r, g, b := img.Pix[3*p], img.Pix[3*p+1], img.Pix[3*p+2]
					y := float32(float32(0.299*r)+float32(0.587*g)) + float32(0.114*b)
					yuv := [3]float32{y, float32((b-y)*0.564) + 0.5, float32((r-y)*0.713) + 0.5}
					for i, v := range yuv {
						planes[i].Pix[3*p], planes[i].Pix[3*p+1], planes[i].Pix[3*p+2] = v, v, v
					}
				}
			})
			outY.Set(c, planes[0])
			outU.Set(c, planes[1])
			outV.Set(c, planes[2])
			return nil
		}
	})

var imageYUVToRGB = node.New(node.Info{ID: "ImageYUVToRGB", DisplayName: "Image YUV to RGB", Category: "image/color",
	Module: modMorphology, Format: node.V3, SearchAliases: []string{"color space conversion"}},
	func(s *node.Schema) node.RunFunc {
		inY := node.Socket(s, node.Image, "Y")
		inU := node.Socket(s, node.Image, "U")
		inV := node.Socket(s, node.Image, "V")
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			var yuv [3]*tensor.Image
			for i, in := range []*node.SocketInput[*tensor.Image]{inY, inU, inV} {
				img, err := getImage(c, in.In)
				if err != nil {
					return err
				}
				if i > 0 && (img.B != yuv[0].B || img.H != yuv[0].H || img.W != yuv[0].W) {
					return fmt.Errorf("Sizes of tensors must match except in dimension 3. Expected size %d but got size %d for tensor number %d in the list.",
						yuv[0].B*yuv[0].H*yuv[0].W, img.B*img.H*img.W, i)
				}
				yuv[i] = img
			}
			first := yuv[0]
			res := tensor.NewImage(first.B, first.H, first.W, 3)
			forEach(first.B*first.H*first.W, func(lo, hi int) {
				for p := lo; p < hi; p++ {
					// Each component is the mean of its image's channels.
					var m [3]float32
					for i, img := range yuv {
						var sum float32
						for _, v := range img.Pix[p*img.C : (p+1)*img.C] {
							sum += v
						}
						m[i] = sum / float32(img.C)
					}
					// kornia's ycbcr_to_rgb, clamped.
					y, cb, cr := m[0], m[1]-0.5, m[2]-0.5
					res.Pix[3*p] = clamp01(y + float32(1.403*cr))
					res.Pix[3*p+1] = clamp01(float32(y-float32(0.714*cr)) - float32(0.344*cb))
					res.Pix[3*p+2] = clamp01(y + float32(1.773*cb))
				}
			})
			out.Set(c, res)
			return nil
		}
	})
