package latentnode

import (
	"slices"
	"strings"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/nodes/latentnode/comfyutil"
	"github.com/gocomfy/gocomfy/tensor"
)

// advanced returns the Info of a nodes_latent.py class of category
// model/latent/advanced, which have no display name.
func advanced(id string, aliases ...string) node.Info {
	return node.Info{ID: id, Category: "model/latent/advanced", Module: extrasModule, Format: node.V3, SearchAliases: aliases}
}

// reshapeLatentTo is nodes_latent.reshape_latent_to: l resized (bilinear,
// center crop) to target's H×W if any non-batch dimension differs, then,
// if repeat, repeated or cut to target's batch.
func reshapeLatentTo(target []int, l *tensor.Tensor, repeat bool) (*tensor.Tensor, error) {
	if !slices.Equal(l.Shape[1:], target[1:]) {
		var err error
		r := len(target)
		if l, err = comfyutil.Upscale(l, target[r-1], target[r-2], comfyutil.Bilinear, "center"); err != nil {
			return nil, err
		}
	}
	if repeat {
		return comfyutil.RepeatToBatch(l, target[0]), nil
	}
	return l, nil
}

// arith declares LatentAdd or LatentSubtract: samples2 is reshaped to
// samples1, then combined elementwise.
func arith(info node.Info, f func(a, b float32) float32) *node.Class {
	return node.New(info, func(s *node.Schema) node.RunFunc {
		s1 := node.Socket(s, node.Latent, "samples1")
		s2 := node.Socket(s, node.Latent, "samples2")
		out := node.Output(s, node.Latent, "LATENT")
		return run2(s1, s2, out, func(c *node.Call, a, b *tensor.Latent) (*tensor.Latent, error) {
			t2, err := reshapeLatentTo(a.Samples.Shape, b.Samples, true)
			if err != nil {
				return nil, err
			}
			t, err := zipWith(a.Samples, t2, f)
			if err != nil {
				return nil, err
			}
			return with(a, t), nil
		})
	})
}

// LatentAdd adds samples2 to samples1.
var LatentAdd = arith(advanced("LatentAdd", "combine latents", "sum latents"),
	func(a, b float32) float32 { return a + b })

// LatentSubtract subtracts samples2 from samples1.
var LatentSubtract = arith(advanced("LatentSubtract", "difference latent", "remove features"),
	func(a, b float32) float32 { return a - b })

// LatentMultiply scales the samples.
var LatentMultiply = node.New(advanced("LatentMultiply", "scale latent", "amplify latent", "latent gain"),
	func(s *node.Schema) node.RunFunc {
		samples := node.Socket(s, node.Latent, "samples")
		mult := s.Float("multiplier").Default(1).Min(-10).Max(10).Step(0.01)
		out := node.Output(s, node.Latent, "LATENT")
		return run1(samples, out, func(c *node.Call, l *tensor.Latent) (*tensor.Latent, error) {
			m := float32(mult.Get(c))
			return with(l, mapData(l.Samples, func(x float32) float32 { return x * m })), nil
		})
	})

// LatentInterpolate lerps the directions of the channel vectors and their
// magnitudes separately. ComfyUI's norms are [B,H,W] broadcast against
// [B,C,H,W], which is right only for a batch of one [quirk]; the same is
// done here, so other batches give ComfyUI's values or its error.
var LatentInterpolate = node.New(advanced("LatentInterpolate", "blend latent", "mix latent", "lerp latent", "transition"),
	func(s *node.Schema) node.RunFunc {
		s1 := node.Socket(s, node.Latent, "samples1")
		s2 := node.Socket(s, node.Latent, "samples2")
		ratio := s.Float("ratio").Default(1).Min(0).Max(1).Step(0.01)
		out := node.Output(s, node.Latent, "LATENT")
		return run2(s1, s2, out, func(c *node.Call, a, b *tensor.Latent) (*tensor.Latent, error) {
			t2, err := reshapeLatentTo(a.Samples.Shape, b.Samples, true)
			if err != nil {
				return nil, err
			}
			t, err := interpolate(a.Samples, t2, ratio.Get(c))
			if err != nil {
				return nil, err
			}
			return with(a, t), nil
		})
	})

// interpolate is LatentInterpolate's arithmetic, step by step as ComfyUI
// does it in float32.
func interpolate(s1, s2 *tensor.Tensor, ratio float64) (*tensor.Tensor, error) {
	r, q := float32(ratio), float32(1-ratio)
	div := func(x, y float32) float32 { return nanToNum(x / y) }
	m1, m2 := channelNorm(s1), channelNorm(s2)
	n1, err := zipWith(s1, m1, div)
	if err != nil {
		return nil, err
	}
	n2, err := zipWith(s2, m2, div)
	if err != nil {
		return nil, err
	}
	t, err := zipWith(n1, n2, func(x, y float32) float32 { return x*r + y*q })
	if err != nil {
		return nil, err
	}
	st, err := zipWith(t, channelNorm(t), div)
	if err != nil {
		return nil, err
	}
	mag, err := zipWith(m1, m2, func(x, y float32) float32 { return x*r + y*q })
	if err != nil {
		return nil, err
	}
	return zipWith(st, mag, func(x, y float32) float32 { return x * y })
}

// axis maps LatentConcat's, LatentCut's and LatentCutToBatch's dim option
// ("x", "y", "t", possibly with a "-") to a dimension of a rank-r tensor.
func axis(dim string, r int) int {
	switch {
	case strings.Contains(dim, "x"):
		return r - 1
	case strings.Contains(dim, "y"):
		return r - 2
	}
	return r - 3
}

// LatentConcat joins samples2 (repeated to samples1's batch) to samples1
// along x, y or t; a "-" puts samples2 first.
var LatentConcat = node.New(advanced("LatentConcat", "join latents", "stitch latents"),
	func(s *node.Schema) node.RunFunc {
		s1 := node.Socket(s, node.Latent, "samples1")
		s2 := node.Socket(s, node.Latent, "samples2")
		dim := s.Combo("dim", "x", "-x", "y", "-y", "t", "-t")
		out := node.Output(s, node.Latent, "LATENT")
		return run2(s1, s2, out, func(c *node.Call, a, b *tensor.Latent) (*tensor.Latent, error) {
			t1, t2 := a.Samples, comfyutil.RepeatToBatch(b.Samples, a.Samples.Shape[0])
			d := dim.Get(c)
			if strings.Contains(d, "-") {
				t1, t2 = t2, t1
			}
			t, err := cat(axis(d, len(t1.Shape)), t1, t2)
			if err != nil {
				return nil, err
			}
			return with(a, t), nil
		})
	})

// LatentCut keeps amount elements from index on (negative: from the end)
// along x, y or t.
var LatentCut = node.New(advanced("LatentCut", "crop latent", "slice latent", "extract region"),
	func(s *node.Schema) node.RunFunc {
		samples := node.Socket(s, node.Latent, "samples")
		dim := s.Combo("dim", "x", "y", "t")
		index := s.Int("index").Default(0).Min(-maxResolution).Max(maxResolution).Step(1)
		amount := s.Int("amount").Default(1).Min(1).Max(maxResolution).Step(1)
		out := node.Output(s, node.Latent, "LATENT")
		return run1(samples, out, func(c *node.Call, l *tensor.Latent) (*tensor.Latent, error) {
			t := l.Samples
			d := axis(dim.Get(c), len(t.Shape))
			n, i, k := t.Shape[d], int(index.Get(c)), int(amount.Get(c))
			if i >= 0 {
				i = min(i, n-1)
				k = min(n-i, k)
			} else {
				i = max(i, -n)
				k = min(-i, k)
				i += n
			}
			if i < 0 || k < 0 {
				return nil, node.Raise("IndexError", "start (%d) + length (%d) exceeds dimension size (%d).", i, k, n)
			}
			return with(l, narrow(t, d, i, k)), nil
		})
	})

// LatentCutToBatch cuts the samples into slices of slice_size along t, x
// or y and stacks the slices in the batch (remainders are dropped).
var LatentCutToBatch = node.New(advanced("LatentCutToBatch", "slice to batch", "split latent", "tile latent"),
	func(s *node.Schema) node.RunFunc {
		samples := node.Socket(s, node.Latent, "samples")
		dim := s.Combo("dim", "t", "x", "y")
		size := s.Int("slice_size").Default(1).Min(1).Max(maxResolution).Step(1)
		out := node.Output(s, node.Latent, "LATENT")
		return run1(samples, out, func(c *node.Call, l *tensor.Latent) (*tensor.Latent, error) {
			t := l.Samples
			d := axis(dim.Get(c), len(t.Shape))
			if d < 2 {
				return l, nil
			}
			n := t.Shape[d]
			k := min(int(size.Get(c)), n)
			if k < 1 {
				return nil, node.Raise("RuntimeError", "slice_size must be positive")
			}
			var parts []*tensor.Tensor
			for b := range t.Shape[0] {
				item := narrow(t, 0, b, 1)
				for j := 0; j+k <= n; j += k {
					parts = append(parts, narrow(item, d, j, k))
				}
			}
			res, err := cat(0, parts...)
			if err != nil {
				return nil, err
			}
			return with(l, res), nil
		})
	})

// LatentBatch (deprecated) appends samples2, resized to samples1's size, to
// samples1's batch; batch indices are concatenated (defaults 0…B-1 each).
var LatentBatch = node.New(node.Info{
	ID: "LatentBatch", DisplayName: "Batch Latents (DEPRECATED)", Category: "model/latent/batch",
	Module: extrasModule, Format: node.V3, Deprecated: true,
	SearchAliases: []string{"combine latents", "merge latents", "join latents"},
}, func(s *node.Schema) node.RunFunc {
	s1 := node.Socket(s, node.Latent, "samples1")
	s2 := node.Socket(s, node.Latent, "samples2")
	out := node.Output(s, node.Latent, "LATENT")
	return run2(s1, s2, out, func(c *node.Call, a, b *tensor.Latent) (*tensor.Latent, error) {
		t2, err := reshapeLatentTo(a.Samples.Shape, b.Samples, false)
		if err != nil {
			return nil, err
		}
		t, err := cat(0, a.Samples, t2)
		if err != nil {
			return nil, err
		}
		res := with(a, t)
		res.BatchIndex = append(batchIndex(a), batchIndex(b)...)
		return res, nil
	})
})

// batchIndex returns a copy of the latent's batch indices, or 0…B-1.
func batchIndex(l *tensor.Latent) []int {
	if l.BatchIndex != nil {
		return slices.Clone(l.BatchIndex)
	}
	bi := make([]int, l.Samples.Shape[0])
	for i := range bi {
		bi[i] = i
	}
	return bi
}

// LatentBatchSeedBehavior makes every batch item use the first item's noise
// seed ("fixed") or drops the batch indices ("random").
var LatentBatchSeedBehavior = node.New(advanced("LatentBatchSeedBehavior"),
	func(s *node.Schema) node.RunFunc {
		samples := node.Socket(s, node.Latent, "samples")
		behavior := s.Combo("seed_behavior", "random", "fixed").Default("fixed")
		out := node.Output(s, node.Latent, "LATENT")
		return run1(samples, out, func(c *node.Call, l *tensor.Latent) (*tensor.Latent, error) {
			res := *l
			switch behavior.Get(c) {
			case "random":
				res.BatchIndex = nil
			case "fixed":
				first := 0
				if l.BatchIndex != nil {
					if len(l.BatchIndex) == 0 {
						return nil, node.Raise("IndexError", "list index out of range")
					}
					first = l.BatchIndex[0]
				}
				res.BatchIndex = slices.Repeat([]int{first}, l.Samples.Shape[0])
			}
			return &res, nil
		})
	})

// ReplaceVideoLatentFrames writes source's frames (dimension 2) into
// destination from index on; a source that does not fit leaves destination
// unchanged (ComfyUI logs a warning).
var ReplaceVideoLatentFrames = node.New(node.Info{
	ID: "ReplaceVideoLatentFrames", DisplayName: "Replace Video Latent Frames", Category: "model/latent/batch",
	Module: extrasModule, Format: node.V3,
}, func(s *node.Schema) node.RunFunc {
	dest := node.Socket(s, node.Latent, "destination").Tooltip("The destination latent where frames will be replaced.")
	source := node.Socket(s, node.Latent, "source").Optional().
		Tooltip("The source latent providing frames to insert into the destination latent. If not provided, the destination latent is returned unchanged.")
	index := s.Int("index").Default(0).Min(-maxResolution).Max(maxResolution).Step(1).
		Tooltip("The starting latent frame index in the destination latent where the source latent frames will be placed. Negative values count from the end.")
	out := node.Output(s, node.Latent, "LATENT")
	return run1(dest, out, func(c *node.Call, d *tensor.Latent) (*tensor.Latent, error) {
		if !source.Present(c) {
			return d, nil
		}
		src, err := get(c, source)
		if err != nil {
			return nil, err
		}
		df, sf := d.Samples.Shape[2], src.Samples.Shape[2]
		i := int(index.Get(c))
		if i < 0 {
			i += df
		}
		if i > df || i+sf > df || i < 0 {
			return d, nil
		}
		// s_destination[:, :, i:i+sf] = s_source, with torch's broadcasting
		// of the source into the destination's other dimensions.
		if !broadcastsTo(src.Samples.Shape[:2], d.Samples.Shape[:2]) || !slices.Equal(src.Samples.Shape[3:], d.Samples.Shape[3:]) {
			return nil, node.Raise("RuntimeError", "The expanded size of the tensor must match: destination %v, source %v", d.Samples.Shape, src.Samples.Shape)
		}
		t := tensor.New(d.Samples.Shape...)
		copy(t.Data, d.Samples.Data)
		N, C, inner := d.Samples.Shape[0], d.Samples.Shape[1], prod(d.Samples.Shape[3:])
		sN, sC := src.Samples.Shape[0], src.Samples.Shape[1]
		for n := range N {
			for ch := range C {
				dp := t.Data[((n*C+ch)*df+i)*inner:]
				sp := src.Samples.Data[((n%sN)*sC+ch%sC)*sf*inner:]
				copy(dp[:sf*inner], sp[:sf*inner])
			}
		}
		return with(src, t), nil
	})
})
