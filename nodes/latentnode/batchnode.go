package latentnode

import (
	"context"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/tensor"
)

// BatchLatentsNode batches up to 50 latents, linked as the autogrow inputs
// latents.latent0 … latents.latent49: each latent's samples are resized
// (bilinear, center crop) to the first one's if they differ past the batch
// dimension, the batch indices are concatenated (0…B-1 for a latent without
// them), and the other keys are the first latent's. With no latent the
// output is None.
var BatchLatentsNode = node.New(node.Info{ID: "BatchLatentsNode", DisplayName: "Batch Latents",
	Category: "model/latent/batch", Module: "comfy_extras.nodes_post_processing", Format: node.V3,
	SearchAliases: []string{"combine latents", "stack latents", "merge latents"}},
	func(s *node.Schema) node.RunFunc {
		latents := s.Autogrow("latents", func(t *node.Schema) { node.Socket(t, node.Latent, "latent") },
			node.Prefix("latent", 1, 50))
		out := node.Output(s, node.Latent, "LATENT")
		return func(ctx context.Context, c *node.Call) error {
			var first *tensor.Latent
			var parts []*tensor.Tensor
			var index []int
			for _, v := range latents.Values(c) {
				l, ok := v.(*tensor.Latent)
				if !ok || l == nil || l.Samples == nil {
					return node.Raise("TypeError", "input latents: not a list of LATENT")
				}
				if first == nil {
					first = l
				}
				t, err := reshapeLatentTo(first.Samples.Shape, l.Samples, false)
				if err != nil {
					return err
				}
				parts = append(parts, t)
				index = append(index, batchIndex(l)...)
			}
			if first == nil {
				c.SetOutput(out.Index(), nil)
				return nil
			}
			samples, err := cat(0, parts...)
			if err != nil {
				return err
			}
			res := with(first, samples)
			res.BatchIndex = index
			out.Set(c, res)
			return nil
		}
	})
