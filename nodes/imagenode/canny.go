package imagenode

import (
	"context"
	"fmt"
	"math"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
	"github.com/gocomfy/gocomfy/tensor"
)

// modCanny is Canny's python_module.
const modCanny = "comfy_extras.nodes_canny"

var cannyNode = node.New(node.Info{ID: "Canny", DisplayName: "Detect Edges (Canny)", Category: "image/filters",
	Module: modCanny, Format: node.V3, EssentialsCategory: "Image Tools",
	SearchAliases: []string{"edge detection", "outline", "contour detection", "line art"}},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		low := s.Float("low_threshold").Default(0.4).Min(0.01).Max(0.99).Step(0.01)
		high := s.Float("high_threshold").Default(0.8).Min(0.01).Max(0.99).Step(0.01)
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			img, err := getImage(c, image.In)
			if err != nil {
				return err
			}
			res, err := canny(img, low.Get(c), high.Get(c))
			if err != nil {
				return err
			}
			out.Set(c, res)
			return nil
		}
	})

// canny is kornia.filters.canny with its defaults (5×5 Gaussian of sigma 1,
// hysteresis on), as ComfyUI calls it, with the edges repeated to three
// channels:
//
//   - RGB becomes grey (0.299, 0.587, 0.114); one channel is used as is;
//   - a separable 5-tap Gaussian, reflect-padded, rows then columns;
//   - Sobel gradients over the edge-replicated image;
//   - magnitude √(gx²+gy²+1e-6) and the direction rounded to 45°;
//   - non-maximum suppression: a pixel stays if its magnitude is larger than
//     both neighbours along that direction (0 outside the image);
//   - above high_threshold is strong, above low_threshold weak, and weak
//     pixels 8-connected through weak pixels to a strong one become edges.
//
// kornia's hysteresis repeats a one-step growth until nothing changes; the
// flood fill here reaches the same fixed point. The arithmetic is float32 in
// kornia's order, except that torch's convolutions may sum their terms in
// another order, so a magnitude lying within a few ulps of a threshold or of
// its neighbour can fall the other way.
func canny(img *tensor.Image, low, high float64) (*tensor.Image, error) {
	if low > high {
		return nil, node.Raise("ValueError", "Invalid input thresholds. low_threshold should be smaller than the high_threshold. Got: %s>%s",
			pyjson.FormatFloat(low), pyjson.FormatFloat(high))
	}
	ch := img.C
	if ch == 3 {
		ch = 1
	}
	// torch's reflect padding needs more pixels than it pads (rows first).
	dims := fmt.Sprintf("[%d, %d, %d, %d]", img.B, ch, img.H, img.W)
	switch {
	case img.W <= 2:
		return nil, fmt.Errorf("Argument #4: Padding size should be less than the corresponding input dimension, but got: padding (2, 2) at dimension 3 of input %s", dims)
	case img.H <= 2:
		return nil, fmt.Errorf("Argument #6: Padding size should be less than the corresponding input dimension, but got: padding (2, 2) at dimension 2 of input %s", dims)
	case ch != 1:
		return nil, fmt.Errorf("Given groups=1, weight of size [8, 1, 3, 3], expected input%s to have 1 channels, but got %d channels instead", dims, ch)
	}
	res, err := newImage(img.B, img.H, img.W, 3)
	if err != nil {
		return nil, err
	}
	h, w, n := img.H, img.W, img.H*img.W
	// Two planes of scratch reused by the passes: a then b hold grey and
	// row-blurred, blurred and magnitude; dir holds the directions and
	// later the edge classes.
	a := make([]float32, img.B*n)
	b := make([]float32, img.B*n)
	dir := make([]uint8, img.B*n)

	g := cannyGaussian()
	xs, ys := reflectIndex(w, 2), reflectIndex(h, 2)
	forRows(img.B, h, w*8, func(bi, y int) {
		row := a[(bi*h+y)*w:][:w]
		grey := b[(bi*h+y)*w:][:w]
		src := img.Pix[(bi*h+y)*w*img.C:][:w*img.C]
		for x := range grey {
			if img.C == 3 {
				p := src[x*3:][:3]
				grey[x] = float32(float32(0.299)*p[0]) + float32(float32(0.587)*p[1])
				grey[x] += float32(float32(0.114) * p[2])
			} else {
				grey[x] = src[x]
			}
		}
		for x := range row {
			var acc float32
			for i, wi := range g {
				acc += float32(wi * grey[xs[x+i]])
			}
			row[x] = acc
		}
	})
	forRows(img.B, h, w*5, func(bi, y int) {
		dst := b[(bi*h+y)*w:][:w]
		clear(dst)
		for j, wj := range g {
			src := a[(bi*h+ys[y+j])*w:][:w]
			for x, v := range src {
				dst[x] += float32(wj * v)
			}
		}
	})
	// Sobel over b into magnitudes in a and directions in dir.
	eps := float32(1e-6)
	forRows(img.B, h, w*16, func(bi, y int) {
		plane := b[bi*n:][:n]
		up, mid, down := plane[max(y-1, 0)*w:][:w], plane[y*w:][:w], plane[min(y+1, h-1)*w:][:w]
		mag := a[(bi*h+y)*w:][:w]
		dirs := dir[(bi*h+y)*w:][:w]
		for x := range mag {
			l, r := max(x-1, 0), min(x+1, w-1)
			gx := -up[l] + up[r]
			gx = gx - float32(2*mid[l]) + float32(2*mid[r])
			gx = gx - down[l] + down[r]
			gy := -up[l] - float32(2*up[x]) - up[r]
			gy = gy + down[l] + float32(2*down[x]) + down[r]
			mag[x] = float32(math.Sqrt(float64(float32(float32(gx*gx)+float32(gy*gy)) + eps)))
			deg := float32(float32(180*float32(math.Atan2(float64(gy), float64(gx)))) / float32(math.Pi))
			k := int(math.RoundToEven(float64(deg / 45)))
			dirs[x] = uint8((k%8 + 8) % 8)
		}
	})
	// Non-maximum suppression and thresholds: dir becomes 0 (none), 1 (weak)
	// or 2 (strong); b is free again.
	lo, hi := float32(low), float32(high)
	forRows(img.B, h, w*4, func(bi, y int) {
		plane := a[bi*n:][:n]
		at := func(y, x int) float32 {
			if y < 0 || y >= h || x < 0 || x >= w {
				return 0
			}
			return plane[y*w+x]
		}
		cls := dir[(bi*h+y)*w:][:w]
		for x, d := range cls {
			m := plane[y*w+x]
			o := cannyNeighbours[d]
			if !(m > at(y+o[0], x+o[1]) && m > at(y-o[0], x-o[1])) {
				m = 0
			}
			switch {
			case m > hi:
				cls[x] = 2
			case m > lo:
				cls[x] = 1
			default:
				cls[x] = 0
			}
		}
	})
	forEach(img.B, func(lo, hi int) {
		for bi := lo; bi < hi; bi++ {
			hysteresis(dir[bi*n:][:n], h, w)
		}
	})
	forEach(img.B*n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := float32(0)
			if dir[i] == 2 {
				v = 1
			}
			p := res.Pix[i*3:][:3]
			p[0], p[1], p[2] = v, v, v
		}
	})
	return res, nil
}

// cannyNeighbours are the (dy, dx) offsets of kornia's NMS kernels, indexed
// by the direction in steps of 45° (0 is +x, 2 is +y).
var cannyNeighbours = [8][2]int{{0, 1}, {1, 1}, {1, 0}, {1, -1}, {0, -1}, {-1, -1}, {-1, 0}, {-1, 1}}

// cannyGaussian is kornia's gaussian(5, 1): exp(-x²/2) at x = -2…2,
// divided by its sum, in float32.
func cannyGaussian() []float32 {
	g := make([]float32, 5)
	var sum float32
	for i := range g {
		x := float32(i - 2)
		g[i] = float32(math.Exp(float64(-float32(x*x) / 2)))
		sum += g[i]
	}
	for i := range g {
		g[i] /= sum
	}
	return g
}

// hysteresis turns the weak pixels (1) of one image that are 8-connected
// through weak pixels to a strong one (2) into strong ones.
func hysteresis(cls []uint8, h, w int) {
	var stack []int
	for i, c := range cls {
		if c == 2 {
			stack = append(stack, i)
		}
	}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		y, x := i/w, i%w
		for dy := -1; dy <= 1; dy++ {
			for dx := -1; dx <= 1; dx++ {
				ny, nx := y+dy, x+dx
				if ny < 0 || ny >= h || nx < 0 || nx >= w {
					continue
				}
				if j := ny*w + nx; cls[j] == 1 {
					cls[j] = 2
					stack = append(stack, j)
				}
			}
		}
	}
}
