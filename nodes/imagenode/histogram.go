package imagenode

import (
	"context"

	"github.com/gocomfy/gocomfy/node"
)

// imageHistogram counts the 8-bit values of the first image of the batch:
// per channel, their average (rounded down) as "rgb", and of the BT.709
// luminance, for the curve editor.
var imageHistogram = node.New(node.Info{ID: "ImageHistogram", DisplayName: "Image Histogram", Category: "utilities",
	Module: "comfy_extras.nodes_curve", Format: node.V3},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		outs := [5]*node.Out[any]{}
		for i, name := range []string{"rgb", "luminance", "red", "green", "blue"} {
			outs[i] = s.OutputOf("HISTOGRAM", name)
		}
		return func(ctx context.Context, c *node.Call) error {
			img, err := getImage(c, image.In)
			if err != nil {
				return err
			}
			switch {
			case img.B == 0:
				return node.Raise("IndexError", "index 0 is out of bounds for dimension 0 with size 0")
			case img.C < 3:
				return node.Raise("IndexError", "index %d is out of bounds for axis 2 with size %d", img.C, img.C)
			}
			var hist [4][256]int64 // red, green, blue, luminance
			for p := range img.H * img.W {
				px := img.Pix[p*img.C:][:3]
				for k, v := range px {
					hist[k][toUint8(v)]++
				}
				// numpy float32: (0.2126·r + 0.7152·g) + 0.0722·b.
				lum := float32(float32(0.2126)*px[0]) + float32(float32(0.7152)*px[1])
				lum += float32(float32(0.0722) * px[2])
				hist[3][toUint8(lum)]++
			}
			list := func(h []int64) []any {
				out := make([]any, len(h))
				for i, v := range h {
					out[i] = v
				}
				return out
			}
			rgb := make([]int64, 256)
			for i := range rgb {
				rgb[i] = (hist[0][i] + hist[1][i] + hist[2][i]) / 3
			}
			for i, h := range [][]int64{rgb, hist[3][:], hist[0][:], hist[1][:], hist[2][:]} {
				outs[i].Set(c, list(h))
			}
			return nil
		}
	})
