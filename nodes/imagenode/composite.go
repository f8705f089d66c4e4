package imagenode

import (
	"context"
	"fmt"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/tensor"
)

var imageCompositeMasked = node.New(node.Info{ID: "ImageCompositeMasked", DisplayName: "Image Composite Masked",
	Category: "image/compositing", Module: modMask, Format: node.V3,
	SearchAliases: []string{"overlay", "layer", "paste image", "images composition"}},
	func(s *node.Schema) node.RunFunc {
		destination := node.Socket(s, node.Image, "destination")
		source := node.Socket(s, node.Image, "source")
		x := s.Int("x").Default(0).Min(0).Max(maxResolution).Step(1)
		y := s.Int("y").Default(0).Min(0).Max(maxResolution).Step(1)
		resize := s.Bool("resize_source").Default(false)
		mask := node.Socket(s, node.Mask, "mask").Optional()
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			dst, err := getImage(c, destination.In)
			if err != nil {
				return err
			}
			src, err := getImage(c, source.In)
			if err != nil {
				return err
			}
			m, err := getMask(c, mask.In)
			if err != nil {
				return err
			}
			res, err := composite(dst, alphaFix(dst, src), int(x.Get(c)), int(y.Get(c)), m, resize.Get(c))
			if err != nil {
				return err
			}
			out.Set(c, res)
			return nil
		}
	})

// composite is nodes_mask.composite for images (multiplier 1): src, resized
// to dst's size if asked and repeated to dst's batch, is blended over a copy
// of dst at (x, y) as mask·src + (1-mask)·dst, the mask (ones if nil) resized
// bilinearly to src's size.
func composite(dst, src *tensor.Image, x, y int, mask *tensor.Mask, resize bool) (*tensor.Image, error) {
	var err error
	if resize {
		if src, err = scaleImage(src, dst.W, dst.H, "bilinear", false); err != nil {
			return nil, err
		}
	}
	if src, err = repeatToBatch(src, dst.B); err != nil {
		return nil, err
	}
	if src.C != dst.C {
		return nil, fmt.Errorf("The size of tensor a (%d) must match the size of tensor b (%d) at non-singleton dimension 1", src.C, dst.C)
	}
	if mask != nil {
		if mask, err = scaleMask(mask, src.W, src.H, "bilinear", false); err != nil {
			return nil, err
		}
		if mask, err = repeatMaskToBatch(mask, src.B); err != nil {
			return nil, err
		}
	}
	x = max(-src.W, min(x, dst.W))
	y = max(-src.H, min(y, dst.H))
	cols, err := compositeSpan(x, src.W, dst.W, 3)
	if err != nil {
		return nil, err
	}
	rows, err := compositeSpan(y, src.H, dst.H, 2)
	if err != nil {
		return nil, err
	}

	out := &tensor.Image{B: dst.B, H: dst.H, W: dst.W, C: dst.C, Pix: make([]float32, len(dst.Pix))}
	copy(out.Pix, dst.Pix)
	ch := dst.C
	forRows(dst.B, rows.n, cols.n*ch, func(b, i int) {
		sy := rows.source(i)
		row := out.Pix[((b*dst.H+rows.first+i)*dst.W+cols.first)*ch:][:cols.n*ch]
		srow := src.Pix[(b*src.H+sy)*src.W*ch:][:src.W*ch]
		var mrow []float32
		if mask != nil {
			mrow = mask.Pix[(b*src.H+sy)*src.W:][:src.W]
		}
		for j := range cols.n {
			sx := cols.source(j)
			m := float32(1)
			if mrow != nil {
				m = mrow[sx]
			}
			for k := range ch {
				d := row[j*ch+k]
				row[j*ch+k] = float32(m*srow[sx*ch+k]) + float32((1-m)*d)
			}
		}
	})
	return out, nil
}

// span is the part of one axis of the destination that a composite writes:
// n positions from first on, each taking source position i (or 0 when one
// source position is broadcast).
type span struct {
	first, n  int
	broadcast bool
}

func (s span) source(i int) int {
	if s.broadcast {
		return 0
	}
	return i
}

// compositeSpan works out, for one axis, what composite's Python slicing
// does: the destination slice [off:off+srcLen] (negative offsets count from
// the end) receives the first min(srcLen, visible) source positions, which
// must match it in length or broadcast from one.
func compositeSpan(off, srcLen, dstLen, dim int) (span, error) {
	visible := dstLen - off + min(0, off)
	sn := min(srcLen, visible)
	lo, hi := pySlice(off, off+srcLen, dstLen)
	dn := hi - lo
	switch {
	case sn == dn:
		return span{first: lo, n: dn}, nil
	case sn == 1:
		return span{first: lo, n: dn, broadcast: true}, nil
	}
	return span{}, fmt.Errorf("The size of tensor a (%d) must match the size of tensor b (%d) at non-singleton dimension %d", sn, dn, dim)
}

// porterDuffModes are the 18 modes of PorterDuffMode on premultiplied
// values: each takes source and destination color and alpha and returns the
// composite color and alpha.
var porterDuffModes = map[string]func(sc, sa, dc, da float32) (c, a float32){
	"ADD": func(sc, sa, dc, da float32) (float32, float32) { return clamp01(sc + dc), clamp01(sa + da) },
	"CLEAR": func(sc, sa, dc, da float32) (float32, float32) {
		return 0, 0
	},
	"DARKEN": func(sc, sa, dc, da float32) (float32, float32) {
		return float32(float32((1-da)*sc)+float32((1-sa)*dc)) + min(sc, dc), union(sa, da)
	},
	"DST": func(sc, sa, dc, da float32) (float32, float32) { return dc, da },
	"DST_ATOP": func(sc, sa, dc, da float32) (float32, float32) {
		return float32(sa*dc) + float32((1-da)*sc), sa
	},
	"DST_IN":  func(sc, sa, dc, da float32) (float32, float32) { return dc * sa, sa * da },
	"DST_OUT": func(sc, sa, dc, da float32) (float32, float32) { return (1 - sa) * dc, (1 - sa) * da },
	"DST_OVER": func(sc, sa, dc, da float32) (float32, float32) {
		return dc + float32((1-da)*sc), da + float32((1-da)*sa)
	},
	"LIGHTEN": func(sc, sa, dc, da float32) (float32, float32) {
		return float32(float32((1-da)*sc)+float32((1-sa)*dc)) + max(sc, dc), union(sa, da)
	},
	"MULTIPLY": func(sc, sa, dc, da float32) (float32, float32) { return sc * dc, sa * da },
	"OVERLAY": func(sc, sa, dc, da float32) (float32, float32) {
		if 2*dc < da {
			return 2 * sc * dc, union(sa, da)
		}
		return float32(sa*da) - float32(2*(da-sc)*(sa-dc)), union(sa, da)
	},
	"SCREEN": func(sc, sa, dc, da float32) (float32, float32) { return sc + dc - float32(sc*dc), union(sa, da) },
	"SRC":    func(sc, sa, dc, da float32) (float32, float32) { return sc, sa },
	"SRC_ATOP": func(sc, sa, dc, da float32) (float32, float32) {
		return float32(da*sc) + float32((1-sa)*dc), da
	},
	"SRC_IN":  func(sc, sa, dc, da float32) (float32, float32) { return sc * da, sa * da },
	"SRC_OUT": func(sc, sa, dc, da float32) (float32, float32) { return (1 - da) * sc, (1 - da) * sa },
	"SRC_OVER": func(sc, sa, dc, da float32) (float32, float32) {
		return sc + float32((1-sa)*dc), sa + float32((1-sa)*da)
	},
	"XOR": func(sc, sa, dc, da float32) (float32, float32) {
		return float32((1-da)*sc) + float32((1-sa)*dc), float32((1-da)*sa) + float32((1-sa)*da)
	},
}

// porterDuffOrder is PorterDuffMode's order, the combo's.
var porterDuffOrder = []string{"ADD", "CLEAR", "DARKEN", "DST", "DST_ATOP", "DST_IN", "DST_OUT", "DST_OVER",
	"LIGHTEN", "MULTIPLY", "OVERLAY", "SCREEN", "SRC", "SRC_ATOP", "SRC_IN", "SRC_OUT", "SRC_OVER", "XOR"}

// union is the alpha sa + da - sa·da.
func union(sa, da float32) float32 { return sa + da - float32(sa*da) }

var porterDuffImageComposite = node.New(node.Info{ID: "PorterDuffImageComposite", DisplayName: "Porter-Duff Image Composite",
	Category: "image/compositing", Module: modCompositing, Format: node.V3,
	SearchAliases: []string{"alpha composite", "blend modes", "layer blend", "transparency blend"}},
	func(s *node.Schema) node.RunFunc {
		source := node.Socket(s, node.Image, "source")
		sourceAlpha := node.Socket(s, node.Mask, "source_alpha")
		destination := node.Socket(s, node.Image, "destination")
		destinationAlpha := node.Socket(s, node.Mask, "destination_alpha")
		mode := s.Combo("mode", porterDuffOrder...).Default("DST")
		outImage := node.Output(s, node.Image, "IMAGE")
		outMask := node.Output(s, node.Mask, "MASK")
		return func(ctx context.Context, c *node.Call) error {
			src, err := getImage(c, source.In)
			if err != nil {
				return err
			}
			dst, err := getImage(c, destination.In)
			if err != nil {
				return err
			}
			sa, err := getMask(c, sourceAlpha.In)
			if err != nil {
				return err
			}
			da, err := getMask(c, destinationAlpha.In)
			if err != nil {
				return err
			}
			if sa == nil || da == nil {
				return fmt.Errorf("inputs source_alpha and destination_alpha must be MASKs")
			}
			op, ok := porterDuffModes[mode.Get(c)]
			if !ok {
				return node.Raise("KeyError", "'%s'", mode.Get(c))
			}
			img, m, err := porterDuff(src, sa, dst, da, op)
			if err != nil {
				return err
			}
			outImage.Set(c, img)
			outMask.Set(c, m)
			return nil
		}
	})

// porterDuff composites item by item, up to the smallest of the four
// batches. Alphas come as masks (alpha = 1 - mask) and go back as masks; the
// destination alpha, the source and the source alpha are first resized to
// the destination's size (bicubic, center crop) when they differ.
func porterDuff(src *tensor.Image, srcMask *tensor.Mask, dst *tensor.Image, dstMask *tensor.Mask,
	op func(sc, sa, dc, da float32) (float32, float32)) (*tensor.Image, *tensor.Mask, error) {
	n := min(src.B, srcMask.B, dst.B, dstMask.B)
	if n > 0 && src.C != dst.C {
		return nil, nil, node.Raise("AssertionError", "")
	}
	outImg, err := newImage(n, dst.H, dst.W, dst.C)
	if err != nil {
		return nil, nil, err
	}
	outMask, err := newMask(n, dst.H, dst.W)
	if err != nil {
		return nil, nil, err
	}
	for i := range n {
		si, di := item(src, i), item(dst, i)
		sm, dm := maskItem(srcMask, i), maskItem(dstMask, i)
		if dm.H != di.H || dm.W != di.W {
			if dm, err = scaleMask(dm, di.W, di.H, "bicubic", true); err != nil {
				return nil, nil, err
			}
		}
		if si.H != di.H || si.W != di.W {
			if si, err = scaleImage(si, di.W, di.H, "bicubic", true); err != nil {
				return nil, nil, err
			}
		}
		if sm.H != dm.H || sm.W != dm.W {
			if sm, err = scaleMask(sm, dm.W, dm.H, "bicubic", true); err != nil {
				return nil, nil, err
			}
		}
		img, alpha := outImg.Frame(i), outMask.Frame(i)
		ch := di.C
		forEach(di.H*di.W, func(lo, hi int) {
			for p := lo; p < hi; p++ {
				sa, da := 1-sm.Pix[p], 1-dm.Pix[p]
				_, oa := op(0, sa, 0, da) // no mode's alpha depends on the colors
				for k := range ch {
					oc, _ := op(si.Pix[p*ch+k]*sa, sa, di.Pix[p*ch+k]*da, da)
					if oa > 1e-5 {
						oc /= oa
					} else {
						oc = 0
					}
					img[p*ch+k] = clamp01(oc)
				}
				alpha[p] = 1 - oa
			}
		})
	}
	return outImg, outMask, nil
}

// item returns image i of a batch as a batch of one (sharing pixels).
func item(img *tensor.Image, i int) *tensor.Image {
	return &tensor.Image{B: 1, H: img.H, W: img.W, C: img.C, Pix: img.Frame(i)}
}

func maskItem(m *tensor.Mask, i int) *tensor.Mask {
	return &tensor.Mask{B: 1, H: m.H, W: m.W, Pix: m.Frame(i)}
}

var splitImageWithAlpha = node.New(node.Info{ID: "SplitImageWithAlpha", DisplayName: "Split Image with Alpha",
	Category: "image/compositing", Module: modCompositing, Format: node.V3,
	SearchAliases: []string{"extract alpha", "separate transparency", "remove alpha"}},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		outImage := node.Output(s, node.Image, "IMAGE")
		outMask := node.Output(s, node.Mask, "MASK")
		return func(ctx context.Context, c *node.Call) error {
			img, err := getImage(c, image.In)
			if err != nil {
				return err
			}
			// Without a fourth channel the alpha is ones, the mask zeros.
			mask := tensor.NewMask(img.B, img.H, img.W)
			if img.C > 3 {
				forEach(len(mask.Pix), func(lo, hi int) {
					for p := lo; p < hi; p++ {
						mask.Pix[p] = 1 - img.Pix[p*img.C+3]
					}
				})
			}
			outImage.Set(c, withChannels(img, min(img.C, 3), 0))
			outMask.Set(c, mask)
			return nil
		}
	})

var joinImageWithAlpha = node.New(node.Info{ID: "JoinImageWithAlpha", DisplayName: "Join Image with Alpha",
	Category: "image/compositing", Module: modCompositing, Format: node.V3,
	SearchAliases: []string{"add transparency", "apply alpha", "composite alpha", "RGBA"}},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		alpha := node.Socket(s, node.Mask, "alpha")
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			img, err := getImage(c, image.In)
			if err != nil {
				return err
			}
			m, err := getMask(c, alpha.In)
			if err != nil {
				return err
			}
			if m == nil {
				return fmt.Errorf("input alpha is not a MASK")
			}
			n := max(img.B, m.B)
			if m, err = scaleMask(m, img.W, img.H, "bilinear", false); err != nil {
				return err
			}
			if m, err = repeatMaskToBatch(m, n); err != nil {
				return err
			}
			if img, err = repeatToBatch(img, n); err != nil {
				return err
			}
			keep := min(img.C, 3)
			res := tensor.NewImage(n, img.H, img.W, keep+1)
			forEach(n*img.H*img.W, func(lo, hi int) {
				for p := lo; p < hi; p++ {
					copy(res.Pix[p*(keep+1):], img.Pix[p*img.C:p*img.C+keep])
					res.Pix[p*(keep+1)+keep] = 1 - m.Pix[p]
				}
			})
			out.Set(c, res)
			return nil
		}
	})
