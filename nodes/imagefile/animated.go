package imagefile

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"path"

	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/internal/imageio"
	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/tensor"
)

// modImages is the python_module of comfy_extras/nodes_images.py.
const modImages = "comfy_extras.nodes_images"

// webpMethods are SaveAnimatedWEBP's method choices and libwebp's methods.
var webpMethods = map[string]int{"default": 4, "fastest": 0, "slowest": 6}

var saveAnimatedWEBP = node.New(node.Info{ID: "SaveAnimatedWEBP", DisplayName: "Save Animated WEBP", Category: "image",
	Module: modImages, Format: node.V3, OutputNode: true},
	func(s *node.Schema) node.RunFunc {
		images := node.Socket(s, node.Image, "images")
		prefix := s.String("filename_prefix").Default("ComfyUI")
		fps := fpsInput(s)
		lossless := s.Bool("lossless").Default(true)
		quality := s.Int("quality").Default(80).Min(0).Max(100)
		method := s.Combo("method", "default", "fastest", "slowest")
		hidden(s)
		out := node.Output(s, node.Image, "images")
		return func(ctx context.Context, c *node.Call) error {
			exif, err := webpEXIF(c)
			if err != nil {
				return err
			}
			opt := imageio.WebPOptions{Lossless: lossless.Get(c), Quality: int(quality.Get(c)),
				Method: webpMethods[method.Get(c)], Duration: frameDuration(fps.Get(c)), EXIF: exif}
			return saveAnimated(ctx, c, images.Get(c), prefix.Get(c), ".webp", out,
				func(w io.Writer, frames []image.Image) error { return imageio.EncodeAnimatedWebP(w, frames, opt) })
		}
	})

var saveAnimatedPNG = node.New(node.Info{ID: "SaveAnimatedPNG", DisplayName: "Save Animated PNG", Category: "image",
	Module: modImages, Format: node.V3, OutputNode: true},
	func(s *node.Schema) node.RunFunc {
		images := node.Socket(s, node.Image, "images")
		prefix := s.String("filename_prefix").Default("ComfyUI")
		fps := fpsInput(s)
		level := s.Int("compress_level").Default(4).Min(0).Max(9).Advanced()
		hidden(s)
		out := node.Output(s, node.Image, "images")
		return func(ctx context.Context, c *node.Call) error {
			text, err := metadata(c)
			if err != nil {
				return err
			}
			duration, lvl := frameDuration(fps.Get(c)), int(level.Get(c))
			return saveAnimated(ctx, c, images.Get(c), prefix.Get(c), ".png", out, func(w io.Writer, frames []image.Image) error {
				err := imageio.EncodeAPNG(w, frames, duration, lvl, text)
				if errors.Is(err, imageio.ErrAPNGDuration) {
					return node.Raise("ValueError", "cannot write duration")
				}
				return err
			})
		}
	})

// fpsInput declares the animated savers' fps input.
func fpsInput(s *node.Schema) *node.FloatInput {
	return s.Float("fps").Default(6).Min(0.01).Max(1000).Step(0.01)
}

// hidden declares the hidden inputs of every save node.
func hidden(s *node.Schema) {
	s.Hidden("prompt", node.HiddenPrompt)
	s.Hidden("extra_pnginfo", node.HiddenExtraPNGInfo)
}

// frameDuration is ComfyUI's int(1000.0 / fps) in milliseconds.
func frameDuration(fps float64) int { return int(1000.0 / fps) }

// saveAnimated writes the whole batch as one animation into the output
// folder, named as ImageSaveHelper does ("prefix_00001_.png", %batch_num%
// left as it is), reports it with "animated": [true] when the batch has
// more than one image, and passes the batch through.
func saveAnimated(ctx context.Context, c *node.Call, images *tensor.Image, prefix, ext string,
	out *node.Out[*tensor.Image], encode func(io.Writer, []image.Image) error) error {
	if err := checkBatch(images); err != nil {
		return err
	}
	root, sp, err := savePath(c, prefix, files.Output, images.W, images.H)
	if err != nil {
		return err
	}
	frames := make([]image.Image, images.B)
	for b := range frames {
		if frames[b], err = image8(images, b); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	name := fmt.Sprintf("%s_%05d_%s", sp.Filename, sp.Counter, ext)
	err = files.WriteFile(root, path.Join(sp.Subfolder, name), func(w io.Writer) error { return encode(w, frames) })
	if err != nil {
		return err
	}
	saved(c, name, sp.Subfolder, files.Output)
	if images.B > 1 {
		c.UI("animated", true)
	}
	out.Set(c, images)
	return nil
}

// EXIF tags that ImageSaveHelper fills for WebP: the prompt goes to Model,
// the extra_pnginfo entries to Make and the tags below it, one each.
const (
	exifModel = 0x0110
	exifMake  = 0x010f
)

// webpEXIF is the EXIF data ImageSaveHelper gives Pillow for a WebP: Model
// "prompt:<json>" and, from Make down, "<key>:<json>" for each extra_pnginfo
// entry; without tags under --disable-metadata, but written even then.
func webpEXIF(c *node.Call) ([]byte, error) {
	text, err := metadata(c)
	if err != nil {
		return nil, err
	}
	var tags []imageio.EXIFTag
	if c.Prompt() != nil && len(text) > 0 {
		tags = append(tags, imageio.EXIFTag{Tag: exifModel, Value: "prompt:" + text[0].Value})
		text = text[1:]
	}
	for i, t := range text {
		tags = append(tags, imageio.EXIFTag{Tag: uint16(exifMake - i), Value: t.Key + ":" + t.Value})
	}
	return imageio.PillowEXIF(tags), nil
}
