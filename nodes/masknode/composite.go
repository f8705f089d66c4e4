package masknode

import (
	"context"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/nodes/latentnode/comfyutil"
	"github.com/gocomfy/gocomfy/tensor"
)

// view addresses a batch of planes in either memory layout: value (b, c, y, x)
// is at data[b*bs + c*cs + y*ys + x*xs]. Images are [B,H,W,C], latents
// [B,C,H,W] (video latents [B,C,T,H,W] as C·T channels).
type view struct {
	data           []float32
	B, C, H, W     int
	bs, cs, ys, xs int
}

func imageView(m *tensor.Image) view {
	return view{m.Pix, m.B, m.C, m.H, m.W, m.H * m.W * m.C, 1, m.W * m.C, m.C}
}

func planarView(t *tensor.Tensor) view {
	r := len(t.Shape)
	B, H, W := t.Shape[0], t.Shape[r-2], t.Shape[r-1]
	C := len(t.Data) / max(B*H*W, 1)
	return view{t.Data, B, C, H, W, C * H * W, H * W, W, 1}
}

func (v view) at(b, c, y, x int) int { return b*v.bs + c*v.cs + y*v.ys + x*v.xs }

// planar copies an image into a [B,C,H,W] tensor, the layout ComfyUI
// resizes images in.
func planar(m *tensor.Image) *tensor.Tensor {
	t := tensor.New(m.B, m.C, m.H, m.W)
	v, p := imageView(m), planarView(t)
	for b := range m.B {
		for c := range m.C {
			for y := range m.H {
				for x := range m.W {
					t.Data[p.at(b, c, y, x)] = m.Pix[v.at(b, c, y, x)]
				}
			}
		}
	}
	return t
}

// composite is nodes_mask.composite: source, repeated to destination's
// batch, is blended into destination at (x, y) (in units of multiplier
// pixels: 8 for latents) through mask, resized bilinearly to the source
// (nil: all ones). It returns new data in destination's layout.
func composite(dst, src view, x, y int, m *tensor.Mask, multiplier int) ([]float32, error) {
	x = max(-src.W*multiplier, min(x, dst.W*multiplier))
	y = max(-src.H*multiplier, min(y, dst.H*multiplier))
	left, top := comfyutil.FloorDiv(x, multiplier), comfyutil.FloorDiv(y, multiplier)
	var mk view
	if m != nil {
		t, err := comfyutil.Upscale(asTensor(m), src.W, src.H, comfyutil.Bilinear, "disabled")
		if err != nil {
			return nil, err
		}
		mk = planarView(t)
	}
	// mask[..., :vh, :vw] * source[..., :vh, :vw] goes to
	// destination[..., top:top+H, left:left+W].
	vw, vh := dst.W-left+min(0, x), dst.H-top+min(0, y)
	_, sh := comfyutil.PySlice(0, vh, src.H)
	_, sw := comfyutil.PySlice(0, vw, src.W)
	dy0, dy1 := comfyutil.PySlice(top, top+src.H, dst.H)
	dx0, dx1 := comfyutil.PySlice(left, left+src.W, dst.W)
	h, w := dy1-dy0, dx1-dx0
	if (sh != h && sh != 1) || (sw != w && sw != 1) || (src.C != dst.C && src.C != 1) || src.B == 0 {
		return nil, node.Raise("RuntimeError", "The size of tensor a (%d×%d×%d) must match the size of tensor b (%d×%d×%d)", src.C, sh, sw, dst.C, h, w)
	}
	out := make([]float32, len(dst.data))
	copy(out, dst.data)
	comfyutil.Parallel(dst.B*dst.C, h*w, func(lo, hi int) {
		for bc := lo; bc < hi; bc++ {
			b, c := bc/dst.C, bc%dst.C
			for i := range h {
				for j := range w {
					si, sj := i%sh, j%sw
					mv := float32(1)
					if m != nil {
						mv = mk.data[mk.at(b%mk.B, 0, si, sj)]
					}
					d := &out[dst.at(b, c, dy0+i, dx0+j)]
					*d = mv*src.data[src.at(b%src.B, c%src.C, si, sj)] + (1-mv)**d
				}
			}
		}
	})
	return out, nil
}

// compositeInputs declares the inputs after destination and source shared
// by ImageCompositeMasked and LatentCompositeMasked.
func compositeInputs(s *node.Schema, step int64) (x, y *node.IntInput, resize *node.BoolInput, m *node.SocketInput[*tensor.Mask]) {
	x = s.Int("x").Default(0).Min(0).Max(maxResolution).Step(step)
	y = s.Int("y").Default(0).Min(0).Max(maxResolution).Step(step)
	resize = s.Bool("resize_source").Default(false)
	m = node.Socket(s, node.Mask, "mask").Optional()
	return x, y, resize, m
}

// ImageCompositeMasked pastes source into destination at (x, y) pixels
// through an optional mask.
var ImageCompositeMasked = node.New(info(maskModule, "ImageCompositeMasked", "Image Composite Masked", "image/compositing",
	"overlay", "layer", "paste image", "images composition"),
	func(s *node.Schema) node.RunFunc {
		dstIn := node.Socket(s, node.Image, "destination")
		srcIn := node.Socket(s, node.Image, "source")
		x, y, resize, maskIn := compositeInputs(s, 1)
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			dst, err := image(c, dstIn)
			if err != nil {
				return err
			}
			src, err := image(c, srcIn)
			if err != nil {
				return err
			}
			src = alphaFix(dst, src)
			sv := imageView(src)
			if resize.Get(c) {
				t, err := comfyutil.Upscale(planar(src), dst.W, dst.H, comfyutil.Bilinear, "disabled")
				if err != nil {
					return err
				}
				sv = planarView(t)
			}
			data, err := composite(imageView(dst), sv, int(x.Get(c)), int(y.Get(c)), maskIn.Get(c), 1)
			if err != nil {
				return err
			}
			out.Set(c, &tensor.Image{B: dst.B, H: dst.H, W: dst.W, C: dst.C, Pix: data})
			return nil
		}
	})

// alphaFix is node_helpers.image_alpha_fix on the source: extra channels
// are dropped; if it has fewer, one channel of 1.0 is added.
func alphaFix(dst, src *tensor.Image) *tensor.Image {
	if src.C == dst.C {
		return src
	}
	c := min(dst.C, src.C+1)
	out := tensor.NewImage(src.B, src.H, src.W, c)
	for i := range src.B * src.H * src.W {
		p := out.Pix[i*c : (i+1)*c]
		n := copy(p, src.Pix[i*src.C:i*src.C+min(c, src.C)])
		for k := n; k < c; k++ {
			p[k] = 1
		}
	}
	return out
}

// LatentCompositeMasked pastes source samples into destination samples at
// (x, y) pixels (÷8) through an optional mask.
var LatentCompositeMasked = node.New(info(maskModule, "LatentCompositeMasked", "Latent Composite Masked", "model/latent",
	"overlay latent", "layer latent", "paste latent", "inpaint latent"),
	func(s *node.Schema) node.RunFunc {
		dstIn := node.Socket(s, node.Latent, "destination")
		srcIn := node.Socket(s, node.Latent, "source")
		x, y, resize, maskIn := compositeInputs(s, 8)
		out := node.Output(s, node.Latent, "LATENT")
		return func(ctx context.Context, c *node.Call) error {
			dst, src := dstIn.Get(c), srcIn.Get(c)
			if dst == nil || dst.Samples == nil || src == nil || src.Samples == nil {
				return node.Raise("ValueError", "LatentCompositeMasked: missing latent samples")
			}
			st := src.Samples
			if resize.Get(c) {
				if len(st.Shape) != 4 {
					return node.Raise("NotImplementedError", "Got %dD input, but bilinear mode needs 4D input", len(st.Shape))
				}
				d := dst.Samples.Shape
				var err error
				if st, err = comfyutil.Upscale(st, d[len(d)-1], d[len(d)-2], comfyutil.Bilinear, "disabled"); err != nil {
					return err
				}
			}
			data, err := composite(planarView(dst.Samples), planarView(st), int(x.Get(c)), int(y.Get(c)), maskIn.Get(c), 8)
			if err != nil {
				return err
			}
			res := *dst
			res.Samples = &tensor.Tensor{Shape: dst.Samples.Shape, Data: data}
			out.Set(c, &res)
			return nil
		}
	})
