// Package masknode holds ComfyUI's mask and alpha-compositing nodes that
// need no model: the V3 classes of comfy_extras/nodes_mask.py (masks,
// ImageCompositeMasked, LatentCompositeMasked, MaskPreview) and of
// comfy_extras/nodes_compositing.py (Porter-Duff, alpha split and join).
//
// MASK values are *tensor.Mask [B,H,W] (1 = selected; an image's mask is
// 1 − alpha). IMAGE values are *tensor.Image [B,H,W,C]. Where ComfyUI
// broadcasts batches (a single mask against a batch of images) or repeats
// them (comfy.utils.repeat_to_batch_size), the nodes do the same, and where
// torch would refuse the shapes they return its error instead.
package masknode

import (
	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/tensor"
)

// Modules are the python_module values of the classes.
const (
	maskModule        = "comfy_extras.nodes_mask"
	compositingModule = "comfy_extras.nodes_compositing"
)

// maxResolution is ComfyUI's MAX_RESOLUTION.
const maxResolution = 16384

// Register adds the classes of nodes_mask.py and then nodes_compositing.py
// to r, in ComfyUI's order.
func Register(r *node.Registry) {
	r.MustAdd(
		LatentCompositeMasked, ImageCompositeMasked, MaskToImage, ImageToMask, ImageColorToMask,
		SolidMask, InvertMask, CropMask, MaskComposite, FeatherMask, GrowMask, ThresholdMask, MaskPreview,
		PorterDuffImageComposite, SplitImageWithAlpha, JoinImageWithAlpha,
		// comfy_extras.nodes_post_processing
		BatchMasksNode,
	)
}

// info returns the Info of a V3 class of module.
func info(module, id, display, category string, aliases ...string) node.Info {
	return node.Info{ID: id, DisplayName: display, Category: category, Module: module, Format: node.V3, SearchAliases: aliases}
}

// maskInfo returns the Info of a nodes_mask.py class of category image/mask.
func maskInfo(id, display string, aliases ...string) node.Info {
	return info(maskModule, id, display, "image/mask", aliases...)
}

// mask returns the mask an input carries, or an error if it carries none.
func mask(c *node.Call, in *node.SocketInput[*tensor.Mask]) (*tensor.Mask, error) {
	m := in.Get(c)
	if m == nil {
		return nil, node.Raise("ValueError", "input %s: no mask", in.Def().Name)
	}
	return m, nil
}

// image returns the image an input carries, or an error if it carries none.
func image(c *node.Call, in *node.SocketInput[*tensor.Image]) (*tensor.Image, error) {
	m := in.Get(c)
	if m == nil {
		return nil, node.Raise("ValueError", "input %s: no image", in.Def().Name)
	}
	return m, nil
}

// asTensor views a mask as a [B,1,H,W] tensor (sharing its pixels), the
// shape ComfyUI reshapes masks to before interpolating them.
func asTensor(m *tensor.Mask) *tensor.Tensor {
	return &tensor.Tensor{Shape: []int{m.B, 1, m.H, m.W}, Data: m.Pix}
}

// asMask views a [B,1,H,W] (or [B,H,W]) tensor as a mask.
func asMask(t *tensor.Tensor) *tensor.Mask {
	r := len(t.Shape)
	return &tensor.Mask{B: t.Shape[0], H: t.Shape[r-2], W: t.Shape[r-1], Pix: t.Data}
}
