package masknode

import (
	"context"
	"math"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/nodes/latentnode/comfyutil"
	"github.com/gocomfy/gocomfy/tensor"
)

// mapMask returns a new mask with f applied to every pixel.
func mapMask(m *tensor.Mask, f func(float32) float32) *tensor.Mask {
	out := tensor.NewMask(m.B, m.H, m.W)
	comfyutil.Parallel(len(m.Pix), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out.Pix[i] = f(m.Pix[i])
		}
	})
	return out
}

// maskMap declares a class whose only input is a mask and whose output is
// the pixelwise f of it; params declares extra inputs and returns f for
// one call.
func maskMap(i node.Info, params func(s *node.Schema) func(c *node.Call) func(float32) float32) *node.Class {
	return node.New(i, func(s *node.Schema) node.RunFunc {
		in := node.Socket(s, node.Mask, "mask")
		f := params(s)
		out := node.Output(s, node.Mask, "MASK")
		return func(ctx context.Context, c *node.Call) error {
			m, err := mask(c, in)
			if err != nil {
				return err
			}
			out.Set(c, mapMask(m, f(c)))
			return nil
		}
	})
}

// SolidMask is a 1×height×width mask of one value.
var SolidMask = node.New(maskInfo("SolidMask", "Create Solid Mask"), func(s *node.Schema) node.RunFunc {
	value := s.Float("value").Default(1).Min(0).Max(1).Step(0.01)
	width := s.Int("width").Default(512).Min(1).Max(maxResolution).Step(1)
	height := s.Int("height").Default(512).Min(1).Max(maxResolution).Step(1)
	out := node.Output(s, node.Mask, "MASK")
	return func(ctx context.Context, c *node.Call) error {
		t, err := comfyutil.Alloc(1, int(height.Get(c)), int(width.Get(c)))
		if err != nil {
			return err
		}
		v := float32(value.Get(c))
		for i := range t.Data {
			t.Data[i] = v
		}
		out.Set(c, asMask(t))
		return nil
	}
})

// InvertMask is 1 − mask.
var InvertMask = maskMap(maskInfo("InvertMask", "Invert Mask", "reverse mask", "flip mask"),
	func(s *node.Schema) func(c *node.Call) func(float32) float32 {
		return func(c *node.Call) func(float32) float32 { return func(x float32) float32 { return 1 - x } }
	})

// ThresholdMask is 1 where mask > value, else 0 (compared in float32, as
// torch compares a float32 tensor with a Python float).
var ThresholdMask = maskMap(maskInfo("ThresholdMask", "Threshold Mask", "binary mask"),
	func(s *node.Schema) func(c *node.Call) func(float32) float32 {
		value := s.Float("value").Default(0.5).Min(0).Max(1).Step(0.01)
		return func(c *node.Call) func(float32) float32 {
			v := float32(value.Get(c))
			return func(x float32) float32 {
				if x > v {
					return 1
				}
				return 0
			}
		}
	})

// CropMask keeps [y:y+height, x:x+width] of every mask (clipped).
var CropMask = node.New(maskInfo("CropMask", "Crop Mask", "cut mask", "extract mask region", "mask slice"),
	func(s *node.Schema) node.RunFunc {
		in := node.Socket(s, node.Mask, "mask")
		x := s.Int("x").Default(0).Min(0).Max(maxResolution).Step(1)
		y := s.Int("y").Default(0).Min(0).Max(maxResolution).Step(1)
		width := s.Int("width").Default(512).Min(1).Max(maxResolution).Step(1)
		height := s.Int("height").Default(512).Min(1).Max(maxResolution).Step(1)
		out := node.Output(s, node.Mask, "MASK")
		return func(ctx context.Context, c *node.Call) error {
			m, err := mask(c, in)
			if err != nil {
				return err
			}
			x0, y0 := int(x.Get(c)), int(y.Get(c))
			ylo, yhi := comfyutil.PySlice(y0, y0+int(height.Get(c)), m.H)
			xlo, xhi := comfyutil.PySlice(x0, x0+int(width.Get(c)), m.W)
			res := tensor.NewMask(m.B, yhi-ylo, xhi-xlo)
			for b := range m.B {
				for r := ylo; r < yhi; r++ {
					copy(res.Pix[(b*res.H+r-ylo)*res.W:], m.Pix[(b*m.H+r)*m.W+xlo:(b*m.H+r)*m.W+xhi])
				}
			}
			out.Set(c, res)
			return nil
		}
	})

// compositeOps are MaskComposite's operations on a destination and a source
// pixel (and/or/xor on round()ed booleans).
var compositeOps = map[string]func(d, s float32) float32{
	"multiply": func(d, s float32) float32 { return d * s },
	"add":      func(d, s float32) float32 { return d + s },
	"subtract": func(d, s float32) float32 { return d - s },
	"and":      func(d, s float32) float32 { return b2f(roundBool(d) && roundBool(s)) },
	"or":       func(d, s float32) float32 { return b2f(roundBool(d) || roundBool(s)) },
	"xor":      func(d, s float32) float32 { return b2f(roundBool(d) != roundBool(s)) },
}

// roundBool is torch's x.round().bool(): round half to even, then non-zero.
func roundBool(x float32) bool { return math.RoundToEven(float64(x)) != 0 }

func b2f(b bool) float32 {
	if b {
		return 1
	}
	return 0
}

// MaskComposite combines source into destination at (x, y) with an
// operation, then clamps everything to 0..1.
var MaskComposite = node.New(maskInfo("MaskComposite", "Combine Masks", "combine masks", "blend masks", "layer masks", "masks composition"),
	func(s *node.Schema) node.RunFunc {
		dst := node.Socket(s, node.Mask, "destination")
		src := node.Socket(s, node.Mask, "source")
		x := s.Int("x").Default(0).Min(0).Max(maxResolution).Step(1)
		y := s.Int("y").Default(0).Min(0).Max(maxResolution).Step(1)
		op := s.Combo("operation", "multiply", "add", "subtract", "and", "or", "xor")
		out := node.Output(s, node.Mask, "MASK")
		return func(ctx context.Context, c *node.Call) error {
			d, err := mask(c, dst)
			if err != nil {
				return err
			}
			sm, err := mask(c, src)
			if err != nil {
				return err
			}
			f, ok := compositeOps[op.Get(c)]
			if !ok {
				return node.Raise("ValueError", "unknown operation %q", op.Get(c))
			}
			res, err := maskComposite(d, sm, int(x.Get(c)), int(y.Get(c)), f)
			if err != nil {
				return err
			}
			out.Set(c, res)
			return nil
		}
	})

// maskComposite is MaskComposite on masks. The source's visible part
// (source[:, :bottom-top, :right-left]) must have the destination region's
// size, or a size of 1 that broadcasts, and its batch must be the
// destination's or 1; anything else is torch's shape error.
func maskComposite(d, s *tensor.Mask, x, y int, f func(d, s float32) float32) (*tensor.Mask, error) {
	right, bottom := min(x+s.W, d.W), min(y+s.H, d.H)
	dy0, dy1 := comfyutil.PySlice(y, bottom, d.H)
	dx0, dx1 := comfyutil.PySlice(x, right, d.W)
	_, sh := comfyutil.PySlice(0, bottom-y, s.H)
	_, sw := comfyutil.PySlice(0, right-x, s.W)
	h, w := dy1-dy0, dx1-dx0
	if (sh != h && sh != 1) || (sw != w && sw != 1) || (s.B != d.B && s.B != 1) {
		return nil, node.Raise("RuntimeError", "The size of tensor a (%d) must match the size of tensor b (%d) at non-singleton dimension 2", w, sw)
	}
	out := tensor.NewMask(d.B, d.H, d.W)
	copy(out.Pix, d.Pix)
	for b := range d.B {
		sb := b % s.B
		for i := range h {
			row := out.Pix[(b*d.H+dy0+i)*d.W+dx0:]
			srow := s.Pix[(sb*s.H+i%sh)*s.W:]
			for j := range w {
				row[j] = f(row[j], srow[j%sw])
			}
		}
	}
	for i, v := range out.Pix {
		out.Pix[i] = min(max(v, 0), 1)
	}
	return out, nil
}

// FeatherMask fades the first left columns, last right columns, first top
// rows and last bottom rows linearly towards the edge: the k-th column or
// row from an edge (k = 1 at the edge) is multiplied by k/amount.
var FeatherMask = node.New(maskInfo("FeatherMask", "Feather Mask", "soft edge mask", "blur mask edges", "gradient mask edge"),
	func(s *node.Schema) node.RunFunc {
		in := node.Socket(s, node.Mask, "mask")
		left := s.Int("left").Default(0).Min(0).Max(maxResolution).Step(1)
		top := s.Int("top").Default(0).Min(0).Max(maxResolution).Step(1)
		right := s.Int("right").Default(0).Min(0).Max(maxResolution).Step(1)
		bottom := s.Int("bottom").Default(0).Min(0).Max(maxResolution).Step(1)
		out := node.Output(s, node.Mask, "MASK")
		return func(ctx context.Context, c *node.Call) error {
			m, err := mask(c, in)
			if err != nil {
				return err
			}
			res := tensor.NewMask(m.B, m.H, m.W)
			copy(res.Pix, m.Pix)
			l, r := min(int(left.Get(c)), m.W), min(int(right.Get(c)), m.W)
			t, bt := min(int(top.Get(c)), m.H), min(int(bottom.Get(c)), m.H)
			// In ComfyUI's order: left, right, top, bottom.
			for k := range l {
				scaleCol(res, k, rate(k, l))
			}
			for k := range r {
				scaleCol(res, m.W-1-k, rate(k, r))
			}
			for k := range t {
				scaleRow(res, k, rate(k, t))
			}
			for k := range bt {
				scaleRow(res, m.H-1-k, rate(k, bt))
			}
			out.Set(c, res)
			return nil
		}
	})

// rate is FeatherMask's (k+1)/amount, a Python float applied in float32.
func rate(k, amount int) float32 { return float32(float64(k+1) / float64(amount)) }

func scaleCol(m *tensor.Mask, x int, f float32) {
	for r := range m.B * m.H {
		m.Pix[r*m.W+x] *= f
	}
}

func scaleRow(m *tensor.Mask, y int, f float32) {
	for b := range m.B {
		row := m.Pix[(b*m.H+y)*m.W : (b*m.H+y+1)*m.W]
		for i := range row {
			row[i] *= f
		}
	}
}

// GrowMask dilates (expand > 0) or erodes (expand < 0) each mask |expand|
// times with a 3×3 footprint, a plus shape when tapered_corners is set
// (scipy.ndimage grey_dilation/grey_erosion; their default "reflect"
// border repeats the edge pixel, which a 3×3 footprint already covers, so
// out-of-plane neighbours are simply skipped).
var GrowMask = node.New(maskInfo("GrowMask", "Grow Mask", "expand mask", "shrink mask"),
	func(s *node.Schema) node.RunFunc {
		in := node.Socket(s, node.Mask, "mask")
		expand := s.Int("expand").Default(0).Min(-maxResolution).Max(maxResolution).Step(1)
		tapered := s.Bool("tapered_corners").Default(true).Advanced()
		out := node.Output(s, node.Mask, "MASK")
		return func(ctx context.Context, c *node.Call) error {
			m, err := mask(c, in)
			if err != nil {
				return err
			}
			res, err := grow(ctx, m, int(expand.Get(c)), tapered.Get(c))
			if err != nil {
				return err
			}
			out.Set(c, res)
			return nil
		}
	})

// grow runs GrowMask's iterations. It stops early once an iteration changes
// nothing, since every later one would give the same mask.
func grow(ctx context.Context, m *tensor.Mask, expand int, tapered bool) (*tensor.Mask, error) {
	cur := tensor.NewMask(m.B, m.H, m.W)
	copy(cur.Pix, m.Pix)
	if expand == 0 {
		return cur, nil
	}
	better := func(a, b float32) bool { return a > b } // dilation keeps the maximum
	if expand < 0 {
		better = func(a, b float32) bool { return a < b }
	}
	next := tensor.NewMask(m.B, m.H, m.W)
	for range max(expand, -expand) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		changed := make([]bool, m.B*m.H)
		comfyutil.Parallel(m.B*m.H, m.W*9, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				b, y := r/m.H, r%m.H
				for x := range m.W {
					v := cur.Pix[r*m.W+x]
					for dy := -1; dy <= 1; dy++ {
						for dx := -1; dx <= 1; dx++ {
							yy, xx := y+dy, x+dx
							if tapered && dy != 0 && dx != 0 || yy < 0 || yy >= m.H || xx < 0 || xx >= m.W {
								continue
							}
							if n := cur.Pix[(b*m.H+yy)*m.W+xx]; better(n, v) {
								v = n
							}
						}
					}
					if v != cur.Pix[r*m.W+x] {
						changed[r] = true
					}
					next.Pix[r*m.W+x] = v
				}
			}
		})
		cur, next = next, cur
		if !anyTrue(changed) {
			break
		}
	}
	return cur, nil
}

func anyTrue(bs []bool) bool {
	for _, b := range bs {
		if b {
			return true
		}
	}
	return false
}

// ImageToMask takes one channel of an image as a mask.
var ImageToMask = node.New(maskInfo("ImageToMask", "Convert Image to Mask", "extract channel", "channel to mask"),
	func(s *node.Schema) node.RunFunc {
		in := node.Socket(s, node.Image, "image")
		channel := s.Combo("channel", "red", "green", "blue", "alpha")
		out := node.Output(s, node.Mask, "MASK")
		return func(ctx context.Context, c *node.Call) error {
			img, err := image(c, in)
			if err != nil {
				return err
			}
			ch := map[string]int{"red": 0, "green": 1, "blue": 2, "alpha": 3}[channel.Get(c)]
			if ch >= img.C {
				return node.Raise("IndexError", "index %d is out of bounds for dimension 3 with size %d", ch, img.C)
			}
			res := tensor.NewMask(img.B, img.H, img.W)
			for i := range res.Pix {
				res.Pix[i] = img.Pix[i*img.C+ch]
			}
			out.Set(c, res)
			return nil
		}
	})

// MaskToImage repeats a mask into the three channels of a grey image.
var MaskToImage = node.New(maskInfo("MaskToImage", "Convert Mask to Image", "convert mask"),
	func(s *node.Schema) node.RunFunc {
		in := node.Socket(s, node.Mask, "mask")
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			m, err := mask(c, in)
			if err != nil {
				return err
			}
			img := tensor.NewImage(m.B, m.H, m.W, 3)
			for i, v := range m.Pix {
				img.Pix[3*i], img.Pix[3*i+1], img.Pix[3*i+2] = v, v, v
			}
			out.Set(c, img)
			return nil
		}
	})

// ImageColorToMask is 1 where a pixel's 8-bit RGB, packed as 0xRRGGBB,
// equals color.
var ImageColorToMask = node.New(maskInfo("ImageColorToMask", "Convert Image Color to Mask", "color keying", "chroma key"),
	func(s *node.Schema) node.RunFunc {
		in := node.Socket(s, node.Image, "image")
		color := s.Int("color").Default(0).Min(0).Max(0xFFFFFF).Step(1).Display("number")
		out := node.Output(s, node.Mask, "MASK")
		return func(ctx context.Context, c *node.Call) error {
			img, err := image(c, in)
			if err != nil {
				return err
			}
			if img.C < 3 {
				return node.Raise("IndexError", "index %d is out of bounds for dimension 3 with size %d", img.C, img.C)
			}
			want := color.Get(c)
			res := tensor.NewMask(img.B, img.H, img.W)
			for i := range res.Pix {
				p := img.Pix[i*img.C:]
				if byte8(p[0])<<16+byte8(p[1])<<8+byte8(p[2]) == want {
					res.Pix[i] = 1
				}
			}
			out.Set(c, res)
			return nil
		}
	})

// byte8 is ImageColorToMask's (clamp(x, 0, 1)·255).round() in float32.
func byte8(x float32) int64 {
	return int64(math.RoundToEven(float64(min(max(x, 0), 1) * 255)))
}
