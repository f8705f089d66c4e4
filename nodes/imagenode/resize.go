package imagenode

import (
	"context"
	"fmt"
	"math"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/tensor"
)

// resizeImageMask is ComfyUI's ResizeImageMaskNode: it resizes an IMAGE or a
// MASK (the output has the input's type) by the rule resize_type selects.
var resizeImageMask = node.New(node.Info{ID: "ResizeImageMaskNode", DisplayName: "Resize Image/Mask",
	Description: "Resize an image or mask using various scaling methods.", Category: "image/transform",
	Module: modPostProcessing, Format: node.V3,
	SearchAliases: []string{"resize", "resize image", "resize mask", "scale", "scale image", "scale mask",
		"image resize", "change size", "dimensions", "shrink", "enlarge"}},
	func(s *node.Schema) node.RunFunc {
		size := func(t *node.Schema, name, tip string, def, min int64) {
			t.Int(name).Default(def).Min(min).Max(maxResolution).Step(1).Tooltip(tip)
		}
		crop := func(t *node.Schema) {
			t.Combo("crop", cropMethods...).Default("center").
				Tooltip("How to handle aspect ratio mismatch: 'disabled' stretches to fit, 'center' crops to maintain aspect ratio.")
		}
		input := s.MatchType("input", "input_type", "IMAGE", "MASK")
		resizeType := s.DynamicCombo("resize_type",
			node.Choice("scale dimensions", func(t *node.Schema) {
				size(t, "width", "Target width in pixels. Set to 0 to auto-calculate from height while preserving aspect ratio.", 512, 0)
				size(t, "height", "Target height in pixels. Set to 0 to auto-calculate from width while preserving aspect ratio.", 512, 0)
				crop(t)
			}),
			node.Choice("scale by multiplier", func(t *node.Schema) {
				t.Float("multiplier").Default(1).Min(0.01).Max(8).Step(0.01).Tooltip("Scale factor (e.g., 2.0 doubles size, 0.5 halves size).")
			}),
			node.Choice("scale longer dimension", func(t *node.Schema) {
				size(t, "longer_size", "The longer edge will be resized to this value. Aspect ratio is preserved.", 512, 0)
			}),
			node.Choice("scale shorter dimension", func(t *node.Schema) {
				size(t, "shorter_size", "The shorter edge will be resized to this value. Aspect ratio is preserved.", 512, 0)
			}),
			node.Choice("scale width", func(t *node.Schema) {
				size(t, "width", "Target width in pixels. Height auto-adjusts to preserve aspect ratio.", 512, 0)
			}),
			node.Choice("scale height", func(t *node.Schema) {
				size(t, "height", "Target height in pixels. Width auto-adjusts to preserve aspect ratio.", 512, 0)
			}),
			node.Choice("scale total pixels", func(t *node.Schema) {
				t.Float("megapixels").Default(1).Min(0.01).Max(16).Step(0.01).
					Tooltip("Target total megapixels (e.g., 1.0 ≈ 1024×1024). Aspect ratio is preserved.")
			}),
			node.Choice("match size", func(t *node.Schema) {
				t.AnyOf("match", "IMAGE,MASK").Tooltip("Resize input to match the dimensions of this reference image or mask.")
				crop(t)
			}),
			node.Choice("scale to multiple", func(t *node.Schema) {
				size(t, "multiple", "Resize so width and height are divisible by this number. Useful for latent alignment (e.g., 8 or 64).", 8, 1)
			}),
		).Tooltip("Select how to resize: by exact dimensions, scale factor, matching another image, etc.")
		method := s.Combo("scale_method", upscaleMethods...).Default("area").
			Tooltip("Interpolation algorithm. 'area' is best for downscaling, 'lanczos' for upscaling, 'nearest-exact' for pixel art.")
		out := s.OutputOf(node.MatchTypeType, "resized").MatchType("input_type")
		return func(ctx context.Context, c *node.Call) error {
			img, isMask, err := asImage(input.Get(c), "input")
			if err != nil {
				return err
			}
			key, opts := resizeType.Get(c)
			res, err := resize(img, key, opts, method.Get(c))
			if err != nil {
				return err
			}
			if isMask {
				out.Set(c, &tensor.Mask{B: res.B, H: res.H, W: res.W, Pix: res.Pix})
			} else {
				out.Set(c, res)
			}
			return nil
		}
	})

// asImage views an IMAGE or a MASK input as an image (a mask as one
// channel, sharing its pixels), so that one code path resizes both.
func asImage(v any, name string) (img *tensor.Image, isMask bool, err error) {
	switch v := v.(type) {
	case *tensor.Image:
		if v != nil && len(v.Pix) == v.B*v.H*v.W*v.C {
			return v, false, nil
		}
	case *tensor.Mask:
		if v != nil && len(v.Pix) == v.B*v.H*v.W {
			return &tensor.Image{B: v.B, H: v.H, W: v.W, C: 1, Pix: v.Pix}, true, nil
		}
	}
	return nil, false, fmt.Errorf("input %s is not an IMAGE or a MASK", name)
}

// resize applies the resize_type option key, with its inputs opts, as
// ComfyUI's scale_* helpers of nodes_post_processing do.
func resize(img *tensor.Image, key string, opts map[string]any, method string) (*tensor.Image, error) {
	num := func(name string) float64 {
		switch v := opts[name].(type) {
		case int64:
			return float64(v)
		case float64:
			return v
		}
		return 0
	}
	center := opts["crop"] == "center"
	w, h := float64(img.W), float64(img.H)
	switch key {
	case "scale dimensions":
		return scaleDimensions(img, int(num("width")), int(num("height")), method, center)
	case "scale width":
		return scaleDimensions(img, int(num("width")), 0, method, false)
	case "scale height":
		return scaleDimensions(img, 0, int(num("height")), method, false)
	case "scale by multiplier":
		f := num("multiplier")
		return scaleImage(img, pyRound(w*f), pyRound(h*f), method, false)
	case "scale longer dimension", "scale shorter dimension":
		size, longer := num("longer_size"), true
		if key == "scale shorter dimension" {
			size, longer = num("shorter_size"), false
		}
		tw, th := int(size), int(size)
		// The side to fix is the longer (or shorter) one; the other keeps
		// the aspect ratio, computed in Python's order (w / h) * size.
		switch {
		case (img.H > img.W) == longer && img.H != img.W:
			if h == 0 {
				return nil, zeroDivision()
			}
			tw = pyRound(w / h * size)
		case img.H != img.W:
			if w == 0 {
				return nil, zeroDivision()
			}
			th = pyRound(h / w * size)
		}
		return scaleImage(img, tw, th, method, false)
	case "scale total pixels":
		if img.W*img.H == 0 {
			return nil, zeroDivision()
		}
		total := math.Trunc(num("megapixels") * 1024 * 1024)
		f := math.Sqrt(total / (w * h))
		return scaleImage(img, pyRound(w*f), pyRound(h*f), method, false)
	case "match size":
		match, _, err := asImage(opts["match"], "match")
		if err != nil {
			return nil, err
		}
		return scaleImage(img, match.W, match.H, method, center)
	case "scale to multiple":
		return scaleToMultiple(img, int(num("multiple")), method)
	}
	return nil, node.Raise("ValueError", "Unsupported resize type: %s", key)
}

// scaleDimensions is scale_dimensions: a zero side follows the aspect
// ratio, both zero leave the input as it is.
func scaleDimensions(img *tensor.Image, w, h int, method string, center bool) (*tensor.Image, error) {
	switch {
	case w == 0 && h == 0:
		return img, nil
	case (w == 0 && img.H == 0) || (h == 0 && img.W == 0):
		return nil, zeroDivision()
	case w == 0:
		w = max(1, pyRound(float64(img.W)*float64(h)/float64(img.H)))
	case h == 0:
		h = max(1, pyRound(float64(img.H)*float64(w)/float64(img.W)))
	}
	return scaleImage(img, w, h, method, center)
}

// scaleToMultiple is scale_to_multiple_cover: it scales the image to cover
// the largest size whose sides are multiples of multiple, then crops the
// centre to that size.
func scaleToMultiple(img *tensor.Image, multiple int, method string) (*tensor.Image, error) {
	if multiple <= 1 {
		return img, nil
	}
	tw, th := img.W/multiple*multiple, img.H/multiple*multiple
	if tw == 0 || th == 0 || (tw == img.W && th == img.H) {
		return img, nil
	}
	sw, sh := float64(tw)/float64(img.W), float64(th)/float64(img.H)
	w, h := tw, th
	if sw >= sh {
		h = max(int(math.Ceil(float64(img.H)*sw)), th)
	} else {
		w = max(int(math.Ceil(float64(img.W)*sh)), tw)
	}
	scaled, err := scaleImage(img, w, h, method, false)
	if err != nil {
		return nil, err
	}
	x0, y0 := (w-tw)/2, (h-th)/2
	return crop(scaled, y0, y0+th, x0, x0+tw), nil
}
