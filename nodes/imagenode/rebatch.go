package imagenode

import (
	"context"
	"fmt"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/tensor"
)

// rebatchImages regroups the images of a list of batches into batches of
// batch_size (the first value of its list), in order, the last one smaller
// if need be. Images of different sizes in one batch fail, as torch.cat does.
var rebatchImages = node.New(node.Info{ID: "RebatchImages", DisplayName: "Rebatch Images", Category: "image/batch",
	Module: modRebatch, Format: node.V3, InputIsList: true},
	func(s *node.Schema) node.RunFunc {
		images := node.Socket(s, node.Image, "images")
		batchSize := s.Int("batch_size").Default(1).Min(1).Max(4096)
		out := node.Output(s, node.Image, "IMAGE").List()
		return func(ctx context.Context, c *node.Call) error {
			sizes := batchSize.List(c)
			if len(sizes) == 0 {
				return node.Raise("IndexError", "list index out of range")
			}
			// Only the first batch_size of the list counts.
			n := sizes[0]
			if n == 0 {
				return node.Raise("ValueError", "range() arg 3 must not be zero")
			}
			// Every image of every batch, one by one, in order.
			var frames []*tensor.Image
			for _, img := range images.List(c) {
				if img == nil || len(img.Pix) != img.B*img.H*img.W*img.C {
					return fmt.Errorf("input %s is not a list of IMAGE", images.Def().Name)
				}
				for b := range img.B {
					frames = append(frames, &tensor.Image{B: 1, H: img.H, W: img.W, C: img.C, Pix: img.Frame(b)})
				}
			}
			// A negative batch_size makes range() empty: no batches.
			var batches []*tensor.Image
			if n > 0 {
				step := int(min(n, int64(len(frames)))) // no overflow below
				for lo := 0; lo < len(frames); lo += step {
					batch, err := concatBatch(frames[lo:min(lo+step, len(frames))]...)
					if err != nil {
						return err
					}
					batches = append(batches, batch)
				}
			}
			out.SetList(c, batches)
			return nil
		}
	})
