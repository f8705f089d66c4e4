package imagenode

import (
	"context"
	"math"

	"github.com/gocomfy/gocomfy/node"
)

var imageScale = node.New(node.Info{ID: "ImageScale", DisplayName: "Upscale Image", Category: "image/upscaling",
	Module: modNodes, EssentialsCategory: "Image Tools",
	SearchAliases: []string{"resize", "resize image", "scale image", "image resize", "zoom", "zoom in", "change size"}},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		method := s.Combo("upscale_method", upscaleMethods...)
		width := s.Int("width").Default(512).Min(0).Max(maxResolution).Step(1)
		height := s.Int("height").Default(512).Min(0).Max(maxResolution).Step(1)
		crop := s.Combo("crop", cropMethods...)
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			img, err := getImage(c, image.In)
			if err != nil {
				return err
			}
			w, h := int(width.Get(c)), int(height.Get(c))
			if w == 0 && h == 0 {
				out.Set(c, img)
				return nil
			}
			// A zero side keeps the aspect ratio.
			switch {
			case (w == 0 && img.H == 0) || (h == 0 && img.W == 0):
				return zeroDivision()
			case w == 0:
				w = max(1, pyRound(float64(img.W*h)/float64(img.H)))
			case h == 0:
				h = max(1, pyRound(float64(img.H*w)/float64(img.W)))
			}
			res, err := scaleImage(img, w, h, method.Get(c), crop.Get(c) == "center")
			if err != nil {
				return err
			}
			out.Set(c, res)
			return nil
		}
	})

var imageScaleBy = node.New(node.Info{ID: "ImageScaleBy", DisplayName: "Upscale Image By", Category: "image/upscaling",
	Module: modNodes, EssentialsCategory: "Image Tools"},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		method := s.Combo("upscale_method", upscaleMethods...)
		scaleBy := s.Float("scale_by").Default(1).Min(0.01).Max(8).Step(0.01)
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			img, err := getImage(c, image.In)
			if err != nil {
				return err
			}
			f := scaleBy.Get(c)
			res, err := scaleImage(img, pyRound(float64(img.W)*f), pyRound(float64(img.H)*f), method.Get(c), false)
			if err != nil {
				return err
			}
			out.Set(c, res)
			return nil
		}
	})

var imageScaleToTotalPixels = node.New(node.Info{ID: "ImageScaleToTotalPixels", DisplayName: "Scale Image to Total Pixels",
	Category: "image/upscaling", Module: modPostProcessing, Format: node.V3},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		method := s.Combo("upscale_method", upscaleMethods...)
		megapixels := s.Float("megapixels").Default(1).Min(0.01).Max(16).Step(0.01)
		steps := s.Int("resolution_steps").Default(1).Min(1).Max(256).Advanced()
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			img, err := getImage(c, image.In)
			if err != nil {
				return err
			}
			step := int(steps.Get(c))
			if img.W*img.H == 0 || step == 0 {
				return zeroDivision()
			}
			f := math.Sqrt(megapixels.Get(c) * 1024 * 1024 / float64(img.W*img.H))
			w := pyRound(float64(img.W)*f/float64(step)) * step
			h := pyRound(float64(img.H)*f/float64(step)) * step
			res, err := scaleImage(img, w, h, method.Get(c), false)
			if err != nil {
				return err
			}
			out.Set(c, res)
			return nil
		}
	})

var imageScaleToMaxDimension = node.New(node.Info{ID: "ImageScaleToMaxDimension", DisplayName: "Scale Image to Max Dimension",
	Category: "image/upscaling", Module: modImages, Format: node.V3},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		// ComfyUI lists "bilinear" twice.
		method := s.Combo("upscale_method", "area", "lanczos", "bilinear", "nearest-exact", "bilinear", "bicubic")
		largest := s.Int("largest_size").Default(512).Min(0).Max(maxResolution).Step(1)
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			img, err := getImage(c, image.In)
			if err != nil {
				return err
			}
			size := int(largest.Get(c))
			w, h := size, size
			switch {
			case img.H > img.W:
				w = pyRound(float64(img.W) / float64(img.H) * float64(size))
			case img.W > img.H:
				h = pyRound(float64(img.H) / float64(img.W) * float64(size))
			}
			res, err := scaleImage(img, w, h, method.Get(c), false)
			if err != nil {
				return err
			}
			out.Set(c, res)
			return nil
		}
	})

var resizeAndPadImage = node.New(node.Info{ID: "ResizeAndPadImage", DisplayName: "Resize And Pad Image",
	Category: "image/transform", Module: modImages, Format: node.V3, SearchAliases: []string{"fit to size"}},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		targetW := s.Int("target_width").Default(512).Min(1).Max(maxResolution).Step(1)
		targetH := s.Int("target_height").Default(512).Min(1).Max(maxResolution).Step(1)
		padding := s.Combo("padding_color", "white", "black").Advanced()
		interpolation := s.Combo("interpolation", "area", "bicubic", "nearest-exact", "bilinear", "lanczos").Advanced()
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			img, err := getImage(c, image.In)
			if err != nil {
				return err
			}
			tw, th := int(targetW.Get(c)), int(targetH.Get(c))
			if img.W == 0 || img.H == 0 {
				return zeroDivision()
			}
			f := min(float64(tw)/float64(img.W), float64(th)/float64(img.H))
			resized, err := scaleImage(img, int(float64(img.W)*f), int(float64(img.H)*f), interpolation.Get(c), false)
			if err != nil {
				return err
			}
			res, err := newImage(img.B, th, tw, img.C)
			if err != nil {
				return err
			}
			var pad float32 = 1
			if padding.Get(c) == "black" {
				pad = 0
			}
			fill(res, repeated(pad, img.C))
			paste(res, resized, (th-resized.H)/2, (tw-resized.W)/2)
			out.Set(c, res)
			return nil
		}
	})
