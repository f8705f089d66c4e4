package imagenode

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/nodes/latentnode/comfyutil"
	"github.com/gocomfy/gocomfy/tensor"
)

var imageCrop = node.New(node.Info{ID: "ImageCrop", DisplayName: "Crop Image (DEPRECATED)", Category: "image/transform",
	Module: modImages, Format: node.V3, Deprecated: true, EssentialsCategory: "Image Tools", SearchAliases: []string{"trim"}},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		width := s.Int("width").Default(512).Min(1).Max(maxResolution).Step(1)
		height := s.Int("height").Default(512).Min(1).Max(maxResolution).Step(1)
		x := s.Int("x").Default(0).Min(0).Max(maxResolution).Step(1)
		y := s.Int("y").Default(0).Min(0).Max(maxResolution).Step(1)
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			img, err := getImage(c, image.In)
			if err != nil {
				return err
			}
			// x and y are moved inside the image; the size is clipped by the
			// slice image[:, y:y+height, x:x+width].
			x0, y0 := min(int(x.Get(c)), img.W-1), min(int(y.Get(c)), img.H-1)
			top, bottom := comfyutil.PySlice(y0, y0+int(height.Get(c)), img.H)
			l, r := comfyutil.PySlice(x0, x0+int(width.Get(c)), img.W)
			out.Set(c, crop(img, top, bottom, l, r))
			return nil
		}
	})

var imageFlip = node.New(node.Info{ID: "ImageFlip", DisplayName: "Flip Image", Category: "image/transform",
	Module: modImages, Format: node.V3, SearchAliases: []string{"mirror", "reflect"}},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		method := s.Combo("flip_method", "x-axis: vertically", "y-axis: horizontally")
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			img, err := getImage(c, image.In)
			if err != nil {
				return err
			}
			switch m := method.Get(c); {
			case strings.HasPrefix(m, "x"):
				img = transform(img, img.H, img.W, func(y, x int) (int, int) { return img.H - 1 - y, x })
			case strings.HasPrefix(m, "y"):
				img = transform(img, img.H, img.W, func(y, x int) (int, int) { return y, img.W - 1 - x })
			}
			out.Set(c, img)
			return nil
		}
	})

var imageRotate = node.New(node.Info{ID: "ImageRotate", DisplayName: "Rotate Image", Category: "image/transform",
	Module: modImages, Format: node.V3, EssentialsCategory: "Image Tools", SearchAliases: []string{"turn", "flip orientation"}},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		rotation := s.Combo("rotation", "none", "90 degrees", "180 degrees", "270 degrees")
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			img, err := getImage(c, image.In)
			if err != nil {
				return err
			}
			// torch.rot90(image, k, dims=[2, 1]) turns clockwise.
			h, w := img.H, img.W
			switch r := rotation.Get(c); {
			case strings.HasPrefix(r, "90"):
				img = transform(img, w, h, func(y, x int) (int, int) { return h - 1 - x, y })
			case strings.HasPrefix(r, "180"):
				img = transform(img, h, w, func(y, x int) (int, int) { return h - 1 - y, w - 1 - x })
			case strings.HasPrefix(r, "270"):
				img = transform(img, w, h, func(y, x int) (int, int) { return x, w - 1 - y })
			}
			out.Set(c, img)
			return nil
		}
	})

// transform returns an h×w batch whose pixel (x, y) is pixel from(y, x) of
// img.
func transform(img *tensor.Image, h, w int, from func(y, x int) (sy, sx int)) *tensor.Image {
	out := tensor.NewImage(img.B, h, w, img.C)
	c := img.C
	forRows(img.B, h, w*c, func(b, y int) {
		row := out.Pix[(b*h+y)*w*c:][:w*c]
		for x := range w {
			sy, sx := from(y, x)
			i := ((b*img.H+sy)*img.W + sx) * c
			copy(row[x*c:x*c+c], img.Pix[i:i+c])
		}
	})
	return out
}

var repeatImageBatch = node.New(node.Info{ID: "RepeatImageBatch", DisplayName: "Repeat Image Batch", Category: "image/batch",
	Module: modImages, Format: node.V3, SearchAliases: []string{"duplicate image", "clone image"}},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		amount := s.Int("amount").Default(1).Min(1).Max(4096)
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			img, err := getImage(c, image.In)
			if err != nil {
				return err
			}
			n := int(amount.Get(c))
			if n < 0 {
				return fmt.Errorf("Trying to create tensor with negative dimension %d: [%d, %d, %d, %d]", n*img.B, n*img.B, img.H, img.W, img.C)
			}
			if err := checkDims(img.B, n, img.H, img.W, img.C); err != nil {
				return err
			}
			res, err := repeatToBatch(img, n*img.B)
			if err != nil {
				return err
			}
			out.Set(c, res)
			return nil
		}
	})

var imageFromBatch = node.New(node.Info{ID: "ImageFromBatch", DisplayName: "Get Image from Batch", Category: "image/batch",
	Module: modImages, Format: node.V3, SearchAliases: []string{"select image", "pick from batch", "extract image"}},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		index := s.Int("batch_index").Default(0).Min(-maxResolution).Max(maxResolution)
		length := s.Int("length").Default(1).Min(1).Max(4096)
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			img, err := getImage(c, image.In)
			if err != nil {
				return err
			}
			i := int(index.Get(c))
			if i < 0 {
				i += img.B
			}
			i = max(0, min(img.B-1, i))
			lo, hi := comfyutil.PySlice(i, i+min(img.B-i, int(length.Get(c))), img.B)
			frame := img.H * img.W * img.C
			res := tensor.NewImage(hi-lo, img.H, img.W, img.C)
			copy(res.Pix, img.Pix[lo*frame:hi*frame])
			out.Set(c, res)
			return nil
		}
	})

// getImageSize does not send ComfyUI's "width: …, height: …" progress text
// to the frontend: the node SDK has no progress-text call yet.
var getImageSize = node.New(node.Info{ID: "GetImageSize", DisplayName: "Get Image Size", Category: "image",
	Module: modImages, Format: node.V3, Description: "Returns width and height of the image, and passes it through unchanged.",
	SearchAliases: []string{"dimensions", "resolution", "image info"}},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		s.Hidden("unique_id", node.HiddenUniqueID)
		width := node.Output(s, node.Int, "width")
		height := node.Output(s, node.Int, "height")
		batch := node.Output(s, node.Int, "batch_size")
		return func(ctx context.Context, c *node.Call) error {
			img, err := getImage(c, image.In)
			if err != nil {
				return err
			}
			width.Set(c, int64(img.W))
			height.Set(c, int64(img.H))
			batch.Set(c, int64(img.B))
			return nil
		}
	})

// stitchColors are ImageStitch's spacing colors: grey levels for the first
// three channels, or an RGB triple.
var stitchColors = map[string][]float32{
	"white": {1}, "black": {0}, "red": {1, 0, 0}, "green": {0, 1, 0}, "blue": {0, 0, 1},
}

var imageStitch = node.New(node.Info{ID: "ImageStitch", DisplayName: "Stitch Images", Category: "image/transform",
	Module: modImages, Format: node.V3,
	Description: "Stitches image2 to image1 in the specified direction.\n" +
		"If image2 is not provided, returns image1 unchanged.\n" +
		"Optional spacing can be added between images.",
	SearchAliases: []string{"combine images", "join images", "concatenate images", "side by side"}},
	func(s *node.Schema) node.RunFunc {
		image1 := node.Socket(s, node.Image, "image1")
		direction := s.Combo("direction", "right", "down", "left", "up").Default("right")
		match := s.Bool("match_image_size").Default(true)
		spacing := s.Int("spacing_width").Default(0).Min(0).Max(1024).Step(2).Advanced()
		color := s.Combo("spacing_color", "white", "black", "red", "green", "blue").Default("white").Advanced()
		image2 := node.Socket(s, node.Image, "image2").Optional()
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			a, err := getImage(c, image1.In)
			if err != nil {
				return err
			}
			if !image2.Present(c) {
				out.Set(c, a)
				return nil
			}
			b, err := getImage(c, image2.In)
			if err != nil {
				return err
			}
			res, err := stitch(a, b, direction.Get(c), match.Get(c), int(spacing.Get(c)), stitchColors[color.Get(c)])
			if err != nil {
				return err
			}
			out.Set(c, res)
			return nil
		}
	})

func stitch(a, b *tensor.Image, direction string, match bool, spacing int, color []float32) (*tensor.Image, error) {
	horizontal := direction == "left" || direction == "right"
	// The shorter batch repeats its last image.
	n := max(a.B, b.B)
	if min(a.B, b.B) == 0 && n > 0 {
		// There is no last image to repeat; torch.cat fails further on.
		return nil, fmt.Errorf("Sizes of tensors must match except in dimension 0. Expected size %d but got size 0", n)
	}
	a, b = extendBatch(a, n), extendBatch(b, n)
	var err error
	switch {
	case match && (b.H == 0 || (!horizontal && b.W == 0)):
		return nil, zeroDivision()
	case match && horizontal:
		b, err = scaleImage(b, int(float64(a.H)*(float64(b.W)/float64(b.H))), a.H, "lanczos", false)
	case match:
		b, err = scaleImage(b, a.W, int(float64(a.W)/(float64(b.W)/float64(b.H))), "lanczos", false)
	case horizontal:
		// Pad the shorter image, half above and half below.
		h := max(a.H, b.H)
		a, b = padCentered(a, h, a.W, padValue(color)), padCentered(b, h, b.W, padValue(color))
	default:
		w := max(a.W, b.W)
		a, b = padCentered(a, a.H, w, padValue(color)), padCentered(b, b.H, w, padValue(color))
	}
	if err != nil {
		return nil, err
	}
	ch := max(a.C, b.C)
	a, b = withChannels(a, ch, 1), withChannels(b, ch, 1)
	parts := []*tensor.Image{a, b}
	if direction == "left" || direction == "up" {
		parts = []*tensor.Image{b, a}
	}
	if spacing > 0 {
		spacing += spacing % 2
		var gap *tensor.Image
		if horizontal {
			gap, err = newImage(n, max(a.H, b.H), spacing, ch)
		} else {
			gap, err = newImage(n, spacing, max(a.W, b.W), ch)
		}
		if err != nil {
			return nil, err
		}
		fill(gap, spacingPixel(color, ch))
		parts = []*tensor.Image{parts[0], gap, parts[1]}
	}
	if horizontal {
		return concatWidth(parts)
	}
	return concatHeight(parts)
}

// padValue is the value ImageStitch pads with: the grey level of white or
// black, 0 for the RGB colors.
func padValue(color []float32) float32 {
	if len(color) == 1 {
		return color[0]
	}
	return 0
}

// spacingPixel is one pixel of the spacing strip: the color on the channels
// it has (a grey level fills up to three), alpha 1 on a fourth channel.
func spacingPixel(color []float32, c int) []float32 {
	px := make([]float32, c)
	if len(color) == 1 {
		for i := range min(3, c) {
			px[i] = color[0]
		}
	} else {
		copy(px, color)
	}
	if c == 4 {
		px[3] = 1
	}
	return px
}

// extendBatch repeats the last image until the batch has n images.
func extendBatch(img *tensor.Image, n int) *tensor.Image {
	if img.B >= n {
		return img
	}
	out := tensor.NewImage(n, img.H, img.W, img.C)
	copy(out.Pix, img.Pix)
	last := img.Frame(img.B - 1)
	for b := img.B; b < n; b++ {
		copy(out.Frame(b), last)
	}
	return out
}

// padCentered pads img to h×w with v, the extra rows or columns split as
// d//2 before and the rest after.
func padCentered(img *tensor.Image, h, w int, v float32) *tensor.Image {
	if img.H == h && img.W == w {
		return img
	}
	out := tensor.NewImage(img.B, h, w, img.C)
	fill(out, repeated(v, img.C))
	paste(out, img, (h-img.H)/2, (w-img.W)/2)
	return out
}

// concatWidth is torch.cat(parts, dim=2).
func concatWidth(parts []*tensor.Image) (*tensor.Image, error) {
	first := parts[0]
	w := 0
	for i, p := range parts {
		if p.H != first.H || p.B != first.B {
			return nil, fmt.Errorf("Sizes of tensors must match except in dimension 2. Expected size %d but got size %d for tensor number %d in the list.",
				first.H, p.H, i)
		}
		w += p.W
	}
	out, err := newImage(first.B, first.H, w, first.C)
	if err != nil {
		return nil, err
	}
	forRows(first.B, first.H, w*first.C, func(b, y int) {
		row := out.Pix[(b*out.H+y)*w*out.C:][:w*out.C]
		for _, p := range parts {
			n := p.W * p.C
			row = row[copy(row, p.Pix[(b*p.H+y)*n:][:n]):]
		}
	})
	return out, nil
}

// concatHeight is torch.cat(parts, dim=1).
func concatHeight(parts []*tensor.Image) (*tensor.Image, error) {
	first := parts[0]
	h := 0
	for i, p := range parts {
		if p.W != first.W || p.B != first.B {
			return nil, fmt.Errorf("Sizes of tensors must match except in dimension 1. Expected size %d but got size %d for tensor number %d in the list.",
				first.W, p.W, i)
		}
		h += p.H
	}
	out, err := newImage(first.B, h, first.W, first.C)
	if err != nil {
		return nil, err
	}
	dst := out.Pix
	for b := range first.B {
		for _, p := range parts {
			dst = dst[copy(dst, p.Frame(b)):]
		}
	}
	return out, nil
}

// tileGrid is SplitImageToTileList.get_grid_coords: tiles of at most
// tw×th, overlapping by about overlap, the last ones shifted back to end at
// the border. Each tile is {x0, y0, x1, y1}.
func tileGrid(width, height, tw, th, overlap int) ([][4]int, error) {
	strideX := pyRound(math.Max(float64(tw)*0.25, float64(tw-overlap)))
	strideY := pyRound(math.Max(float64(th)*0.25, float64(th-overlap)))
	if strideX <= 0 || strideY <= 0 {
		// ComfyUI loops forever here.
		return nil, fmt.Errorf("tile size %dx%d with overlap %d makes no progress", tw, th, overlap)
	}
	var tiles [][4]int
	for y := 0; y < height; y += strideY {
		y1 := min(y+th, height)
		for x := 0; x < width; x += strideX {
			x1 := min(x+tw, width)
			tiles = append(tiles, [4]int{max(0, x1-tw), max(0, y1-th), x1, y1})
			if x1 >= width {
				break
			}
		}
		if y1 >= height {
			break
		}
	}
	return tiles, nil
}

var splitImageToTileList = node.New(node.Info{ID: "SplitImageToTileList", DisplayName: "Split Image into List of Tiles",
	Category: "image/batch", Module: modImages, Format: node.V3,
	Description:   "Splits an image into a batched list of tiles with a specified overlap.",
	SearchAliases: []string{"split image", "tile image", "slice image"}},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		tileW := s.Int("tile_width").Default(1024).Min(64).Max(maxResolution)
		tileH := s.Int("tile_height").Default(1024).Min(64).Max(maxResolution)
		overlap := s.Int("overlap").Default(128).Min(0).Max(4096)
		out := node.Output(s, node.Image, "IMAGE").List()
		return func(ctx context.Context, c *node.Call) error {
			img, err := getImage(c, image.In)
			if err != nil {
				return err
			}
			tiles, err := tileGrid(img.W, img.H, int(tileW.Get(c)), int(tileH.Get(c)), int(overlap.Get(c)))
			if err != nil {
				return err
			}
			list := make([]*tensor.Image, len(tiles))
			for i, t := range tiles {
				// Negative tile sizes (from links) make Python slices.
				y0, y1 := comfyutil.PySlice(t[1], t[3], img.H)
				x0, x1 := comfyutil.PySlice(t[0], t[2], img.W)
				list[i] = crop(img, y0, y1, x0, x1)
			}
			out.SetList(c, list)
			return nil
		}
	})

var imageMergeTileList = node.New(node.Info{ID: "ImageMergeTileList", DisplayName: "Merge List of Tiles to Image",
	Category: "image/batch", Module: modImages, Format: node.V3, InputIsList: true,
	SearchAliases: []string{"split image", "tile image", "slice image"}},
	func(s *node.Schema) node.RunFunc {
		images := node.Socket(s, node.Image, "image_list")
		finalW := s.Int("final_width").Default(1024).Min(64).Max(32768)
		finalH := s.Int("final_height").Default(1024).Min(64).Max(32768)
		overlap := s.Int("overlap").Default(128).Min(0).Max(4096)
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			tiles := images.List(c)
			ws, hs, ovs := finalW.List(c), finalH.List(c), overlap.List(c)
			if len(tiles) == 0 || len(ws) == 0 || len(hs) == 0 || len(ovs) == 0 {
				return node.Raise("IndexError", "list index out of range")
			}
			for _, t := range tiles {
				if t == nil || len(t.Pix) != t.B*t.H*t.W*t.C {
					return fmt.Errorf("input image_list is not a list of IMAGE")
				}
			}
			res, err := mergeTiles(tiles, int(ws[0]), int(hs[0]), int(ovs[0]))
			if err != nil {
				return err
			}
			out.Set(c, res)
			return nil
		}
	})

// mergeTiles places the tiles on the grid SplitImageToTileList made for a
// w×h image and averages the overlaps, each tile weighted by a sine window
// (flat when there is no overlap).
func mergeTiles(tiles []*tensor.Image, w, h, overlap int) (*tensor.Image, error) {
	first := tiles[0]
	grid, err := tileGrid(w, h, first.W, first.H, overlap)
	if err != nil {
		return nil, err
	}
	canvas, err := newImage(first.B, h, w, first.C)
	if err != nil {
		return nil, err
	}
	weights := make([]float32, first.B*h*w)
	wy, wx := sineWindow(first.H, overlap > 0), sineWindow(first.W, overlap > 0)
	for i, g := range grid[:min(len(grid), len(tiles))] {
		t := tiles[i]
		if (t.B != first.B && t.B != 1) || (t.C != first.C && t.C != 1) {
			return nil, fmt.Errorf("output with shape [%d, %d, %d, %d] doesn't match the broadcast shape [%d, %d, %d, %d]",
				first.B, first.H, first.W, first.C, max(first.B, t.B), first.H, first.W, max(first.C, t.C))
		}
		rh, rw := min(g[3]-g[1], t.H), min(g[2]-g[0], t.W)
		forRows(first.B, rh, rw*first.C, func(b, y int) {
			src := t.Pix[((b%t.B)*t.H+y)*t.W*t.C:]
			dst := canvas.Pix[((b*h+g[1]+y)*w+g[0])*first.C:]
			wrow := weights[(b*h+g[1]+y)*w+g[0]:]
			for x := range rw {
				m := float32(wy[y] * wx[x])
				for ch := range first.C {
					dst[x*first.C+ch] += float32(src[x*t.C+ch%t.C] * m)
				}
				wrow[x] += m
			}
		})
	}
	forEach(len(weights), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			wt := weights[p]
			if wt == 0 {
				wt = 1
			}
			px := canvas.Pix[p*first.C : (p+1)*first.C]
			for ch := range px {
				px[ch] /= wt
			}
		}
	})
	return canvas, nil
}

// sineWindow is clamp(sin(π·linspace(0, 1, n)), 1e-5) in float32, or ones.
func sineWindow(n int, sine bool) []float32 {
	win := make([]float32, n)
	for i := range win {
		win[i] = 1
		if sine {
			win[i] = max(float32(math.Sin(float64(float32(math.Pi)*linspace(0, 1, n, i)))), 1e-5)
		}
	}
	return win
}

// linspace is element i of torch.linspace(start, end, n) in float32: from
// the start for the first half, from the end for the second.
func linspace(start, end float32, n, i int) float32 {
	if n == 1 {
		return start
	}
	step := (end - start) / float32(n-1)
	if i < n/2 {
		return start + step*float32(i)
	}
	return end - step*float32(n-1-i)
}
