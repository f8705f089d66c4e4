package imagenode

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/tensor"
)

// The IMAGE nodes of comfy_extras.nodes_dataset that take one image batch
// (ImageProcessingNode subclasses with _process): experimental, with an
// "images" input and output. The ones that go through Pillow see the image
// as 8-bit first, as ComfyUI's tensor_to_pil makes it.

// modDataset is the python_module of the nodes_dataset classes.
const modDataset = "comfy_extras.nodes_dataset"

// datasetNode declares a nodes_dataset image node: inputs adds the extra
// inputs after "images", and process computes the output from the image.
func datasetNode(info node.Info, inputs func(s *node.Schema) func(c *node.Call, img *tensor.Image) (*tensor.Image, error)) *node.Class {
	info.Module, info.Format, info.Experimental = modDataset, node.V3, true
	return node.New(info, func(s *node.Schema) node.RunFunc {
		images := node.Socket(s, node.Image, "images").Tooltip("Image to process.")
		process := inputs(s)
		out := node.Output(s, node.Image, "images").Tooltip("Processed images")
		return func(ctx context.Context, c *node.Call) error {
			img, err := getImage(c, images.In)
			if err != nil {
				return err
			}
			res, err := process(c, img)
			if err != nil {
				return err
			}
			out.Set(c, res)
			return nil
		}
	})
}

// mapPixels returns f applied to every value of img, in parallel.
func mapPixels(img *tensor.Image, f func(v float32) float32) *tensor.Image {
	res := tensor.NewImage(img.B, img.H, img.W, img.C)
	forEach(len(img.Pix), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			res.Pix[i] = f(img.Pix[i])
		}
	})
	return res
}

var centerCropImages = datasetNode(node.Info{ID: "CenterCropImages", DisplayName: "Crop Image (Center)",
	Category: "image/transform", Description: "Center crop an image to the specified dimensions.",
	SearchAliases: []string{"crop", "cut", "trim"}},
	func(s *node.Schema) func(*node.Call, *tensor.Image) (*tensor.Image, error) {
		width := s.Int("width").Default(512).Min(1).Max(8192).Tooltip("Crop width.")
		height := s.Int("height").Default(512).Min(1).Max(8192).Tooltip("Crop height.")
		return func(c *node.Call, img *tensor.Image) (*tensor.Image, error) {
			if err := pilCompatible(img); err != nil {
				return nil, err
			}
			w, h := int(width.Get(c)), int(height.Get(c))
			left, top := max(0, floorDiv(img.W-w, 2)), max(0, floorDiv(img.H-h, 2))
			right, bottom := min(img.W, left+w), min(img.H, top+h)
			res := crop(img, top, bottom, left, right)
			for i, v := range res.Pix {
				res.Pix[i] = float32(toUint8(v)) / 255
			}
			return res, nil
		}
	})

// pilCompatible reports tensor_to_pil's failures: it hands Pillow one
// image as an H×W×C uint8 array, which Pillow takes with 2 (LA), 3 (RGB)
// or 4 (RGBA) channels only.
func pilCompatible(img *tensor.Image) error {
	if img.B != 1 || img.C < 2 || img.C > 4 {
		shape := fmt.Sprintf("(1, 1, %d)", img.C)
		if img.B != 1 {
			shape = fmt.Sprintf("(1, 1, 1, %d)", img.C)
		}
		return node.Raise("TypeError", "Cannot handle this data type: %s, |u1", shape)
	}
	return nil
}

// toUint8 is numpy's (v*255).clip(0, 255).astype(uint8) of a float32.
func toUint8(v float32) uint8 {
	x := v * 255
	switch {
	case x >= 255:
		return 255
	case !(x > 0):
		return 0
	}
	return uint8(x)
}

// floorDiv is Python's a // b for b > 0.
func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

var normalizeImages = datasetNode(node.Info{ID: "NormalizeImages", DisplayName: "Normalize Image Colors",
	Category: "image/color", Description: "Normalize images using mean and standard deviation.",
	SearchAliases: []string{"normalize", "normalize colors"}},
	func(s *node.Schema) func(*node.Call, *tensor.Image) (*tensor.Image, error) {
		mean := s.Float("mean").Default(0.5).Min(0).Max(1).Tooltip("Mean value for normalization.").Advanced()
		std := s.Float("std").Default(0.5).Min(0.001).Max(1).Tooltip("Standard deviation for normalization.").Advanced()
		return func(c *node.Call, img *tensor.Image) (*tensor.Image, error) {
			m, sd := float32(mean.Get(c)), float32(std.Get(c))
			return mapPixels(img, func(v float32) float32 { return (v - m) / sd }), nil
		}
	})

var adjustBrightness = datasetNode(node.Info{ID: "AdjustBrightness", DisplayName: "Adjust Brightness",
	Category: "image/adjustments", Description: "Adjust the brightness of an image.",
	SearchAliases: []string{"brightness"}},
	func(s *node.Schema) func(*node.Call, *tensor.Image) (*tensor.Image, error) {
		factor := s.Float("factor").Default(1).Min(0).Max(2).
			Tooltip("Brightness factor. 1.0 = no change, <1.0 = darker, >1.0 = brighter.")
		return func(c *node.Call, img *tensor.Image) (*tensor.Image, error) {
			f := float32(factor.Get(c))
			return mapPixels(img, func(v float32) float32 { return clamp01(v * f) }), nil
		}
	})

var adjustContrast = datasetNode(node.Info{ID: "AdjustContrast", DisplayName: "Adjust Contrast",
	Category: "image/adjustments", Description: "Adjust the contrast of an image.",
	SearchAliases: []string{"contrast"}},
	func(s *node.Schema) func(*node.Call, *tensor.Image) (*tensor.Image, error) {
		factor := s.Float("factor").Default(1).Min(0).Max(2).
			Tooltip("Contrast factor. 1.0 = no change, <1.0 = less contrast, >1.0 = more contrast.")
		return func(c *node.Call, img *tensor.Image) (*tensor.Image, error) {
			f := float32(factor.Get(c))
			return mapPixels(img, func(v float32) float32 { return clamp01(float32((v-0.5)*f) + 0.5) }), nil
		}
	})

// seedNumpy is np.random.seed(seed % (2**32 - 1)): numpy's legacy
// RandomState, whose integers come from MT19937 as torch's CPU ones do.
func seedNumpy(seed int64) *mt19937 {
	return newMT19937(uint32(uint64(seed) % (1<<32 - 1)))
}

// interval is numpy's legacy random_interval (and randint(0, max+1)): the
// first draw masked to max's bit length that is not above max.
func (g *mt19937) interval(max uint32) uint32 {
	if max == 0 {
		return 0
	}
	mask := max
	for s := uint(1); s < 32; s <<= 1 {
		mask |= mask >> s
	}
	for {
		if v := g.uint32() & mask; v <= max {
			return v
		}
	}
}

var randomCropImages = datasetNode(node.Info{ID: "RandomCropImages", DisplayName: "Crop Image (Random)",
	Category: "image/transform", Description: "Randomly crop an image to the specified dimensions.",
	SearchAliases: []string{"crop", "cut", "trim"}},
	func(s *node.Schema) func(*node.Call, *tensor.Image) (*tensor.Image, error) {
		width := s.Int("width").Default(512).Min(1).Max(8192).Tooltip("Crop width.")
		height := s.Int("height").Default(512).Min(1).Max(8192).Tooltip("Crop height.")
		seed := s.Int("seed").Default(0).Min(0).MaxUint64(math.MaxUint64).Tooltip("Random seed.")
		return func(c *node.Call, img *tensor.Image) (*tensor.Image, error) {
			g := seedNumpy(seed.Get(c))
			if err := pilCompatible(img); err != nil {
				return nil, err
			}
			w, h := int(width.Get(c)), int(height.Get(c))
			left, top := 0, 0
			if m := img.W - w; m > 0 {
				left = int(g.interval(uint32(m)))
			}
			if m := img.H - h; m > 0 {
				top = int(g.interval(uint32(m)))
			}
			res := crop(img, top, min(img.H, top+h), left, min(img.W, left+w))
			quantize8(res.Pix)
			return res, nil
		}
	})

// quantize8 is pil_to_tensor(tensor_to_pil(x)) without a resize: each value
// to 8 bits and back.
func quantize8(pix []float32) {
	for i, v := range pix {
		pix[i] = float32(toUint8(v)) / 255
	}
}

// pilLanczos is tensor_to_pil, Image.resize(LANCZOS) and pil_to_tensor on
// each image of img, which is comfy.utils.lanczos's arithmetic.
func pilLanczos(img *tensor.Image, w, h int) (*tensor.Image, error) {
	if err := pilCompatible(&tensor.Image{B: 1, C: img.C}); err != nil {
		return nil, err
	}
	if w <= 0 || h <= 0 {
		return nil, node.Raise("ValueError", "height and width must be > 0")
	}
	return scaleImage(img, w, h, "lanczos", false)
}

var resizeImagesByShorterEdge = datasetNode(node.Info{ID: "ResizeImagesByShorterEdge",
	DisplayName: "Resize Images by Shorter Edge (DEPRECATED)", Category: "image/transform",
	Description: "Resize images so that the shorter edge matches the specified dimension while preserving aspect ratio."},
	func(s *node.Schema) func(*node.Call, *tensor.Image) (*tensor.Image, error) {
		edge := s.Int("shorter_edge").Default(512).Min(1).Max(8192).Tooltip("Target dimension for the shorter edge.")
		return func(c *node.Call, img *tensor.Image) (*tensor.Image, error) {
			if err := pilCompatible(img); err != nil {
				return nil, err
			}
			if img.W == 0 || img.H == 0 {
				return nil, zeroDivision()
			}
			e := int(edge.Get(c))
			w, h := e, int(float64(img.H)*(float64(e)/float64(img.W)))
			if img.W >= img.H {
				w, h = int(float64(img.W)*(float64(e)/float64(img.H))), e
			}
			return pilLanczos(img, w, h)
		}
	})

var resizeImagesByLongerEdge = datasetNode(node.Info{ID: "ResizeImagesByLongerEdge",
	DisplayName: "Resize Images by Longer Edge (DEPRECATED)", Category: "image/transform",
	Description: "Resize images so that the longer edge matches the specified dimension while preserving aspect ratio."},
	func(s *node.Schema) func(*node.Call, *tensor.Image) (*tensor.Image, error) {
		edge := s.Int("longer_edge").Default(1024).Min(1).Max(8192).Tooltip("Target dimension for the longer edge.")
		return func(c *node.Call, img *tensor.Image) (*tensor.Image, error) {
			// Each image of the batch on its own, then concatenated: one size.
			if img.W == 0 || img.H == 0 {
				return nil, zeroDivision()
			}
			e := int(edge.Get(c))
			w, h := int(float64(img.W)*(float64(e)/float64(img.H))), e
			if img.W > img.H {
				w, h = e, int(float64(img.H)*(float64(e)/float64(img.W)))
			}
			return pilLanczos(img, w, h)
		}
	})

// datasetGroupNode declares a nodes_dataset node that takes its inputs as
// lists (a _group_process subclass): every image of every batch of the
// "images" list, one by one, goes to process, and the other inputs must
// each be a single value (ComfyUI passes a longer list on as a list, which
// its code then fails on).
func datasetGroupNode(info node.Info, listOut bool,
	inputs func(s *node.Schema) func(c *node.Call, frames []*tensor.Image) ([]*tensor.Image, error)) *node.Class {
	info.Module, info.Format, info.Experimental, info.InputIsList = modDataset, node.V3, true, true
	return node.New(info, func(s *node.Schema) node.RunFunc {
		images := node.Socket(s, node.Image, "images").Tooltip("List of images to process.")
		process := inputs(s)
		out := node.Output(s, node.Image, "images").Tooltip("Processed images")
		if listOut {
			out.List()
		}
		return func(ctx context.Context, c *node.Call) error {
			var frames []*tensor.Image
			for _, img := range images.List(c) {
				if img == nil || len(img.Pix) != img.B*img.H*img.W*img.C {
					return fmt.Errorf("input %s is not a list of IMAGE", images.Def().Name)
				}
				for b := range img.B {
					frames = append(frames, frameOf(img, b))
				}
			}
			res, err := process(c, frames)
			if err != nil {
				return err
			}
			if listOut {
				out.SetList(c, res)
			} else {
				out.Set(c, res[0])
			}
			return nil
		}
	})
}

// single is a group node's scalar input: its list must hold one value.
func single[T any](c *node.Call, in node.In[T]) (T, error) {
	vs := in.List(c)
	if len(vs) != 1 {
		var zero T
		return zero, node.Raise("TypeError", "input %s: expected one value, got a list of %d", in.Def().Name, len(vs))
	}
	return vs[0], nil
}

var shuffleDataset = datasetGroupNode(node.Info{ID: "ShuffleDataset", DisplayName: "Shuffle Images List",
	Category: "image/batch", Description: "Randomly shuffle the order of images in a list.",
	SearchAliases: []string{"shuffle", "randomize", "mix"}}, true,
	func(s *node.Schema) func(*node.Call, []*tensor.Image) ([]*tensor.Image, error) {
		seed := s.Int("seed").Default(0).Min(0).MaxUint64(math.MaxUint64).Tooltip("Random seed.")
		return func(c *node.Call, frames []*tensor.Image) ([]*tensor.Image, error) {
			sd, err := single(c, seed.In)
			if err != nil {
				return nil, err
			}
			// np.random.permutation: arange shuffled by Fisher-Yates from
			// the end.
			g := seedNumpy(sd)
			res := slices.Clone(frames)
			for i := len(res) - 1; i > 0; i-- {
				j := g.interval(uint32(i))
				res[i], res[j] = res[j], res[i]
			}
			return res, nil
		}
	})

var mergeImageLists = datasetGroupNode(node.Info{ID: "MergeImageLists", DisplayName: "Merge Image Lists (DEPRECATED)",
	Category: "image/batch", Description: "Concatenate multiple image lists into one.",
	SearchAliases: []string{"list", "merge list", "make list"}}, true,
	func(s *node.Schema) func(*node.Call, []*tensor.Image) ([]*tensor.Image, error) {
		return func(_ *node.Call, frames []*tensor.Image) ([]*tensor.Image, error) { return frames, nil }
	})

var imageDeduplication = datasetGroupNode(node.Info{ID: "ImageDeduplication", DisplayName: "Deduplicate Images",
	Category: "image/batch", Description: "Remove duplicate or very similar images from a list.",
	SearchAliases: []string{"deduplicate", "remove duplicates", "similarity filter"}}, true,
	func(s *node.Schema) func(*node.Call, []*tensor.Image) ([]*tensor.Image, error) {
		threshold := s.Float("similarity_threshold").Default(0.95).Min(0).Max(1).
			Tooltip("Similarity threshold (0-1). Higher means more similar. Images above this threshold are considered duplicates.").
			Advanced()
		return func(c *node.Call, frames []*tensor.Image) ([]*tensor.Image, error) {
			t, err := single(c, threshold.In)
			if err != nil {
				return nil, err
			}
			hashes := make([]uint64, len(frames))
			for i, f := range frames {
				if hashes[i], err = averageHash(f); err != nil {
					return nil, err
				}
			}
			var keep []int
			for i := range frames {
				dup := false
				for _, k := range keep {
					if 1-float64(bits.OnesCount64(hashes[i]^hashes[k]))/64 >= t {
						dup = true
						break
					}
				}
				if !dup {
					keep = append(keep, i)
				}
			}
			res := make([]*tensor.Image, len(keep))
			for i, k := range keep {
				res[i] = frames[k]
			}
			return res, nil
		}
	})

// averageHash is ImageDeduplication's perceptual hash: the image at 8×8 by
// Pillow's LANCZOS, converted to L, one bit per pixel above the mean (the
// first pixel in the highest bit).
func averageHash(img *tensor.Image) (uint64, error) {
	small, err := pilLanczos(img, 8, 8)
	if err != nil {
		return 0, err
	}
	var grey [64]int
	sum := 0
	for p := range grey {
		px := small.Pix[p*img.C:][:img.C]
		// The values are bytes/255 again: round, not truncate, back.
		if img.C == 2 { // LA: the L channel
			grey[p] = int(px[0]*255 + 0.5)
		} else { // Pillow's rgb2l: fixed-point ITU-R 601 luma
			r, g, b := int(px[0]*255+0.5), int(px[1]*255+0.5), int(px[2]*255+0.5)
			grey[p] = (r*19595 + g*38470 + b*7471 + 0x8000) >> 16
		}
		sum += grey[p]
	}
	avg := float64(sum) / 64
	var h uint64
	for _, v := range grey {
		h <<= 1
		if float64(v) > avg {
			h |= 1
		}
	}
	return h, nil
}

var imageGrid = datasetGroupNode(node.Info{ID: "ImageGrid", DisplayName: "Make Image Grid",
	Category: "image/batch", Description: "Arrange multiple images into a grid layout.",
	SearchAliases: []string{"grid", "collage", "combine"}}, false,
	func(s *node.Schema) func(*node.Call, []*tensor.Image) ([]*tensor.Image, error) {
		columns := s.Int("columns").Default(4).Min(1).Max(20).Tooltip("Number of columns in the grid.")
		cellW := s.Int("cell_width").Default(256).Min(32).Max(2048).Tooltip("Width of each cell in the grid.").Advanced()
		cellH := s.Int("cell_height").Default(256).Min(32).Max(2048).Tooltip("Height of each cell in the grid.").Advanced()
		padding := s.Int("padding").Default(4).Min(0).Max(50).Tooltip("Padding between images.").Advanced()
		return func(c *node.Call, frames []*tensor.Image) ([]*tensor.Image, error) {
			var v [4]int64
			for i, in := range []node.In[int64]{columns.In, cellW.In, cellH.In, padding.In} {
				x, err := single(c, in)
				if err != nil {
					return nil, err
				}
				v[i] = x
			}
			cols, cw, ch, pad := int(v[0]), int(v[1]), int(v[2]), int(v[3])
			if len(frames) == 0 {
				return nil, node.Raise("ValueError", "Cannot create grid from empty image list")
			}
			if cols <= 0 || cw <= 0 || ch <= 0 || pad < 0 {
				return nil, node.Raise("ValueError", "columns, cell sizes and padding out of range")
			}
			rows := (len(frames) + cols - 1) / cols
			grid, err := newImage(1, rows*ch+(rows-1)*pad, cols*cw+(cols-1)*pad, 3)
			if err != nil {
				return nil, err
			}
			for i, f := range frames {
				cell, err := pilLanczos(f, cw, ch)
				if err != nil {
					return nil, err
				}
				// Pasting converts to RGB: alpha dropped, L repeated.
				rgb := withChannels(cell, 3, 0)
				if f.C == 2 {
					for p := range cw * ch {
						rgb.Pix[p*3+1], rgb.Pix[p*3+2] = rgb.Pix[p*3], rgb.Pix[p*3]
					}
				}
				paste(grid, rgb, i/cols*(ch+pad), i%cols*(cw+pad))
			}
			return []*tensor.Image{grid}, nil
		}
	})
