package imagenode

import (
	"context"
	"fmt"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/nodes/imagenode/preview"
	"github.com/gocomfy/gocomfy/nodes/latentnode/comfyutil"
	"github.com/gocomfy/gocomfy/pyjson"
)

// boundingBox is the BOUNDING_BOX socket type: a dict of "x", "y", "width"
// and "height", which reaches nodes as a map (node.Literal's form of a JSON
// object, and PrimitiveBoundingBox's output).
var boundingBox = node.Type[map[string]any]{Name: "BOUNDING_BOX"}

// defaultBox is io.BoundingBox.Input's default widget value.
var defaultBox = pyjson.Object{{Key: "x", Value: 0}, {Key: "y", Value: 0}, {Key: "width", Value: 512}, {Key: "height", Value: 512}}

var primitiveBoundingBox = node.New(node.Info{ID: "PrimitiveBoundingBox", DisplayName: "Bounding Box",
	Category: "utilities/primitive", Module: modImages, Format: node.V3},
	func(s *node.Schema) node.RunFunc {
		x := s.Int("x").Default(0).Min(0).Max(maxResolution)
		y := s.Int("y").Default(0).Min(0).Max(maxResolution)
		width := s.Int("width").Default(512).Min(1).Max(maxResolution)
		height := s.Int("height").Default(512).Min(1).Max(maxResolution)
		out := node.Output(s, boundingBox, "BOUNDING_BOX")
		return func(ctx context.Context, c *node.Call) error {
			out.Set(c, map[string]any{"x": x.Get(c), "y": y.Get(c), "width": width.Get(c), "height": height.Get(c)})
			return nil
		}
	})

// imageCropV2 is ImageCrop with its region as one BOUNDING_BOX widget (the
// frontend's crop editor), and a preview of the result.
var imageCropV2 = node.New(node.Info{ID: "ImageCropV2", DisplayName: "Crop Image", Category: "image/transform",
	Module: modImages, Format: node.V3, Description: "Crop an image to the specified dimensions.",
	EssentialsCategory: "Image Tools", HasIntermediateOutput: true, SearchAliases: []string{"crop", "cut", "trim"}},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		region := node.Socket(s, boundingBox, "crop_region").
			Option("default", defaultBox).
			Option("socketless", true).Option("component", "ImageCrop")
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			img, err := getImage(c, image.In)
			if err != nil {
				return err
			}
			raw, _ := c.Input(region.Def().Name)
			box, ok := raw.(map[string]any)
			if !ok {
				return node.Raise("AttributeError", "'%s' object has no attribute 'get'", pyTypeName(raw))
			}
			var v [4]int
			for i, k := range []struct {
				key string
				def int
			}{{"x", 0}, {"y", 0}, {"width", 512}, {"height", 512}} {
				if v[i], err = sliceIndex(box, k.key, k.def); err != nil {
					return err
				}
			}
			// As ImageCrop: x and y moved inside the image, the size clipped.
			x0, y0 := min(v[0], img.W-1), min(v[1], img.H-1)
			top, bottom := comfyutil.PySlice(y0, y0+v[3], img.H)
			l, r := comfyutil.PySlice(x0, x0+v[2], img.W)
			res := crop(img, top, bottom, l, r)
			if err := preview.Image(ctx, c, res); err != nil {
				return err
			}
			out.Set(c, res)
			return nil
		}
	})

// sliceIndex returns box[key] (def when absent) as a Python slice index: an
// int or a bool, clamped to ±2⁶² (slices clamp anyway; sums cannot
// overflow). Anything else fails as ComfyUI's slicing or min() does; a float
// fails even where ComfyUI's min(x, width-1) would replace it by an int (a
// float x or y beyond the image).
func sliceIndex(box map[string]any, key string, def int) (int, error) {
	const limit = 1 << 62
	v, ok := box[key]
	if !ok {
		return def, nil
	}
	switch v := v.(type) {
	case int64:
		return int(max(-limit, min(v, limit))), nil
	case uint64:
		return limit, nil
	case bool:
		if v {
			return 1, nil
		}
		return 0, nil
	case float64:
		return 0, node.Raise("TypeError", "slice indices must be integers or None or have an __index__ method")
	}
	return 0, node.Raise("TypeError", "'<' not supported between instances of 'int' and '%s'", pyTypeName(v))
}

// pyTypeName is the Python type name of a decoded JSON value.
func pyTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "NoneType"
	case string:
		return "str"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	case float64:
		return "float"
	}
	return fmt.Sprintf("%T", v)
}
