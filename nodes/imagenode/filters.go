package imagenode

import (
	"context"
	"fmt"
	"math"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/tensor"
)

// Elementwise arithmetic below is float32 in torch's order of operations, so
// results match ComfyUI's bit for bit. Products are converted to float32
// explicitly before a sum: the Go spec lets a compiler fuse x*y+z otherwise.

// blendModes are ImageBlend's modes: the blended value of a (image1) and b.
var blendModes = map[string]func(a, b float32) float32{
	"normal":   func(a, b float32) float32 { return b },
	"multiply": func(a, b float32) float32 { return a * b },
	"screen":   func(a, b float32) float32 { return 1 - float32((1-a)*(1-b)) },
	"overlay": func(a, b float32) float32 {
		if a <= 0.5 {
			return 2 * a * b
		}
		return 1 - float32(2*(1-a)*(1-b))
	},
	"soft_light": func(a, b float32) float32 {
		if b <= 0.5 {
			return a - float32((1-2*b)*a*(1-a))
		}
		return a + float32((2*b-1)*(softLightG(a)-a))
	},
	"difference": func(a, b float32) float32 { return a - b },
}

func softLightG(x float32) float32 {
	if x <= 0.25 {
		return (float32((float32(16*x)-12)*x) + 4) * x
	}
	return float32(math.Sqrt(float64(x)))
}

var imageBlend = node.New(node.Info{ID: "ImageBlend", DisplayName: "Blend Images", Category: "image/filters",
	Module: modPostProcessing, Format: node.V3, EssentialsCategory: "Image Tools", SearchAliases: []string{"mix images"}},
	func(s *node.Schema) node.RunFunc {
		image1 := node.Socket(s, node.Image, "image1")
		image2 := node.Socket(s, node.Image, "image2")
		factor := s.Float("blend_factor").Default(0.5).Min(0).Max(1).Step(0.01)
		mode := s.Combo("blend_mode", "normal", "multiply", "screen", "overlay", "soft_light", "difference")
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			a, err := getImage(c, image1.In)
			if err != nil {
				return err
			}
			b, err := getImage(c, image2.In)
			if err != nil {
				return err
			}
			blend, ok := blendModes[mode.Get(c)]
			if !ok {
				return node.Raise("ValueError", "Unsupported blend mode: %s", mode.Get(c))
			}
			b = alphaFix(a, b)
			if a.B != b.B || a.H != b.H || a.W != b.W || a.C != b.C {
				if b, err = scaleImage(b, a.W, a.H, "bicubic", true); err != nil {
					return err
				}
			}
			f := factor.Get(c)
			res, err := zipImages(a, b, func(x, y float32) float32 {
				return clamp01(float32(x*float32(1-f)) + float32(blend(x, y)*float32(f)))
			})
			if err != nil {
				return err
			}
			out.Set(c, res)
			return nil
		}
	})

// zipImages applies f to the elements of two images of the same height and
// width, broadcasting the batch and channel dimensions as torch does.
func zipImages(a, b *tensor.Image, f func(x, y float32) float32) (*tensor.Image, error) {
	n, err := broadcast(a.B, b.B, 0)
	if err != nil {
		return nil, err
	}
	ch, err := broadcast(a.C, b.C, 3)
	if err != nil {
		return nil, err
	}
	out, err := newImage(n, a.H, a.W, ch)
	if err != nil {
		return nil, err
	}
	px := a.H * a.W
	forRows(n, px, ch, func(i, p int) {
		ra := a.Pix[((i%a.B)*px+p)*a.C:][:a.C]
		rb := b.Pix[((i%b.B)*px+p)*b.C:][:b.C]
		dst := out.Pix[(i*px+p)*ch:][:ch]
		for k := range dst {
			dst[k] = f(ra[k%a.C], rb[k%b.C])
		}
	})
	return out, nil
}

var imageBlur = node.New(node.Info{ID: "ImageBlur", DisplayName: "Blur Image", Category: "image/filters",
	Module: modPostProcessing, Format: node.V3},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		radius := s.Int("blur_radius").Default(1).Min(1).Max(31).Step(1)
		sigma := s.Float("sigma").Default(1).Min(0.1).Max(10).Step(0.1)
		out := node.Output(s, node.Image, "IMAGE")
		return withBlur(image.In, radius.In, sigma.In, out, func(_ *node.Call, _, blurred *tensor.Image) *tensor.Image { return blurred })
	})

var imageSharpen = node.New(node.Info{ID: "ImageSharpen", DisplayName: "Sharpen Image", Category: "image/filters",
	Module: modPostProcessing, Format: node.V3},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		radius := s.Int("sharpen_radius").Default(1).Min(1).Max(31).Step(1).Advanced()
		sigma := s.Float("sigma").Default(1).Min(0.1).Max(10).Step(0.01).Advanced()
		alpha := s.Float("alpha").Default(1).Min(0).Max(5).Step(0.01).Advanced()
		out := node.Output(s, node.Image, "IMAGE")
		return withBlur(image.In, radius.In, sigma.In, out, func(c *node.Call, img, blurred *tensor.Image) *tensor.Image {
			// ComfyUI's kernel is -10α·G with 1 + 10α·ΣG added at the
			// center: the image plus 10α times its difference from the blur.
			k := 10 * alpha.Get(c)
			center, side := float32(1+k), float32(k)
			forEach(len(img.Pix), func(lo, hi int) {
				for i := lo; i < hi; i++ {
					blurred.Pix[i] = clamp01(float32(center*img.Pix[i]) - float32(side*blurred.Pix[i]))
				}
			})
			return blurred
		})
	})

// withBlur runs a node whose output is combine of the image input and its
// gaussianBlur by the radius and sigma inputs. Radius 0 passes the image
// through unchanged, as ComfyUI does.
func withBlur(image node.In[*tensor.Image], radius node.In[int64], sigma node.In[float64], out *node.Out[*tensor.Image],
	combine func(c *node.Call, img, blurred *tensor.Image) *tensor.Image) node.RunFunc {
	return func(ctx context.Context, c *node.Call) error {
		img, err := getImage(c, image)
		if err != nil {
			return err
		}
		r := int(radius.Get(c))
		if r == 0 {
			out.Set(c, img)
			return nil
		}
		blurred, err := gaussianBlur(img, r, sigma.Get(c))
		if err != nil {
			return err
		}
		out.Set(c, combine(c, img, blurred))
		return nil
	}
}

// gaussianBlur is ComfyUI's gaussian_kernel convolution: a (2r+1)² Gaussian
// sampled on linspace(-1, 1) in both directions (sigma is relative to the
// radius, not in pixels), normalized to sum 1, applied per channel over the
// image reflect-padded by r. The kernel is separable, so it is applied as a
// horizontal then a vertical pass; sums are float32 like torch's convolution
// but in another order, so values can differ from ComfyUI's in the last bits.
func gaussianBlur(img *tensor.Image, r int, sigma float64) (*tensor.Image, error) {
	dims := fmt.Sprintf("[%d, %d, %d, %d]", img.B, img.C, img.H, img.W)
	switch {
	case r < 0:
		return nil, fmt.Errorf("negative blur radius %d", r)
	case r >= img.W:
		return nil, fmt.Errorf("Argument #4: Padding size should be less than the corresponding input dimension, but got: padding (%d, %d) at dimension 3 of input %s", r, r, dims)
	case r >= img.H:
		return nil, fmt.Errorf("Argument #6: Padding size should be less than the corresponding input dimension, but got: padding (%d, %d) at dimension 2 of input %s", r, r, dims)
	}
	k := 2*r + 1
	g := make([]float64, k)
	var sum float64
	for i := range g {
		x := -1 + 2*float64(i)/float64(k-1)
		g[i] = math.Exp(-x * x / (2 * sigma * sigma))
		sum += g[i]
	}
	w := make([]float32, k)
	for i := range g {
		w[i] = float32(g[i] / sum)
	}
	xs, ys := reflectIndex(img.W, r), reflectIndex(img.H, r)
	c, rowLen := img.C, img.W*img.C

	tmp := tensor.NewImage(img.B, img.H, img.W, img.C)
	forRows(img.B, img.H, rowLen*k, func(b, y int) {
		in := img.Pix[(b*img.H+y)*rowLen:][:rowLen]
		out := tmp.Pix[(b*img.H+y)*rowLen:][:rowLen]
		for x := range img.W {
			for ch := range c {
				var acc float32
				for i, wi := range w {
					acc += float32(wi * in[xs[x+i]*c+ch])
				}
				out[x*c+ch] = acc
			}
		}
	})
	res := tensor.NewImage(img.B, img.H, img.W, img.C)
	forRows(img.B, img.H, rowLen*k, func(b, y int) {
		out := res.Pix[(b*img.H+y)*rowLen:][:rowLen]
		for j, wj := range w {
			in := tmp.Pix[(b*img.H+ys[y+j])*rowLen:][:rowLen]
			for i, v := range in {
				out[i] += float32(wj * v)
			}
		}
	})
	return res, nil
}

// reflectIndex maps the positions -r…n+r-1 of a reflect-padded axis
// (shifted by r) to positions of the axis.
func reflectIndex(n, r int) []int {
	idx := make([]int, n+2*r)
	for i := range idx {
		p := i - r
		switch {
		case p < 0:
			p = -p
		case p >= n:
			p = 2*(n-1) - p
		}
		idx[i] = p
	}
	return idx
}

var imageAddNoise = node.New(node.Info{ID: "ImageAddNoise", DisplayName: "Add Noise to Image", Category: "image/filters",
	Module: modImages, Format: node.V3, SearchAliases: []string{"film grain"}},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		seed := s.Int("seed").Default(0).Min(0).MaxUint64(math.MaxUint64).ControlAfterGenerate().
			Tooltip("The random seed used for creating the noise.")
		strength := s.Float("strength").Default(0.5).Min(0).Max(1).Step(0.01)
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			img, err := getImage(c, image.In)
			if err != nil {
				return err
			}
			res := tensor.NewImage(img.B, img.H, img.W, img.C)
			randn(res.Pix, uint64(seed.Get(c)))
			f := float32(strength.Get(c))
			forEach(len(res.Pix), func(lo, hi int) {
				for i := lo; i < hi; i++ {
					res.Pix[i] = clamp01(img.Pix[i] + float32(f*res.Pix[i]))
				}
			})
			out.Set(c, res)
			return nil
		}
	})
