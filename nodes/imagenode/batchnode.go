package imagenode

import (
	"context"
	"fmt"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/tensor"
)

// batchImagesNode (BatchImagesNode) batches up to 50 images, linked as the
// autogrow inputs images.image0 … images.image49: each image with fewer
// channels than the widest gains one channel of 1.0, each differently sized
// one is scaled (bilinear, center crop) to the first one's size. With no
// image the output is None.
var batchImagesNode = node.New(node.Info{ID: "BatchImagesNode", DisplayName: "Batch Images", Category: "image/batch",
	Module: modPostProcessing, Format: node.V3, EssentialsCategory: "Image Tools",
	SearchAliases: []string{"batch", "image batch", "batch images", "combine images", "merge images", "stack images"}},
	func(s *node.Schema) node.RunFunc {
		images := s.Autogrow("images", func(t *node.Schema) { node.Socket(t, node.Image, "image") }, node.Prefix("image", 1, 50))
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			var list []*tensor.Image
			maxC := 0
			for _, v := range images.Values(c) {
				img, ok := v.(*tensor.Image)
				if !ok || img == nil || len(img.Pix) != img.B*img.H*img.W*img.C {
					return fmt.Errorf("input images is not a list of IMAGE")
				}
				list = append(list, img)
				maxC = max(maxC, img.C)
			}
			if len(list) == 0 {
				c.SetOutput(out.Index(), nil)
				return nil
			}
			for i, img := range list {
				if img.C < maxC {
					img = withChannels(img, img.C+1, 1) // one channel only, as torch's pad (0, 1)
				}
				if i > 0 && (img.H != list[0].H || img.W != list[0].W) {
					var err error
					if img, err = scaleImage(img, list[0].W, list[0].H, "bilinear", true); err != nil {
						return err
					}
				}
				list[i] = img
			}
			res, err := concatBatch(list...)
			if err != nil {
				return err
			}
			out.Set(c, res)
			return nil
		}
	})
