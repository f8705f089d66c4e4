// Package latentnode holds ComfyUI's LATENT nodes that need no model: the
// latent ops of nodes.py (V1 classes), of comfy_extras/nodes_latent.py and
// RebatchLatents of comfy_extras/nodes_rebatch.py (V3 classes).
//
// A LATENT is a *tensor.Latent whose Samples is [B,C,H,W] (or [B,C,T,H,W]
// for video). Like ComfyUI, which shallow-copies the latent dict and
// replaces keys, nodes return a copy of the input struct with new fields, so
// NoiseMask and BatchIndex pass through unless a node changes them. Values
// are never modified in place.
package latentnode

import (
	"context"
	"fmt"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/tensor"
)

// Modules are the python_module values of the classes.
const (
	v1Module     = "nodes"
	extrasModule = "comfy_extras.nodes_latent"
)

// maxResolution is ComfyUI's MAX_RESOLUTION.
const maxResolution = 16384

// Register adds the latent classes to r: those of nodes.py, then those of
// comfy_extras/nodes_latent.py and nodes_rebatch.py, each in ComfyUI's order.
func Register(r *node.Registry) {
	r.MustAdd(
		EmptyLatentImage, LatentUpscale, LatentUpscaleBy, LatentFromBatch, RepeatLatentBatch,
		SetLatentNoiseMask, LatentComposite, LatentBlend, LatentRotate, LatentFlip, LatentCrop,
		LatentAdd, LatentSubtract, LatentMultiply, LatentInterpolate, LatentConcat, LatentCut,
		LatentCutToBatch, LatentBatch, LatentBatchSeedBehavior, ReplaceVideoLatentFrames,
		RebatchLatents,
		// comfy_extras.nodes_post_processing
		BatchLatentsNode,
	)
}

// latentIn is a LATENT input socket.
type latentIn = *node.SocketInput[*tensor.Latent]

// get returns the latent an input carries, or an error if it carries none.
func get(c *node.Call, in latentIn) (*tensor.Latent, error) {
	l := in.Get(c)
	if l == nil || l.Samples == nil {
		return nil, node.Raise("ValueError", "input %s: no latent samples", in.Def().Name)
	}
	if len(l.Samples.Shape) < 4 {
		return nil, fmt.Errorf("input %s: latent samples of rank %d, want [B,C,H,W] or [B,C,T,H,W]", in.Def().Name, len(l.Samples.Shape))
	}
	return l, nil
}

// with is ComfyUI's s = samples.copy(); s["samples"] = t.
func with(l *tensor.Latent, t *tensor.Tensor) *tensor.Latent {
	out := *l
	out.Samples = t
	return &out
}

// run1 is the RunFunc of the many nodes that map one latent input to one
// latent output.
func run1(in latentIn, out *node.Out[*tensor.Latent], f func(c *node.Call, l *tensor.Latent) (*tensor.Latent, error)) node.RunFunc {
	return func(ctx context.Context, c *node.Call) error {
		l, err := get(c, in)
		if err != nil {
			return err
		}
		res, err := f(c, l)
		if err != nil {
			return err
		}
		out.Set(c, res)
		return nil
	}
}

// run2 is run1 for nodes with two latent inputs.
func run2(in1, in2 latentIn, out *node.Out[*tensor.Latent], f func(c *node.Call, a, b *tensor.Latent) (*tensor.Latent, error)) node.RunFunc {
	return run1(in1, out, func(c *node.Call, a *tensor.Latent) (*tensor.Latent, error) {
		b, err := get(c, in2)
		if err != nil {
			return nil, err
		}
		return f(c, a, b)
	})
}
