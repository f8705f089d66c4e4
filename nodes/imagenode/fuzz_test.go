package imagenode

import (
	"context"
	"testing"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/tensor"
)

// Offsets, sizes and counts come from user prompts, and links bypass the
// min/max checks: whatever they are, the geometry nodes must return a result
// or an error, never panic.
func FuzzGeometry(f *testing.F) {
	f.Add(int8(1), int8(2), int8(3), int8(4), int8(5), int8(6))
	f.Add(int8(-1), int8(-4), int8(0), int8(0), int8(2), int8(9))
	f.Add(int8(0), int8(0), int8(-3), int8(7), int8(-8), int8(1))
	f.Add(int8(127), int8(-128), int8(1), int8(1), int8(0), int8(0))
	r := registry(f)
	f.Fuzz(func(t *testing.T, a, b, c, d, e, g int8) {
		i := func(v int8) int64 { return int64(v) }
		small := func(v int8) int64 { return int64(v % 12) }
		dst := testImage(2, 5, 6, 3)
		src := testImage(int(uint8(g)%3), int(1+uint8(c)%7), int(1+uint8(d)%7), int(1+uint8(e)%4))
		mask := &tensor.Mask{B: 1, H: 3, W: 2, Pix: testImage(1, 3, 2, 1).Pix}
		runs := []struct {
			class  string
			values map[string]any
		}{
			{"ImageBlend", map[string]any{"image1": dst, "image2": src, "blend_factor": 0.5, "blend_mode": "overlay"}},
			{"JoinImageWithAlpha", map[string]any{"image": src, "alpha": mask}},
			{"PorterDuffImageComposite", map[string]any{"source": src, "source_alpha": mask, "destination": dst,
				"destination_alpha": mask, "mode": "XOR"}},
			{"ImageBatch", map[string]any{"image1": dst, "image2": src}},
			{"ImageCrop", map[string]any{"image": dst, "width": i(a), "height": i(b), "x": i(c), "y": i(d)}},
			{"ImageCompositeMasked", map[string]any{"destination": dst, "source": src, "x": i(a), "y": i(b),
				"resize_source": e%2 == 0, "mask": mask}},
			{"ImageFromBatch", map[string]any{"image": dst, "batch_index": i(a), "length": i(b)}},
			{"RepeatImageBatch", map[string]any{"image": src, "amount": small(a)}},
			{"ImagePadForOutpaint", map[string]any{"image": src, "left": small(a), "top": small(b), "right": small(c),
				"bottom": small(d), "feathering": small(e)}},
			{"ImageStitch", map[string]any{"image1": dst, "image2": src, "direction": []string{"right", "down", "left", "up"}[uint8(a)%4],
				"match_image_size": b%2 == 0, "spacing_width": small(c), "spacing_color": "red"}},
			{"SplitImageToTileList", map[string]any{"image": dst, "tile_width": small(a), "tile_height": small(b), "overlap": small(c)}},
			{"ImageScale", map[string]any{"image": src, "upscale_method": upscaleMethods[uint8(g)%5], "width": small(a),
				"height": small(b), "crop": cropMethods[uint8(c)%2]}},
			{"ImageScaleBy", map[string]any{"image": src, "upscale_method": upscaleMethods[uint8(g)%5], "scale_by": float64(a) / 16}},
			{"ResizeAndPadImage", map[string]any{"image": src, "target_width": small(a), "target_height": small(b),
				"padding_color": "black", "interpolation": upscaleMethods[uint8(g)%5]}},
			{"ImageBlur", map[string]any{"image": src, "blur_radius": small(a), "sigma": 1.0}},
			{"Morphology", map[string]any{"image": src, "operation": "close", "kernel_size": small(a)}},
			{"EmptyImage", map[string]any{"width": small(a), "height": small(b), "batch_size": small(c), "color": i(d)}},
			{"ImageQuantize", map[string]any{"image": src, "colors": small(a), "dither": imageQuantize.Inputs()[2].Choices()[uint8(b)%6]}},
			{"RebatchImages", map[string]any{"images": []any{dst, src}, "batch_size": []any{small(a)}}},
			{"ImageCropV2", map[string]any{"image": src, "crop_region": map[string]any{"x": i(a), "y": i(b), "width": i(c),
				"height": i(d)}}},
		}
		for _, run := range runs {
			class, _ := r.Lookup(run.class)
			_ = class.Run(context.Background(), node.NewCall(nil, "1", 0, run.values))
		}
	})
}
