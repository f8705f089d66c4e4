package latentnode

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/nodes/latentnode/comfyutil"
	"github.com/gocomfy/gocomfy/tensor"
)

// upscaleMethods are the latent nodes' upscale_method options.
var upscaleMethods = []string{comfyutil.NearestExact, comfyutil.Bilinear, comfyutil.Area, comfyutil.Bicubic, comfyutil.Bislerp}

// v1 returns the Info of a nodes.py class.
func v1(id, display, category string, aliases ...string) node.Info {
	return node.Info{ID: id, DisplayName: display, Category: category, Module: v1Module, SearchAliases: aliases}
}

// pyRound is Python's round() of a float to an int: half to even.
func pyRound(f float64) int { return int(math.RoundToEven(f)) }

// EmptyLatentImage makes zeroed [batch, 4, height//8, width//8] samples.
var EmptyLatentImage = node.New(node.Info{
	ID: "EmptyLatentImage", DisplayName: "Empty Latent Image", Category: "model/latent", Module: v1Module,
	Description:   "Create a new batch of empty latent images to be denoised via sampling.",
	SearchAliases: []string{"empty", "empty latent", "new latent", "create latent", "blank latent", "blank"},
}, func(s *node.Schema) node.RunFunc {
	width := s.Int("width").Default(512).Min(16).Max(maxResolution).Step(8).Tooltip("The width of the latent images in pixels.")
	height := s.Int("height").Default(512).Min(16).Max(maxResolution).Step(8).Tooltip("The height of the latent images in pixels.")
	batch := s.Int("batch_size").Default(1).Min(1).Max(4096).Tooltip("The number of latent images in the batch.")
	out := node.Output(s, node.Latent, "LATENT").Tooltip("The empty latent image batch.")
	return func(ctx context.Context, c *node.Call) error {
		t, err := comfyutil.Alloc(int(batch.Get(c)), 4, comfyutil.FloorDiv(int(height.Get(c)), 8), comfyutil.FloorDiv(int(width.Get(c)), 8))
		if err != nil {
			return err
		}
		out.Set(c, &tensor.Latent{Samples: t})
		return nil
	}
})

// LatentUpscale resizes samples to width×height pixels (÷8); a zero side
// keeps the aspect ratio, both zero leave the latent as is.
var LatentUpscale = node.New(v1("LatentUpscale", "Upscale Latent", "model/latent", "enlarge latent", "resize latent"),
	func(s *node.Schema) node.RunFunc {
		samples := node.Socket(s, node.Latent, "samples")
		method := s.Combo("upscale_method", upscaleMethods...)
		width := s.Int("width").Default(512).Min(0).Max(maxResolution).Step(8)
		height := s.Int("height").Default(512).Min(0).Max(maxResolution).Step(8)
		crop := s.Combo("crop", "disabled", "center")
		out := node.Output(s, node.Latent, "LATENT")
		return run1(samples, out, func(c *node.Call, l *tensor.Latent) (*tensor.Latent, error) {
			w, h := int(width.Get(c)), int(height.Get(c))
			if w == 0 && h == 0 {
				return l, nil
			}
			r := len(l.Samples.Shape)
			H8, W8 := l.Samples.Shape[r-2], l.Samples.Shape[r-1]
			switch {
			case w == 0:
				h = max(64, h)
				w = max(64, pyRound(float64(W8*h)/float64(H8)))
			case h == 0:
				w = max(64, w)
				h = max(64, pyRound(float64(H8*w)/float64(W8)))
			default:
				w, h = max(64, w), max(64, h)
			}
			t, err := comfyutil.Upscale(l.Samples, comfyutil.FloorDiv(w, 8), comfyutil.FloorDiv(h, 8), method.Get(c), crop.Get(c))
			if err != nil {
				return nil, err
			}
			return with(l, t), nil
		})
	})

// LatentUpscaleBy scales samples by a factor (sizes rounded half to even).
var LatentUpscaleBy = node.New(v1("LatentUpscaleBy", "Upscale Latent By", "model/latent", "enlarge latent", "resize latent", "scale latent"),
	func(s *node.Schema) node.RunFunc {
		samples := node.Socket(s, node.Latent, "samples")
		method := s.Combo("upscale_method", upscaleMethods...)
		scale := s.Float("scale_by").Default(1.5).Min(0.01).Max(8).Step(0.01)
		out := node.Output(s, node.Latent, "LATENT")
		return run1(samples, out, func(c *node.Call, l *tensor.Latent) (*tensor.Latent, error) {
			r := len(l.Samples.Shape)
			f := scale.Get(c)
			w := pyRound(float64(l.Samples.Shape[r-1]) * f)
			h := pyRound(float64(l.Samples.Shape[r-2]) * f)
			t, err := comfyutil.Upscale(l.Samples, w, h, method.Get(c), "disabled")
			if err != nil {
				return nil, err
			}
			return with(l, t), nil
		})
	})

// LatentFromBatch takes length items from batch_index on (negative indices
// count from the end), with their noise masks and batch indices.
var LatentFromBatch = node.New(v1("LatentFromBatch", "Get Latent From Batch", "model/latent/batch", "select from batch", "pick latent", "batch subset"),
	func(s *node.Schema) node.RunFunc {
		samples := node.Socket(s, node.Latent, "samples")
		index := s.Int("batch_index").Default(0).Min(-maxResolution).Max(maxResolution)
		length := s.Int("length").Default(1).Min(1).Max(64)
		out := node.Output(s, node.Latent, "LATENT")
		return run1(samples, out, func(c *node.Call, l *tensor.Latent) (*tensor.Latent, error) {
			b := l.Samples.Shape[0]
			i := int(index.Get(c))
			if i < 0 {
				i += b
			}
			i = max(0, min(b-1, i))
			n := min(b-i, int(length.Get(c)))
			lo, hi := comfyutil.PySlice(i, i+n, b)
			res := with(l, narrow(l.Samples, 0, lo, hi-lo))
			if m := l.NoiseMask; m != nil && m.Shape[0] != 1 {
				if m.Shape[0] < b {
					m = comfyutil.RepeatToBatch(m, b)
				}
				mlo, mhi := comfyutil.PySlice(i, i+n, m.Shape[0])
				res.NoiseMask = narrow(m, 0, mlo, mhi-mlo)
			}
			if l.BatchIndex == nil {
				res.BatchIndex = make([]int, 0, n)
				for k := i; k < i+n; k++ {
					res.BatchIndex = append(res.BatchIndex, k)
				}
			} else {
				blo, bhi := comfyutil.PySlice(i, i+n, len(l.BatchIndex))
				res.BatchIndex = slices.Clone(l.BatchIndex[blo:bhi])
			}
			return res, nil
		})
	})

// RepeatLatentBatch tiles the batch amount times; batch indices of the
// copies are offset by the span of the original ones.
var RepeatLatentBatch = node.New(v1("RepeatLatentBatch", "Repeat Latent Batch", "model/latent/batch", "duplicate latent", "clone latent"),
	func(s *node.Schema) node.RunFunc {
		samples := node.Socket(s, node.Latent, "samples")
		amount := s.Int("amount").Default(1).Min(1).Max(64)
		out := node.Output(s, node.Latent, "LATENT")
		return run1(samples, out, func(c *node.Call, l *tensor.Latent) (*tensor.Latent, error) {
			n := int(amount.Get(c))
			if n < 1 {
				return nil, fmt.Errorf("Trying to create tensor with negative dimension %d", n)
			}
			res := with(l, tile(l.Samples, n))
			// ComfyUI computes a batch-sized copy of the masks and then
			// tiles the original ones [quirk]: only the latter is visible.
			if m := l.NoiseMask; m != nil && m.Shape[0] > 1 {
				res.NoiseMask = tile(m, n)
			}
			if bi := l.BatchIndex; bi != nil {
				if len(bi) == 0 {
					return nil, node.Raise("ValueError", "max() iterable argument is empty")
				}
				offset := slices.Max(bi) - slices.Min(bi) + 1
				res.BatchIndex = slices.Clone(bi)
				for i := 1; i < n; i++ {
					for _, x := range bi {
						res.BatchIndex = append(res.BatchIndex, x+i*offset)
					}
				}
			}
			return res, nil
		})
	})

// SetLatentNoiseMask sets the noise mask to the mask as [B,1,H,W].
var SetLatentNoiseMask = node.New(v1("SetLatentNoiseMask", "Set Latent Noise Mask", "model/latent"),
	func(s *node.Schema) node.RunFunc {
		samples := node.Socket(s, node.Latent, "samples")
		mask := node.Socket(s, node.Mask, "mask")
		out := node.Output(s, node.Latent, "LATENT")
		return run1(samples, out, func(c *node.Call, l *tensor.Latent) (*tensor.Latent, error) {
			m := mask.Get(c)
			if m == nil {
				return nil, node.Raise("ValueError", "input mask: no mask")
			}
			res := *l
			// Values are immutable, so the mask's pixels are shared.
			res.NoiseMask = &tensor.Tensor{Shape: []int{m.B, 1, m.H, m.W}, Data: m.Pix}
			return &res, nil
		})
	})

// LatentComposite pastes samples_from into samples_to at (x, y) pixels,
// optionally feathering the edges that are inside the destination.
var LatentComposite = node.New(v1("LatentComposite", "Latent Composite", "model/latent", "overlay latent", "layer latent", "paste latent"),
	func(s *node.Schema) node.RunFunc {
		to := node.Socket(s, node.Latent, "samples_to")
		from := node.Socket(s, node.Latent, "samples_from")
		x := s.Int("x").Default(0).Min(0).Max(maxResolution).Step(8)
		y := s.Int("y").Default(0).Min(0).Max(maxResolution).Step(8)
		feather := s.Int("feather").Default(0).Min(0).Max(maxResolution).Step(8)
		out := node.Output(s, node.Latent, "LATENT")
		return run2(to, from, out, func(c *node.Call, a, b *tensor.Latent) (*tensor.Latent, error) {
			t, err := composite(a.Samples, b.Samples, comfyutil.FloorDiv(int(x.Get(c)), 8), comfyutil.FloorDiv(int(y.Get(c)), 8), comfyutil.FloorDiv(int(feather.Get(c)), 8))
			if err != nil {
				return nil, err
			}
			return with(a, t), nil
		})
	})

// composite is LatentComposite on samples: src, cut to what fits, replaces
// dst from (y, x) on dimensions 2 and 3, weighted by the feather ramps.
func composite(dst, src *tensor.Tensor, x, y, feather int) (*tensor.Tensor, error) {
	toH, toW := dst.Shape[2], dst.Shape[3]
	// samples_from[:, :, :toH-y, :toW-x] goes to s[:, :, y:y+h, x:x+w].
	_, h := comfyutil.PySlice(0, toH-y, src.Shape[2])
	_, w := comfyutil.PySlice(0, toW-x, src.Shape[3])
	dy0, dy1 := comfyutil.PySlice(y, y+h, toH)
	dx0, dx1 := comfyutil.PySlice(x, x+w, toW)
	// The part of src is assigned with torch's broadcasting: each of its
	// dimensions must be the target's or 1.
	th, tw := dy1-dy0, dx1-dx0
	if !broadcastsTo([]int{h, w}, []int{th, tw}) || !broadcastsTo(src.Shape[:2], dst.Shape[:2]) || !slices.Equal(src.Shape[4:], dst.Shape[4:]) {
		return nil, fmt.Errorf("The expanded size of the tensor (%d) must match the existing size (%d) at non-singleton dimension 3.  Target sizes: %v.  Tensor sizes: %v", tw, w, dst.Shape, src.Shape)
	}
	mask := featherMask(h, w, feather, y != 0, y+h < toH, x != 0, x+w < toW)
	out := tensor.New(dst.Shape...)
	copy(out.Data, dst.Data)
	N, C, inner := dst.Shape[0], dst.Shape[1], prod(dst.Shape[4:])
	sN, sC, sH, sW := src.Shape[0], src.Shape[1], src.Shape[2], src.Shape[3]
	for n := range N {
		for ch := range C {
			sp := src.Data[((n%sN)*sC+ch%sC)*sH*sW*inner:]
			dp := out.Data[(n*C+ch)*toH*toW*inner:]
			for i := range th {
				for j := range tw {
					si, sj := i%h, j%w
					m := mask[si*w+sj]
					for k := range inner {
						d := &dp[((dy0+i)*toW+dx0+j)*inner+k]
						v := sp[(si*sW+sj)*inner+k]
						if feather == 0 {
							*d = v
						} else {
							*d = v*m + *d*(1-m)
						}
					}
				}
			}
		}
	}
	return out, nil
}

// broadcastsTo reports whether dims can be assigned into target dims
// (each equal or 1).
func broadcastsTo(dims, target []int) bool {
	for i := range dims {
		if dims[i] != target[i] && dims[i] != 1 {
			return false
		}
	}
	return true
}

// featherMask is LatentComposite's h×w mask: for t < feather, row t (if top),
// row h-1-t (if bottom), column t (if left) and column w-1-t (if right) are
// multiplied by (t+1)/feather, in that order, with Python's slice rules
// (so a ramp longer than the side wraps around [quirk]).
func featherMask(h, w, feather int, top, bottom, left, right bool) []float32 {
	mask := make([]float32, h*w)
	for i := range mask {
		mask[i] = 1
	}
	rows := func(lo, hi int, f float32) {
		lo, hi = comfyutil.PySlice(lo, hi, h)
		for i := lo; i < hi; i++ {
			for j := range w {
				mask[i*w+j] *= f
			}
		}
	}
	cols := func(lo, hi int, f float32) {
		lo, hi = comfyutil.PySlice(lo, hi, w)
		for i := range h {
			for j := lo; j < hi; j++ {
				mask[i*w+j] *= f
			}
		}
	}
	for t := range feather {
		f := float32((1.0 / float64(feather)) * float64(t+1))
		if top {
			rows(t, t+1, f)
		}
		if bottom {
			rows(h-1-t, h-t, f)
		}
		if left {
			cols(t, t+1, f)
		}
		if right {
			cols(w-1-t, w-t, f)
		}
	}
	return mask
}

// LatentBlend mixes two latents: samples1·f + samples2·(1−f), samples2
// resized (bicubic, center crop) to samples1 first if the shapes differ.
var LatentBlend = node.New(v1("LatentBlend", "Latent Blend", "experimental", "mix latents", "interpolate latents"),
	func(s *node.Schema) node.RunFunc {
		s1 := node.Socket(s, node.Latent, "samples1")
		s2 := node.Socket(s, node.Latent, "samples2")
		// ComfyUI writes min and max as ints (0, 1), not floats; Min and Max
		// set the bounds validation uses, Option the values shown.
		factor := s.Float("blend_factor").Default(0.5).Min(0).Max(1).Step(0.01).
			Option("min", int64(0)).Option("max", int64(1))
		out := node.Output(s, node.Latent, "LATENT")
		return run2(s1, s2, out, func(c *node.Call, a, b *tensor.Latent) (*tensor.Latent, error) {
			t1, t2 := a.Samples, b.Samples
			if !slices.Equal(t1.Shape, t2.Shape) {
				var err error
				if t2, err = comfyutil.Upscale(t2, t1.Shape[3], t1.Shape[2], comfyutil.Bicubic, "center"); err != nil {
					return nil, err
				}
			}
			f := factor.Get(c)
			fa, fb := float32(f), float32(1-f)
			t, err := zipWith(t1, t2, func(x, y float32) float32 { return x*fa + y*fb })
			if err != nil {
				return nil, err
			}
			return with(a, t), nil
		})
	})

// LatentRotate turns the samples clockwise by quarter turns.
var LatentRotate = node.New(v1("LatentRotate", "Rotate Latent", "model/latent/transform"),
	func(s *node.Schema) node.RunFunc {
		samples := node.Socket(s, node.Latent, "samples")
		rotation := s.Combo("rotation", "none", "90 degrees", "180 degrees", "270 degrees")
		out := node.Output(s, node.Latent, "LATENT")
		return run1(samples, out, func(c *node.Call, l *tensor.Latent) (*tensor.Latent, error) {
			k := 0
			switch r := rotation.Get(c); {
			case strings.HasPrefix(r, "90"):
				k = 1
			case strings.HasPrefix(r, "180"):
				k = 2
			case strings.HasPrefix(r, "270"):
				k = 3
			}
			return with(l, rot90(l.Samples, k)), nil
		})
	})

// LatentFlip mirrors the samples along dimension 2 ("x-axis") or 3.
var LatentFlip = node.New(v1("LatentFlip", "Flip Latent", "model/latent/transform", "mirror latent"),
	func(s *node.Schema) node.RunFunc {
		samples := node.Socket(s, node.Latent, "samples")
		method := s.Combo("flip_method", "x-axis: vertically", "y-axis: horizontally")
		out := node.Output(s, node.Latent, "LATENT")
		return run1(samples, out, func(c *node.Call, l *tensor.Latent) (*tensor.Latent, error) {
			switch m := method.Get(c); {
			case strings.HasPrefix(m, "x"):
				return with(l, flip(l.Samples, 2)), nil
			case strings.HasPrefix(m, "y"):
				return with(l, flip(l.Samples, 3)), nil
			}
			return with(l, l.Samples), nil
		})
	})

// LatentCrop cuts a width×height pixel region at (x, y), the origin kept at
// least 8 latent pixels from the right and bottom edges.
var LatentCrop = node.New(v1("LatentCrop", "Crop Latent", "model/latent/transform", "trim latent", "cut latent"),
	func(s *node.Schema) node.RunFunc {
		samples := node.Socket(s, node.Latent, "samples")
		width := s.Int("width").Default(512).Min(64).Max(maxResolution).Step(8)
		height := s.Int("height").Default(512).Min(64).Max(maxResolution).Step(8)
		x := s.Int("x").Default(0).Min(0).Max(maxResolution).Step(8)
		y := s.Int("y").Default(0).Min(0).Max(maxResolution).Step(8)
		out := node.Output(s, node.Latent, "LATENT")
		return run1(samples, out, func(c *node.Call, l *tensor.Latent) (*tensor.Latent, error) {
			t := l.Samples
			x0, y0 := comfyutil.FloorDiv(int(x.Get(c)), 8), comfyutil.FloorDiv(int(y.Get(c)), 8)
			x0, y0 = min(x0, t.Shape[3]-8), min(y0, t.Shape[2]-8)
			ylo, yhi := comfyutil.PySlice(y0, y0+comfyutil.FloorDiv(int(height.Get(c)), 8), t.Shape[2])
			xlo, xhi := comfyutil.PySlice(x0, x0+comfyutil.FloorDiv(int(width.Get(c)), 8), t.Shape[3])
			return with(l, narrow(narrow(t, 2, ylo, yhi-ylo), 3, xlo, xhi-xlo)), nil
		})
	})
