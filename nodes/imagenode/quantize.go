package imagenode

import (
	"context"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/nodes/imagenode/pilquant"
	"github.com/gocomfy/gocomfy/tensor"
)

// bayerLevels are the dither options of ordered dithering: the recursion
// depth of their Bayer matrix (log2 of its size).
var bayerLevels = map[string]int{"bayer-2": 1, "bayer-4": 2, "bayer-8": 3, "bayer-16": 4}

// imageQuantize reduces each image to at most colors colours: Pillow's
// median cut palette of the image, then each pixel mapped to it directly,
// with Floyd-Steinberg dithering, or after adding a Bayer matrix.
var imageQuantize = node.New(node.Info{ID: "ImageQuantize", DisplayName: "Quantize Image", Category: "image/filters",
	Module: modPostProcessing, Format: node.V3},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		colors := s.Int("colors").Default(256).Min(1).Max(256).Step(1)
		dither := s.Combo("dither", "none", "floyd-steinberg", "bayer-2", "bayer-4", "bayer-8", "bayer-16")
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			img, err := getImage(c, image.In)
			if err != nil {
				return err
			}
			if img.C != 3 {
				// Pillow reads the frame as RGB bytes: too few for fewer
				// channels, and the RGB result does not fit more.
				return node.Raise("ValueError", "ImageQuantize needs RGB images, got %d channels", img.C)
			}
			n := int(colors.Get(c))
			if n < 1 || n > 256 {
				return node.Raise("ValueError", "%v", pilquant.ErrColors)
			}
			mode := dither.Get(c)
			var bayer [][]float32
			if level, ok := bayerLevels[mode]; ok {
				bayer = bayerMatrix(level)
			} else if mode != "none" && mode != "floyd-steinberg" {
				return node.Raise("UnboundLocalError", "local variable 'quantized_image' referenced before assignment")
			}
			res := tensor.NewImage(img.B, img.H, img.W, 3)
			forRows(img.B, 1, img.H*img.W*256, func(b, _ int) {
				if ctx.Err() != nil {
					return
				}
				quantizeFrame(res.Frame(b), img.Frame(b), img.W, img.H, n, mode == "floyd-steinberg", bayer)
			})
			if err := ctx.Err(); err != nil {
				return err
			}
			out.Set(c, res)
			return nil
		}
	})

// quantizeFrame is ImageQuantize on one w×h RGB frame: the frame as bytes
// ((x*255).to(torch.uint8)), Pillow's median cut palette for n colours, and
// the bytes (with the ordered dither added when bayer is set) mapped to it.
func quantizeFrame(dst, src []float32, w, h, n int, floyd bool, bayer [][]float32) {
	rgb := make([]uint8, len(src))
	for i, v := range src {
		rgb[i] = torchUint8(v * 255)
	}
	pal, _, _ := pilquant.MedianCut(rgb, n) // n is in range
	if bayer != nil {
		addBayer(rgb, w, h, bayer)
	}
	m := pilquant.NewMapper(pal)
	for i, idx := range m.Map(rgb, w, h, floyd) {
		for ch, v := range pal[idx] {
			dst[3*i+ch] = float32(v) / 255
		}
	}
}

// torchUint8 is torch's float32 → uint8 cast on x86: the value truncated
// toward zero to an int32, of which the low byte is kept (so -1.5 → 255 and
// 300.7 → 44); NaN and values outside the int32 range give 0.
func torchUint8(x float32) uint8 {
	if !(x > -(1<<31) && x < 1<<31) {
		return 0
	}
	return uint8(int32(x))
}

// bayerMatrix is ComfyUI's normalized_bayer_matrix(n) times spread, plus
// 0.5, in numpy's float32 (every value is a short binary fraction, so
// every step is exact). spread is 2·256/palette size, and a Pillow
// palette has 256 entries whatever the colour count [quirk], so it is 2.
func bayerMatrix(n int) [][]float32 {
	m := [][]float32{{0}}
	for k := 1; k <= n; k++ {
		q := float32(int(1) << (2 * k))
		size := len(m)
		next := make([][]float32, 2*size)
		for i := range next {
			next[i] = make([]float32, 2*size)
		}
		for i, row := range m {
			for j, v := range row {
				v *= q
				next[i][j] = (v - 1.5) / q
				next[i][j+size] = (v + 0.5) / q
				next[i+size][j] = (v + 1.5) / q
				next[i+size][j+size] = (v - 0.5) / q
			}
		}
		m = next
	}
	for _, row := range m {
		for j := range row {
			row[j] = 2*row[j] + 0.5
		}
	}
	return m
}

// addBayer adds the tiled matrix to the w×h RGB bytes, clamped to [0, 255]
// and truncated, as ComfyUI's Quantize.bayer does before mapping.
func addBayer(rgb []uint8, w, h int, matrix [][]float32) {
	n := len(matrix)
	for y := range h {
		for x := range w {
			d := matrix[y%n][x%n]
			for ch := range 3 {
				i := 3*(y*w+x) + ch
				rgb[i] = uint8(max(0, min(float32(rgb[i])+d, 255)))
			}
		}
	}
}
