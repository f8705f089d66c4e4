package imagefile

import (
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"io"
	"math"
	"strings"

	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/internal/imageio"
	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/tensor"
)

const colorSpaceTooltip = "Colorspace of the input tensor. The EXR is always written as scene-linear in the matching gamut.\n" +
	"sRGB \u2014 input is sRGB-encoded Rec.709; the inverse sRGB EOTF is applied.\n" +
	"HDR \u2014 input is HLG-encoded Rec.2020 (BT.2100); the inverse HLG OETF is applied to get scene-linear light.\n" +
	"linear \u2014 input is already scene-linear (Rec.709 primaries); written through unchanged. Use this for renderer/compositor output."

var saveImageAdvanced = node.New(node.Info{ID: "SaveImageAdvanced", DisplayName: "Save Image (Advanced)",
	Category: "image", Module: modImages, Format: node.V3, Description: saveDescription, OutputNode: true,
	EssentialsCategory: "Basics",
	SearchAliases:      []string{"save", "save image", "export image", "output image", "write image"}},
	func(s *node.Schema) node.RunFunc {
		images := node.Socket(s, node.Image, "images").Tooltip("The images to save.")
		prefix := s.String("filename_prefix").Default("ComfyUI").Tooltip("The prefix for the file to save. " +
			"May include formatting tokens such as %date:yyyy-MM-dd% or %Empty Latent Image.width%.")
		var pngDepth, exrSpace *node.ComboInput
		format := s.DynamicCombo("format",
			node.Choice("png", func(t *node.Schema) {
				pngDepth = t.Combo("bit_depth", "8-bit", "16-bit").Default("8-bit").Advanced()
				t.Combo("input_color_space", "sRGB").Default("sRGB").Advanced()
			}),
			node.Choice("exr", func(t *node.Schema) {
				t.Combo("bit_depth", "32-bit float").Default("32-bit float").Advanced()
				exrSpace = t.Combo("input_color_space", "sRGB", "HDR", "linear").Default("sRGB").Advanced().
					Tooltip(colorSpaceTooltip)
			}),
		).Tooltip("The file format in which to save the image.")
		hidden(s)
		out := node.Output(s, node.Image, "images")
		return func(ctx context.Context, c *node.Call) error {
			key, _ := format.Get(c)
			enc := advancedEncoder{format: key}
			switch key {
			case "png":
				enc.sixteen = pngDepth.Get(c) == "16-bit"
			case "exr":
				enc.colorSpace = exrSpace.Get(c)
			default: // validation lets no other key through
				return fmt.Errorf("format: unknown option %q", key)
			}
			return saveAdvanced(ctx, c, images.Get(c), prefix.Get(c), enc, out)
		}
	})

// advancedEncoder is SaveImageAdvanced's choice of format.
type advancedEncoder struct {
	format     string // "png" or "exr"
	sixteen    bool   // 16-bit PNG
	colorSpace string // of the EXR input: "sRGB", "HDR" or "linear"
}

// saveAdvanced writes each image as "prefix_00001.png" or ".exr" (no
// trailing '_', unlike SaveImage) into the output folder.
func saveAdvanced(ctx context.Context, c *node.Call, images *tensor.Image, prefix string, enc advancedEncoder,
	out *node.Out[*tensor.Image]) error {
	if err := checkBatch(images); err != nil {
		return err
	}
	if images.C != 3 && images.C != 4 {
		// PyAV's from_ndarray rejects the array.
		return node.Raise("ValueError", "Unexpected numpy array shape `(%d, %d, %d)`", images.H, images.W, images.C)
	}
	withMeta := !c.MetadataDisabled()
	return saveEach(ctx, c, images, prefix, files.Output, out,
		func(sp files.SavePath, b int, text []imageio.TextChunk) (string, func(io.Writer) error, error) {
			// Name gives "name_00001_" for an empty extension; this node
			// writes no '_' before its extension.
			name := strings.TrimSuffix(sp.Name(b, ""), "_") + "." + enc.format
			return name, func(w io.Writer) error { return enc.encode(w, images, b, text, withMeta) }, nil
		})
}

// encode writes image b of the batch. PNG text chunks go right after IHDR
// (ComfyUI's inject_png_metadata, whose JSON is ASCII); EXR metadata are
// string attributes and the chromaticities of the colour space, added only
// when withMeta (inject_exr_metadata).
func (e advancedEncoder) encode(w io.Writer, images *tensor.Image, b int, text []imageio.TextChunk, withMeta bool) error {
	if e.format == "png" {
		var img image.Image
		if e.sixteen {
			img = imageio.FromTensor16(images, b)
		} else {
			img = imageio.FromTensor(images, b)
		}
		return imageio.EncodePNG(w, img, imageio.LevelDefault, text)
	}
	var extra []imageio.EXRAttribute
	if withMeta {
		for _, t := range text {
			extra = append(extra, imageio.EXRAttribute{Name: t.Key, Type: "string", Value: []byte(t.Value)})
		}
		extra = append(extra, imageio.EXRAttribute{Name: "chromaticities", Type: "chromaticities",
			Value: chromaticities(e.colorSpace)})
	}
	return imageio.EncodeEXR(w, images.W, images.H, exrChannels(images, b, e.colorSpace), extra)
}

// exrChannels splits image b into planes converted to linear light: the
// inverse sRGB EOTF for "sRGB", the inverse HLG OETF for "HDR", none for
// "linear"; alpha is never converted.
func exrChannels(images *tensor.Image, b int, colorSpace string) []imageio.EXRChannel {
	convert := func(v float32) float32 { return v }
	switch colorSpace {
	case "sRGB":
		convert = imageio.SRGBToLinear
	case "HDR":
		convert = imageio.HLGToLinear
	}
	names := []string{"R", "G", "B", "A"}[:images.C]
	n := images.W * images.H
	out := make([]imageio.EXRChannel, images.C)
	for ch := range out {
		out[ch] = imageio.EXRChannel{Name: names[ch], Data: make([]float32, n)}
	}
	src := images.Frame(b)
	for i := range n {
		for ch := range out {
			v := src[i*images.C+ch]
			if ch < 3 {
				v = convert(v)
			}
			out[ch].Data[i] = v
		}
	}
	return out
}

// chromaticities is the EXR chromaticities value (red, green, blue and
// white x, y as little-endian float32) ComfyUI writes for a colour space:
// Rec. 2020 for "HDR", Rec. 709 otherwise.
func chromaticities(colorSpace string) []byte {
	xy := []float32{0.6400, 0.3300, 0.3000, 0.6000, 0.1500, 0.0600, 0.3127, 0.3290}
	if colorSpace == "HDR" {
		xy = []float32{0.7080, 0.2920, 0.1700, 0.7970, 0.1310, 0.0460, 0.3127, 0.3290}
	}
	b := make([]byte, 0, 32)
	for _, v := range xy {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}
