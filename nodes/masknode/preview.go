package masknode

import (
	"context"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/nodes/imagenode/preview"
)

// MaskPreview shows the masks as grey images in the frontend (temporary
// previews). Its description is SaveImage's, "output directory" included.
var MaskPreview = node.New(func() node.Info {
	i := maskInfo("MaskPreview", "Preview Mask", "show mask", "view mask", "inspect mask", "debug mask")
	i.Description = "Saves the input images to your ComfyUI output directory."
	i.OutputNode = true
	return i
}(), func(s *node.Schema) node.RunFunc {
	in := node.Socket(s, node.Mask, "mask")
	s.Hidden("prompt", node.HiddenPrompt)
	s.Hidden("extra_pnginfo", node.HiddenExtraPNGInfo)
	return func(ctx context.Context, c *node.Call) error {
		m, err := mask(c, in)
		if err != nil {
			return err
		}
		return preview.Mask(ctx, c, m)
	}
})
