package masknode

import (
	"context"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/nodes/latentnode/comfyutil"
	"github.com/gocomfy/gocomfy/tensor"
)

// SplitImageWithAlpha returns the colour channels (at most three) and the
// mask 1 − alpha (all zeros without an alpha channel).
var SplitImageWithAlpha = node.New(info(compositingModule, "SplitImageWithAlpha", "Split Image with Alpha", "image/compositing",
	"extract alpha", "separate transparency", "remove alpha"),
	func(s *node.Schema) node.RunFunc {
		in := node.Socket(s, node.Image, "image")
		outImage := node.Output(s, node.Image, "IMAGE")
		outMask := node.Output(s, node.Mask, "MASK")
		return func(ctx context.Context, c *node.Call) error {
			img, err := image(c, in)
			if err != nil {
				return err
			}
			rgb := min(img.C, 3)
			res := tensor.NewImage(img.B, img.H, img.W, rgb)
			m := tensor.NewMask(img.B, img.H, img.W)
			for i := range m.Pix {
				copy(res.Pix[i*rgb:(i+1)*rgb], img.Pix[i*img.C:])
				if img.C > 3 {
					m.Pix[i] = 1 - img.Pix[i*img.C+3]
				}
			}
			outImage.Set(c, res)
			outMask.Set(c, m)
			return nil
		}
	})

// JoinImageWithAlpha appends 1 − alpha (resized bilinearly to the image)
// to the colour channels; image and alpha are repeated to the larger batch.
var JoinImageWithAlpha = node.New(info(compositingModule, "JoinImageWithAlpha", "Join Image with Alpha", "image/compositing",
	"add transparency", "apply alpha", "composite alpha", "RGBA"),
	func(s *node.Schema) node.RunFunc {
		imgIn := node.Socket(s, node.Image, "image")
		alphaIn := node.Socket(s, node.Mask, "alpha")
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			img, err := image(c, imgIn)
			if err != nil {
				return err
			}
			a, err := mask(c, alphaIn)
			if err != nil {
				return err
			}
			if img.B == 0 || a.B == 0 {
				return node.Raise("RuntimeError", "cannot repeat an empty batch")
			}
			t, err := comfyutil.Upscale(asTensor(a), img.W, img.H, comfyutil.Bilinear, "disabled")
			if err != nil {
				return err
			}
			ra := asMask(t)
			b, rgb := max(img.B, a.B), min(img.C, 3)
			res := tensor.NewImage(b, img.H, img.W, rgb+1)
			n := img.H * img.W
			for i := range b {
				src, alpha := img.Frame(i%img.B), ra.Frame(i%ra.B)
				dst := res.Frame(i)
				for p := range n {
					copy(dst[p*(rgb+1):p*(rgb+1)+rgb], src[p*img.C:])
					dst[p*(rgb+1)+rgb] = 1 - alpha[p]
				}
			}
			out.Set(c, res)
			return nil
		}
	})

// porterDuff are the 18 operators of nodes_compositing.PorterDuffMode on
// premultiplied colour (si, di) and alpha (sa, da), in ComfyUI's order and
// arithmetic. They return the premultiplied colour and the alpha.
var porterDuff = []struct {
	name string
	f    func(si, sa, di, da float32) (float32, float32)
}{
	{"ADD", func(si, sa, di, da float32) (float32, float32) { return clamp01(si + di), clamp01(sa + da) }},
	{"CLEAR", func(si, sa, di, da float32) (float32, float32) { return 0, 0 }},
	{"DARKEN", func(si, sa, di, da float32) (float32, float32) {
		return (1-da)*si + (1-sa)*di + min(si, di), sa + da - sa*da
	}},
	{"DST", func(si, sa, di, da float32) (float32, float32) { return di, da }},
	{"DST_ATOP", func(si, sa, di, da float32) (float32, float32) { return sa*di + (1-da)*si, sa }},
	{"DST_IN", func(si, sa, di, da float32) (float32, float32) { return di * sa, sa * da }},
	{"DST_OUT", func(si, sa, di, da float32) (float32, float32) { return (1 - sa) * di, (1 - sa) * da }},
	{"DST_OVER", func(si, sa, di, da float32) (float32, float32) { return di + (1-da)*si, da + (1-da)*sa }},
	{"LIGHTEN", func(si, sa, di, da float32) (float32, float32) {
		return (1-da)*si + (1-sa)*di + max(si, di), sa + da - sa*da
	}},
	{"MULTIPLY", func(si, sa, di, da float32) (float32, float32) { return si * di, sa * da }},
	{"OVERLAY", func(si, sa, di, da float32) (float32, float32) {
		if 2*di < da {
			return 2 * si * di, sa + da - sa*da
		}
		return sa*da - 2*(da-si)*(sa-di), sa + da - sa*da
	}},
	{"SCREEN", func(si, sa, di, da float32) (float32, float32) { return si + di - si*di, sa + da - sa*da }},
	{"SRC", func(si, sa, di, da float32) (float32, float32) { return si, sa }},
	{"SRC_ATOP", func(si, sa, di, da float32) (float32, float32) { return da*si + (1-sa)*di, da }},
	{"SRC_IN", func(si, sa, di, da float32) (float32, float32) { return si * da, sa * da }},
	{"SRC_OUT", func(si, sa, di, da float32) (float32, float32) { return (1 - da) * si, (1 - da) * sa }},
	{"SRC_OVER", func(si, sa, di, da float32) (float32, float32) { return si + (1-sa)*di, sa + (1-sa)*da }},
	{"XOR", func(si, sa, di, da float32) (float32, float32) { return (1-da)*si + (1-sa)*di, (1-da)*sa + (1-sa)*da }},
}

func clamp01(x float32) float32 { return min(max(x, 0), 1) }

// PorterDuffImageComposite composites source over destination with one of
// the Porter-Duff operators. Alphas come in and go out as masks (1 − alpha).
var PorterDuffImageComposite = node.New(info(compositingModule, "PorterDuffImageComposite", "Porter-Duff Image Composite", "image/compositing",
	"alpha composite", "blend modes", "layer blend", "transparency blend"),
	func(s *node.Schema) node.RunFunc {
		srcIn := node.Socket(s, node.Image, "source")
		srcAlphaIn := node.Socket(s, node.Mask, "source_alpha")
		dstIn := node.Socket(s, node.Image, "destination")
		dstAlphaIn := node.Socket(s, node.Mask, "destination_alpha")
		names := make([]string, len(porterDuff))
		for i, m := range porterDuff {
			names[i] = m.name
		}
		mode := s.Combo("mode", names...).Default("DST")
		outImage := node.Output(s, node.Image, "IMAGE")
		outMask := node.Output(s, node.Mask, "MASK")
		return func(ctx context.Context, c *node.Call) error {
			src, err := image(c, srcIn)
			if err != nil {
				return err
			}
			dst, err := image(c, dstIn)
			if err != nil {
				return err
			}
			sa, err := mask(c, srcAlphaIn)
			if err != nil {
				return err
			}
			da, err := mask(c, dstAlphaIn)
			if err != nil {
				return err
			}
			i := -1
			for k, m := range porterDuff {
				if m.name == mode.Get(c) {
					i = k
				}
			}
			if i < 0 {
				return node.Raise("KeyError", "'%s'", mode.Get(c))
			}
			img, m, err := porterDuffBatch(src, sa, dst, da, porterDuff[i].f)
			if err != nil {
				return err
			}
			outImage.Set(c, img)
			outMask.Set(c, m)
			return nil
		}
	})

// porterDuffBatch composites item by item up to the smallest of the four
// batches. Each item's destination alpha, source and source alpha are first
// resized (bicubic, center crop) to the destination's size if they differ.
func porterDuffBatch(src *tensor.Image, sa *tensor.Mask, dst *tensor.Image, da *tensor.Mask,
	op func(si, sa, di, da float32) (float32, float32)) (*tensor.Image, *tensor.Mask, error) {
	if src.C != dst.C {
		return nil, nil, node.Raise("AssertionError", "source and destination must have the same number of channels (%d, %d)", src.C, dst.C)
	}
	n := min(src.B, sa.B, dst.B, da.B)
	H, W, C := dst.H, dst.W, dst.C
	img, out := tensor.NewImage(n, H, W, C), tensor.NewMask(n, H, W)
	for b := range n {
		dstA, err := resizedPlane(da.Frame(b), 1, da.H, da.W, H, W)
		if err != nil {
			return nil, nil, err
		}
		srcI, err := resizedPlane(planarFrame(src, b), C, src.H, src.W, H, W)
		if err != nil {
			return nil, nil, err
		}
		srcA, err := resizedPlane(sa.Frame(b), 1, sa.H, sa.W, H, W)
		if err != nil {
			return nil, nil, err
		}
		di, oi, om := dst.Frame(b), img.Frame(b), out.Frame(b)
		for p := range H * W {
			a, d := 1-srcA[p], 1-dstA[p]
			_, oa := op(0, a, 0, d) // no operator's alpha depends on colour
			for ch := range C {
				v, _ := op(srcI[ch*H*W+p]*a, a, di[p*C+ch]*d, d)
				if oa > 1e-5 {
					v /= oa
				} else {
					v = 0
				}
				oi[p*C+ch] = clamp01(v)
			}
			om[p] = 1 - oa
		}
	}
	return img, out, nil
}

// planarFrame copies image b of a batch into [C,H,W] order.
func planarFrame(m *tensor.Image, b int) []float32 {
	f := m.Frame(b)
	out := make([]float32, len(f))
	for p := range m.H * m.W {
		for c := range m.C {
			out[c*m.H*m.W+p] = f[p*m.C+c]
		}
	}
	return out
}

// resizedPlane returns C planes of h×w resized to H×W with common_upscale
// (bicubic, center crop), or the planes themselves if the size matches.
func resizedPlane(planes []float32, C, h, w, H, W int) ([]float32, error) {
	if h == H && w == W {
		return planes, nil
	}
	t, err := comfyutil.Upscale(&tensor.Tensor{Shape: []int{1, C, h, w}, Data: planes}, W, H, comfyutil.Bicubic, "center")
	if err != nil {
		return nil, err
	}
	return t.Data, nil
}
