package imagenode

import (
	"context"
	"math"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/tensor"
)

// cropByBBoxes crops each frame to the union of its bounding boxes (a
// BOUNDING_BOX, or a list per frame of lists of them, the last list serving
// the remaining frames), padded, and resizes the crop by "area" to the
// output size, stretched or letterboxed in black. Frames without boxes are
// left out; a crop outside the image falls back to a centered square of 30%
// of the shorter side, or black.
var cropByBBoxes = node.New(node.Info{ID: "CropByBBoxes", DisplayName: "Crop By Bounding Boxes",
	Category: "image/transform", Module: "comfy_extras.nodes_sdpose", Format: node.V3,
	Description:   "Crop and resize regions from the input image batch based on provided bounding boxes.",
	SearchAliases: []string{"crop", "face crop", "bbox crop", "pose", "bounding box"}},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		bboxes := node.Socket(s, boundingBox, "bboxes").
			Option("default", defaultBox).
			Option("socketless", true).ForceInput()
		outW := s.Int("output_width").Default(512).Min(64).Max(4096).Step(8).Tooltip("Width each crop is resized to.")
		outH := s.Int("output_height").Default(512).Min(64).Max(4096).Step(8).Tooltip("Height each crop is resized to.")
		padding := s.Int("padding").Default(0).Min(0).Max(1024).Step(1).
			Tooltip("Extra padding in pixels added on each side of the bbox before cropping.")
		aspect := s.Combo("keep_aspect", "stretch", "pad").Default("stretch").
			Tooltip("Whether to stretch the crop to fit the output size, or pad with black pixels to preserve aspect ratio.")
		out := node.Output(s, node.Image, "IMAGE").Tooltip("All crops stacked into a single image batch.")
		return func(ctx context.Context, c *node.Call) error {
			img, err := getImage(c, image.In)
			if err != nil {
				return err
			}
			raw, _ := c.Input(bboxes.Def().Name)
			frames, ok := raw.([]any)
			if !ok {
				frames = []any{[]any{raw}}
			} else if len(frames) == 0 {
				out.Set(c, img)
				return nil
			}
			ow, oh, pad := int(outW.Get(c)), int(outH.Get(c)), int(padding.Get(c))
			var crops []*tensor.Image
			for f := range img.B {
				boxes, ok := frames[min(f, len(frames)-1)].([]any)
				if !ok {
					return node.Raise("TypeError", "string indices must be integers")
				}
				if len(boxes) == 0 {
					continue
				}
				x1, y1, x2, y2, err := unionBox(boxes)
				if err != nil {
					return err
				}
				if pad > 0 {
					x1, y1, x2, y2 = max(0, x1-pad), max(0, y1-pad), min(img.W, x2+pad), min(img.H, y2+pad)
				}
				x1, x2 = max(0, x1), min(img.W, x2)
				y1, y2 = max(0, y1), min(img.H, y2)
				if x2 <= x1 || y2 <= y1 {
					size := int(float64(min(img.H, img.W)) * 0.3)
					fx1 := max(0, floorDiv(img.W-size, 2))
					fy1 := max(0, int(float64(img.H)*0.1))
					fx2, fy2 := min(img.W, fx1+size), min(img.H, fy1+size)
					if fx2 <= fx1 || fy2 <= fy1 {
						black, err := newImage(1, oh, ow, img.C)
						if err != nil {
							return err
						}
						crops = append(crops, black)
						continue
					}
					x1, y1, x2, y2 = fx1, fy1, fx2, fy2
				}
				region := crop(frameOf(img, f), y1, y2, x1, x2)
				var resized *tensor.Image
				if aspect.Get(c) == "pad" {
					cw, ch := x2-x1, y2-y1
					scale := math.Min(float64(ow)/float64(cw), float64(oh)/float64(ch))
					sw, sh := pyRound(float64(cw)*scale), pyRound(float64(ch)*scale)
					scaled, err := scaleImage(region, sw, sh, "area", false)
					if err != nil {
						return err
					}
					if resized, err = newImage(1, oh, ow, img.C); err != nil {
						return err
					}
					paste(resized, scaled, floorDiv(oh-sh, 2), floorDiv(ow-sw, 2))
				} else if resized, err = scaleImage(region, ow, oh, "area", false); err != nil {
					return err
				}
				crops = append(crops, resized)
			}
			if len(crops) == 0 {
				out.Set(c, img)
				return nil
			}
			res, err := concatBatch(crops...)
			if err != nil {
				return err
			}
			out.Set(c, res)
			return nil
		}
	})

// unionBox is the union of a frame's boxes as CropByBBoxes computes it:
// int() of x and y, and of x+width and y+height.
func unionBox(boxes []any) (x1, y1, x2, y2 int, err error) {
	x1, y1, x2, y2 = math.MaxInt, math.MaxInt, math.MinInt, math.MinInt
	for _, b := range boxes {
		box, ok := b.(map[string]any)
		if !ok {
			return 0, 0, 0, 0, node.Raise("TypeError", "'%s' object is not subscriptable", pyTypeName(b))
		}
		var v [4]float64
		var ints [4]int64
		allInt := true
		for i, k := range []string{"x", "y", "width", "height"} {
			switch n := box[k].(type) {
			case int64:
				v[i], ints[i] = float64(n), n
			case float64:
				v[i], allInt = n, false
			case nil:
				return 0, 0, 0, 0, node.Raise("KeyError", "'%s'", k)
			default:
				return 0, 0, 0, 0, node.Raise("TypeError", "int() argument must be a string, a bytes-like object or a real number, not '%s'", pyTypeName(box[k]))
			}
		}
		trunc := func(f float64) int { return int(math.Trunc(f)) }
		bx1, by1 := trunc(v[0]), trunc(v[1])
		bx2, by2 := trunc(v[0]+v[2]), trunc(v[1]+v[3])
		if allInt {
			bx1, by1, bx2, by2 = int(ints[0]), int(ints[1]), int(ints[0]+ints[2]), int(ints[1]+ints[3])
		}
		x1, y1, x2, y2 = min(x1, bx1), min(y1, by1), max(x2, bx2), max(y2, by2)
	}
	return x1, y1, x2, y2, nil
}
