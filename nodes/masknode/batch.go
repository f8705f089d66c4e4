package masknode

import (
	"context"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/nodes/latentnode/comfyutil"
	"github.com/gocomfy/gocomfy/tensor"
)

// BatchMasksNode batches up to 50 masks, linked as the autogrow inputs
// masks.mask0 … masks.mask49; each differently sized one is scaled
// (bilinear, center crop) to the first one's size. With no mask the output
// is None.
var BatchMasksNode = node.New(info("comfy_extras.nodes_post_processing", "BatchMasksNode", "Batch Masks", "image/mask",
	"combine masks", "stack masks", "merge masks"),
	func(s *node.Schema) node.RunFunc {
		masks := s.Autogrow("masks", func(t *node.Schema) { node.Socket(t, node.Mask, "mask") }, node.Prefix("mask", 1, 50))
		out := node.Output(s, node.Mask, "MASK")
		return func(ctx context.Context, c *node.Call) error {
			var list []*tensor.Mask
			total := 0
			for _, v := range masks.Values(c) {
				m, ok := v.(*tensor.Mask)
				if !ok || m == nil || len(m.Pix) != m.B*m.H*m.W {
					return node.Raise("ValueError", "input masks: not a list of MASK")
				}
				if len(list) > 0 && (m.H != list[0].H || m.W != list[0].W) {
					t, err := comfyutil.Upscale(asTensor(m), list[0].W, list[0].H, comfyutil.Bilinear, "center")
					if err != nil {
						return err
					}
					m = asMask(t)
				}
				list = append(list, m)
				total += m.B
			}
			if len(list) == 0 {
				c.SetOutput(out.Index(), nil)
				return nil
			}
			res := tensor.NewMask(total, list[0].H, list[0].W)
			off := 0
			for _, m := range list {
				off += copy(res.Pix[off:], m.Pix)
			}
			out.Set(c, res)
			return nil
		}
	})
