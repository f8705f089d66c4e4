package imagenode

import (
	"context"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/nodes/imagenode/preview"
	"github.com/gocomfy/gocomfy/tensor"
)

// imageCompare shows two images under the frontend's comparison slider: it
// previews each (all of its batch) and lists them under "a_images" and
// "b_images".
var imageCompare = node.New(node.Info{ID: "ImageCompare", DisplayName: "Compare Images", Category: "image",
	Module: modImageCompare, Format: node.V3, Description: "Compares two images side by side with a slider.",
	EssentialsCategory: "Image Tools", Experimental: true, OutputNode: true},
	func(s *node.Schema) node.RunFunc {
		a := node.Socket(s, node.Image, "image_a").Optional()
		b := node.Socket(s, node.Image, "image_b").Optional()
		s.AnyOf("compare_view", "IMAGECOMPARE").Option("socketless", true)
		s.Hidden("prompt", node.HiddenPrompt)
		s.Hidden("extra_pnginfo", node.HiddenExtraPNGInfo)
		return func(ctx context.Context, c *node.Call) error {
			for _, side := range []struct {
				in     *node.SocketInput[*tensor.Image]
				prefix string
				key    string
			}{{a, "comfy.compare.a", "a_images"}, {b, "comfy.compare.b", "b_images"}} {
				var entries []any
				if side.in.Present(c) {
					img, err := getImage(c, side.in.In)
					if err != nil {
						return err
					}
					if img.B > 0 {
						if entries, err = preview.Save(ctx, c, img, side.prefix); err != nil {
							return err
						}
					}
				}
				// ComfyUI lists no images as []; with no values, Call.UI
				// sets null for now (the SDK cannot set an empty list).
				c.UI(side.key, entries...)
			}
			return nil
		}
	})
