package imagenode

import (
	"context"
	"fmt"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/tensor"
)

var emptyImage = node.New(node.Info{ID: "EmptyImage", DisplayName: "Empty Image", Category: "image", Module: modNodes},
	func(s *node.Schema) node.RunFunc {
		width := s.Int("width").Default(512).Min(1).Max(maxResolution).Step(1)
		height := s.Int("height").Default(512).Min(1).Max(maxResolution).Step(1)
		batch := s.Int("batch_size").Default(1).Min(1).Max(4096)
		color := s.Int("color").Default(0).Min(0).Max(0xFFFFFF).Step(1).Display("color")
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			img, err := newImage(int(batch.Get(c)), int(height.Get(c)), int(width.Get(c)), 3)
			if err != nil {
				return err
			}
			col := color.Get(c)
			// ((color >> 16) & 0xFF) / 0xFF in Python floats, stored as float32.
			channel := func(shift int) float32 { return float32(float64((col>>shift)&0xFF) / 0xFF) }
			fill(img, []float32{channel(16), channel(8), channel(0)})
			out.Set(c, img)
			return nil
		}
	})

var imageInvert = node.New(node.Info{ID: "ImageInvert", DisplayName: "Invert Image Colors", Category: "image/color",
	Module: modNodes, EssentialsCategory: "Image Tools", SearchAliases: []string{"reverse colors"}},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			img, err := getImage(c, image.In)
			if err != nil {
				return err
			}
			res := tensor.NewImage(img.B, img.H, img.W, img.C)
			forEach(len(img.Pix), func(lo, hi int) {
				for i := lo; i < hi; i++ {
					res.Pix[i] = 1 - img.Pix[i]
				}
			})
			out.Set(c, res)
			return nil
		}
	})

var imageBatch = node.New(node.Info{ID: "ImageBatch", DisplayName: "Batch Images (DEPRECATED)", Category: "image/batch",
	Module: modNodes, Deprecated: true, SearchAliases: []string{"combine images", "merge images", "stack images"}},
	func(s *node.Schema) node.RunFunc {
		image1 := node.Socket(s, node.Image, "image1")
		image2 := node.Socket(s, node.Image, "image2")
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			a, err := getImage(c, image1.In)
			if err != nil {
				return err
			}
			b, err := getImage(c, image2.In)
			if err != nil {
				return err
			}
			// The image with fewer channels gains one channel of 1.0 (one
			// only: a wider gap fails below, as in ComfyUI).
			switch {
			case a.C > b.C:
				b = withChannels(b, b.C+1, 1)
			case a.C < b.C:
				a = withChannels(a, a.C+1, 1)
			}
			if a.H != b.H || a.W != b.W || a.C != b.C {
				if b, err = scaleImage(b, a.W, a.H, "bilinear", true); err != nil {
					return err
				}
			}
			res, err := concatBatch(a, b)
			if err != nil {
				return err
			}
			out.Set(c, res)
			return nil
		}
	})

var imagePadForOutpaint = node.New(node.Info{ID: "ImagePadForOutpaint", DisplayName: "Pad Image for Outpainting",
	Category: "image/transform", Module: modNodes, SearchAliases: []string{"extend canvas", "expand image"}},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		left := s.Int("left").Default(0).Min(0).Max(maxResolution).Step(8)
		top := s.Int("top").Default(0).Min(0).Max(maxResolution).Step(8)
		right := s.Int("right").Default(0).Min(0).Max(maxResolution).Step(8)
		bottom := s.Int("bottom").Default(0).Min(0).Max(maxResolution).Step(8)
		feathering := s.Int("feathering").Default(40).Min(0).Max(maxResolution).Step(1).Advanced()
		outImage := node.Output(s, node.Image, "IMAGE")
		outMask := node.Output(s, node.Mask, "MASK")
		return func(ctx context.Context, c *node.Call) error {
			img, err := getImage(c, image.In)
			if err != nil {
				return err
			}
			l, t, r, b := int(left.Get(c)), int(top.Get(c)), int(right.Get(c)), int(bottom.Get(c))
			if min(l, t, r, b) < 0 {
				// Python's negative slices would not fit the image either.
				return fmt.Errorf("padding must not be negative: left %d, top %d, right %d, bottom %d", l, t, r, b)
			}
			h, w := img.H+t+b, img.W+l+r
			res, err := newImage(img.B, h, w, img.C)
			if err != nil {
				return err
			}
			fill(res, repeated(0.5, img.C))
			paste(res, img, t, l)
			mask, err := newMask(1, h, w)
			if err != nil {
				return err
			}
			for i := range mask.Pix {
				mask.Pix[i] = 1
			}
			f := int(feathering.Get(c))
			feather := f > 0 && 2*f < img.H && 2*f < img.W
			forRows(1, img.H, img.W, func(_, i int) {
				row := mask.Pix[(t+i)*w+l:][:img.W]
				for j := range row {
					row[j] = 0
					if !feather {
						continue
					}
					// The distance to the nearest padded side; the last row
					// and column count as 1 away, the first as 0 (sic).
					d := min(side(t, i, img.H), side(b, img.H-i, img.H), side(l, j, img.W), side(r, img.W-j, img.W))
					if d < f {
						v := float64(f-d) / float64(f)
						row[j] = float32(v * v)
					}
				}
			})
			outImage.Set(c, res)
			outMask.Set(c, mask)
			return nil
		}
	})

// side is the distance d to a side with padding pad, or far when that side
// is not padded.
func side(pad, d, far int) int {
	if pad == 0 {
		return far
	}
	return d
}
