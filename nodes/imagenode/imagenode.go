// Package imagenode holds ComfyUI's core IMAGE nodes that need no model:
// scaling, batching, padding, cropping, flipping, blending, blurring,
// quantizing, edge detection, comparing and the like, from nodes.py and
// comfy_extras (nodes_post_processing, nodes_rebatch, nodes_canny,
// nodes_images, nodes_dataset, nodes_morphology, nodes_flux, nodes_sdpose,
// nodes_image_compare, nodes_curve; the nodes_mask and nodes_compositing
// classes are in package masknode).
//
// Each node computes what ComfyUI's does, in float32 and, where ComfyUI
// calls torch or Pillow, in their order of operations; doc comments say where
// a result can differ in the last bits. Work on large images is split across
// cores with resample.Parallel.
package imagenode

import (
	"fmt"
	"math"

	"github.com/gocomfy/gocomfy/internal/resample"
	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/tensor"
)

// Register adds the package's classes to r in ComfyUI's /object_info order:
// the nodes.py classes first, then each comfy_extras module in load order.
func Register(r *node.Registry) {
	r.MustAdd(
		// nodes.py
		imageScale, imageScaleBy, imageInvert, imageBatch, imagePadForOutpaint, emptyImage,
		// comfy_extras.nodes_post_processing
		imageBlend, imageBlur, imageQuantize, imageSharpen, imageScaleToTotalPixels, resizeImageMask, batchImagesNode,
		colorTransfer,
		// comfy_extras.nodes_rebatch
		rebatchImages,
		// comfy_extras.nodes_canny
		cannyNode,
		// comfy_extras.nodes_images
		imageCrop, imageCropV2, primitiveBoundingBox, repeatImageBatch, imageFromBatch, imageAddNoise,
		imageStitch, resizeAndPadImage, getImageSize, imageRotate, imageFlip, imageScaleToMaxDimension,
		splitImageToTileList, imageMergeTileList,
		// comfy_extras.nodes_dataset
		resizeImagesByShorterEdge, resizeImagesByLongerEdge, centerCropImages, randomCropImages, normalizeImages,
		adjustBrightness, adjustContrast, shuffleDataset, imageDeduplication, imageGrid, mergeImageLists,
		// comfy_extras.nodes_morphology
		morphology, imageRGBToYUV, imageYUVToRGB,
		// comfy_extras.nodes_flux
		fluxKontextImageScale,
		// comfy_extras.nodes_sdpose
		cropByBBoxes,
		// comfy_extras.nodes_image_compare
		imageCompare,
		// comfy_extras.nodes_curve
		imageHistogram,
	)
}

// maxResolution is ComfyUI's MAX_RESOLUTION.
const maxResolution = 16384

// The option lists ComfyUI's image nodes share.
var (
	upscaleMethods = []string{"nearest-exact", "bilinear", "area", "bicubic", "lanczos"}
	cropMethods    = []string{"disabled", "center"}
)

// Module names (python_module).
const (
	modNodes          = "nodes"
	modImages         = "comfy_extras.nodes_images"
	modPostProcessing = "comfy_extras.nodes_post_processing"
	modMask           = "comfy_extras.nodes_mask"
	modCompositing    = "comfy_extras.nodes_compositing"
	modMorphology     = "comfy_extras.nodes_morphology"
	modRebatch        = "comfy_extras.nodes_rebatch"
	modImageCompare   = "comfy_extras.nodes_image_compare"
)

// maxElements bounds one allocation (16 GiB of float32). Beyond it ComfyUI's
// torch fails to allocate too; here it must be an error, not a crash.
const maxElements = 1 << 32

// checkDims returns torch's errors for sizes that make no tensor.
func checkDims(dims ...int) error {
	n := 1
	for _, d := range dims {
		if d < 0 {
			return fmt.Errorf("Trying to create tensor with negative dimension %d: %v", d, dims)
		}
		if d > 0 && n > maxElements/d {
			return fmt.Errorf("DefaultCPUAllocator: not enough memory: you tried to allocate a tensor of shape %v", dims)
		}
		n *= d
	}
	return nil
}

func newImage(b, h, w, c int) (*tensor.Image, error) {
	if err := checkDims(b, h, w, c); err != nil {
		return nil, err
	}
	return tensor.NewImage(b, h, w, c), nil
}

func newMask(b, h, w int) (*tensor.Mask, error) {
	if err := checkDims(b, h, w); err != nil {
		return nil, err
	}
	return tensor.NewMask(b, h, w), nil
}

// getImage returns an IMAGE input, or an error if it did not get one (a
// link from an output of another type).
func getImage(c *node.Call, in node.In[*tensor.Image]) (*tensor.Image, error) {
	img := in.Get(c)
	if img == nil || len(img.Pix) != img.B*img.H*img.W*img.C {
		return nil, fmt.Errorf("input %s is not an IMAGE", in.Def().Name)
	}
	return img, nil
}

// getMask is getImage for MASK inputs; an absent optional mask is nil.
func getMask(c *node.Call, in node.In[*tensor.Mask]) (*tensor.Mask, error) {
	if !in.Present(c) {
		return nil, nil
	}
	m := in.Get(c)
	if m == nil || len(m.Pix) != m.B*m.H*m.W {
		return nil, fmt.Errorf("input %s is not a MASK", in.Def().Name)
	}
	return m, nil
}

func shapeOf(img *tensor.Image) resample.Shape {
	return resample.Shape{N: img.B, C: img.C, H: img.H, W: img.W}
}

// scaleImage is common_upscale on an IMAGE.
func scaleImage(img *tensor.Image, width, height int, method string, center bool) (*tensor.Image, error) {
	if err := checkDims(img.B, height, width, img.C); err != nil {
		return nil, err
	}
	pix, err := resample.Scale(img.Pix, shapeOf(img), width, height, resample.Method(method), center)
	if err != nil {
		return nil, err
	}
	return &tensor.Image{B: img.B, H: height, W: width, C: img.C, Pix: pix}, nil
}

// scaleMask is common_upscale on a MASK seen as [B,1,H,W].
func scaleMask(m *tensor.Mask, width, height int, method string, center bool) (*tensor.Mask, error) {
	if err := checkDims(m.B, height, width); err != nil {
		return nil, err
	}
	pix, err := resample.Scale(m.Pix, resample.Shape{N: m.B, C: 1, H: m.H, W: m.W}, width, height, resample.Method(method), center)
	if err != nil {
		return nil, err
	}
	return &tensor.Mask{B: m.B, H: height, W: width, Pix: pix}, nil
}

// zeroDivision is Python's error for x / 0.
func zeroDivision() error { return node.Raise("ZeroDivisionError", "division by zero") }

// forEach calls fn for each element index of [0, n), split across cores.
// fn gets a range so that loops stay tight.
func forEach(n int, fn func(lo, hi int)) { resample.Parallel(n, 1, fn) }

// forRows calls fn(b, y) for every row of a b×h batch, split across cores;
// work is the cost of one row.
func forRows(b, h, work int, fn func(b, y int)) {
	resample.Parallel(b*h, work, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			fn(r/h, r%h)
		}
	})
}

// clamp01 is torch.clamp(x, 0, 1): NaN stays NaN.
func clamp01(x float32) float32 {
	switch {
	case x < 0:
		return 0
	case x > 1:
		return 1
	}
	return x
}

// pyRound is Python's round() to an int: half to even.
func pyRound(x float64) int { return int(math.RoundToEven(x)) }

// crop returns rows [y0, y1) and columns [x0, x1) of every image.
func crop(img *tensor.Image, y0, y1, x0, x1 int) *tensor.Image {
	out := tensor.NewImage(img.B, y1-y0, x1-x0, img.C)
	n := (x1 - x0) * img.C
	forRows(out.B, out.H, n, func(b, y int) {
		src := ((b*img.H+y0+y)*img.W + x0) * img.C
		copy(out.Pix[(b*out.H+y)*n:][:n], img.Pix[src:src+n])
	})
	return out
}

// repeatToBatch is comfy.utils.repeat_to_batch_size: the first n images, the
// batch tiled as often as needed.
func repeatToBatch(img *tensor.Image, n int) (*tensor.Image, error) {
	if img.B == n {
		return img, nil
	}
	pix, err := repeatFrames(img.Pix, img.B, n)
	if err != nil {
		return nil, err
	}
	return &tensor.Image{B: n, H: img.H, W: img.W, C: img.C, Pix: pix}, nil
}

// repeatMaskToBatch is repeat_to_batch_size for masks.
func repeatMaskToBatch(m *tensor.Mask, n int) (*tensor.Mask, error) {
	if m.B == n {
		return m, nil
	}
	pix, err := repeatFrames(m.Pix, m.B, n)
	if err != nil {
		return nil, err
	}
	return &tensor.Mask{B: n, H: m.H, W: m.W, Pix: pix}, nil
}

// repeatFrames returns n frames cycling through the b frames of pix.
func repeatFrames(pix []float32, b, n int) ([]float32, error) {
	if b == 0 {
		return nil, zeroDivision()
	}
	frame := len(pix) / b
	if err := checkDims(n, frame); err != nil {
		return nil, err
	}
	out := make([]float32, n*frame)
	for i := range n {
		copy(out[i*frame:(i+1)*frame], pix[(i%b)*frame:])
	}
	return out, nil
}

// withChannels returns img with c channels: extra ones dropped, missing ones
// filled with value.
func withChannels(img *tensor.Image, c int, value float32) *tensor.Image {
	if img.C == c {
		return img
	}
	out := tensor.NewImage(img.B, img.H, img.W, c)
	keep := min(c, img.C)
	forEach(img.B*img.H*img.W, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			dst := out.Pix[p*c : (p+1)*c]
			copy(dst, img.Pix[p*img.C:p*img.C+keep])
			for i := keep; i < c; i++ {
				dst[i] = value
			}
		}
	})
	return out
}

// alphaFix is node_helpers.image_alpha_fix: src loses its extra channels, or
// gains one channel of 1.0 when it has fewer than dst.
func alphaFix(dst, src *tensor.Image) *tensor.Image {
	switch {
	case src.C > dst.C:
		return withChannels(src, dst.C, 1)
	case src.C < dst.C:
		return withChannels(src, src.C+1, 1)
	}
	return src
}

// broadcast is torch's rule for one dimension of an elementwise operation.
func broadcast(a, b, dim int) (int, error) {
	switch {
	case a == b || b == 1:
		return a, nil
	case a == 1:
		return b, nil
	}
	return 0, fmt.Errorf("The size of tensor a (%d) must match the size of tensor b (%d) at non-singleton dimension %d", a, b, dim)
}

// concatBatch is torch.cat(images, dim=0).
func concatBatch(images ...*tensor.Image) (*tensor.Image, error) {
	first := images[0]
	b := 0
	for i, img := range images {
		for _, pair := range [][2]int{{img.H, first.H}, {img.W, first.W}, {img.C, first.C}} {
			if pair[0] != pair[1] {
				return nil, fmt.Errorf("Sizes of tensors must match except in dimension 0. Expected size %d but got size %d for tensor number %d in the list.",
					pair[1], pair[0], i)
			}
		}
		b += img.B
	}
	out, err := newImage(b, first.H, first.W, first.C)
	if err != nil {
		return nil, err
	}
	off := 0
	for _, img := range images {
		off += copy(out.Pix[off:], img.Pix)
	}
	return out, nil
}

// repeated returns n copies of v.
func repeated(v float32, n int) []float32 {
	vs := make([]float32, n)
	for i := range vs {
		vs[i] = v
	}
	return vs
}

// fill sets every pixel of img to v (one value per channel).
func fill(img *tensor.Image, v []float32) {
	c := img.C
	forEach(img.B*img.H*img.W, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			copy(img.Pix[p*c:(p+1)*c], v)
		}
	})
}

// paste copies src into dst with its top-left corner at (top, left), clipped
// to dst, as dst[:, top:top+h, left:left+w] = src does when it fits.
func paste(dst, src *tensor.Image, top, left int) {
	x0, x1 := max(left, 0), min(left+src.W, dst.W)
	if x1 <= x0 {
		return
	}
	n := (x1 - x0) * dst.C
	forRows(src.B, src.H, n, func(b, y int) {
		dy := top + y
		if dy < 0 || dy >= dst.H {
			return
		}
		from := ((b*src.H+y)*src.W + x0 - left) * src.C
		copy(dst.Pix[((b*dst.H+dy)*dst.W+x0)*dst.C:][:n], src.Pix[from:from+n])
	})
}
